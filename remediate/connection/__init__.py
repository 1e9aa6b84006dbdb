"""Connections: one shape for every transport, and the dry-run guard that no remediation can forget.

:meth:`Connection.run` is the only way to run anything remote. It refuses a mutating operation in dry-run
before anything is sent, retries transient transport failures with the retry policy, logs one event per
remote operation, and turns a script's own failure into :class:`RemoteScriptError`. Transports implement
:meth:`Connection._execute` and know nothing about what the scripts do.

At most once: a read-only operation is retried after any transient failure, a mutating one only when the
failure certainly came before its command was sent (refused, TLS or SSH handshake, shell or channel not
opened). A transport calls :meth:`Connection._mark_sent` the moment the command may have started; a failure
after that point of a mutating operation is never re-sent: the transport stops what it can
(:meth:`Connection._abandon`) and :class:`OutcomeUnknown` is raised, for the runner to read the state again.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from remediate.errors import (
    AuthenticationError,
    ConnectionFailure,
    DryRunRefused,
    HostKeyError,
    HostTimeout,
    OutcomeUnknown,
    RemediateError,
    RemoteScriptError,
    TLSVerificationError,
)
from remediate.log import get_logger
from remediate.operation import Operation, Result, batch
from remediate.retry import RetryPolicy

if TYPE_CHECKING:
    import tenacity

    from remediate.inventory.host import Host


@dataclass
class ConnectOptions:
    """Run-wide connection settings; a host's inventory vars refine them."""

    dry_run: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = 15.0
    command_timeout: float = 600.0
    deadline: float | None = None  # time.monotonic() value after which the host is out of time
    # TLS / host keys: checked by default. Turning a check off is explicit and logged loudly.
    ca_bundle: str | None = None
    insecure_skip_tls_verify: bool = False
    known_hosts: str | None = None
    accept_new_host_keys: bool = False
    # Credentials: only references. The CLI fills password_env / a prompt; nothing here is logged.
    user: str | None = None
    password_env: str | None = None
    ssh_key_file: str | None = None
    become: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class OpRecord:
    """What the report keeps of one remote operation."""

    script: str
    mutating: bool
    attempts: int
    duration: float
    exit_code: int | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Connection(ABC):
    """A connection to one host. Use as a context manager; it opens lazily on the first operation."""

    kind: ClassVar[str] = ""
    #: True where the transport sends a batch of read-only operations as one remote command (see run_many)
    batches: ClassVar[bool] = False

    def __init__(self, host: Host, options: ConnectOptions | None = None, log: Any = None) -> None:
        self.host = host
        self.options = options or ConnectOptions()
        self.log = log or get_logger("remediate.remote", host=host.name)
        self.records: list[OpRecord] = []
        self._command_sent = False

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, op: Operation, *, check: bool = True) -> Result:
        """Run one operation. Raises :class:`DryRunRefused` for a mutating one in dry-run, nothing sent."""
        if op.mutating and self.options.dry_run:
            self.log.warning("dry_run_refused", operation=op.script)
            raise DryRunRefused(
                f"refused to run the mutating operation {op.script} in dry-run",
                host=self.host.name,
                step=op.script,
            )
        attempts = 0
        started = time.monotonic()

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.log.warning(
                "remote_op_retry",
                operation=op.script,
                attempt=state.attempt_number,
                error=str(exc),
                sleep=round(state.next_action.sleep, 2) if state.next_action else None,
            )

        result: Result | None = None
        try:
            for attempt in self.options.retry.retrying(before_sleep):
                with attempt:
                    attempts += 1
                    self._check_deadline(op)
                    t0 = time.monotonic()
                    self._command_sent = False
                    try:
                        result = self._execute(op)
                    except ConnectionFailure as exc:
                        if op.mutating and self._command_sent and not isinstance(exc, _BEFORE_SENDING):
                            raise self._outcome_unknown(op, exc) from None
                        raise
                    result.duration = time.monotonic() - t0
        except Exception as exc:
            duration = time.monotonic() - started
            self.records.append(OpRecord(op.script, op.mutating, attempts, duration, None, str(exc)))
            self.log.error(
                "remote_op",
                operation=op.script,
                mutating=op.mutating,
                attempt=attempts,
                duration=round(duration, 3),
                error=type(exc).__name__,
            )
            if hasattr(exc, "host") and getattr(exc, "host", None) is None:
                exc.host = self.host.name  # type: ignore[attr-defined]
            if hasattr(exc, "step") and getattr(exc, "step", None) is None:
                exc.step = op.script  # type: ignore[attr-defined]
            raise
        assert result is not None
        result.attempts = attempts
        self.records.append(OpRecord(op.script, op.mutating, attempts, result.duration, result.exited))
        self.log.info(
            "remote_op",
            operation=op.script,
            mutating=op.mutating,
            attempt=attempts,
            duration=round(result.duration, 3),
            exit_code=result.exited,
        )
        if check and result.failed:
            raise self._script_error(op, result)
        return result

    def _mark_sent(self) -> None:
        """Transports call this the moment an operation's command may have started on the host."""
        self._command_sent = True

    def _outcome_unknown(self, op: Operation, exc: ConnectionFailure) -> OutcomeUnknown:
        """A mutating command may have run and its answer is lost: stop it where possible, never send it again."""
        self.log.warning(
            "outcome_unknown",
            operation=op.script,
            error=type(exc).__name__,
            note="the mutating command may have run; it is not sent again, the state is read again instead",
        )
        try:
            self._abandon(op)
        except Exception as failure:  # stopping is best effort: the state is read again in any case
            self.log.debug("abandon_failed", operation=op.script, error=type(failure).__name__)
        return OutcomeUnknown(
            f"the connection failed after the mutating command was sent, so it may have run: {exc.message}",
            host=self.host.name,
            step=op.script,
            remote=exc.remote,
            cause=type(exc).__name__,
        )

    def _abandon(self, op: Operation) -> None:  # noqa: B027 - optional for transports
        """Stop the command of an operation whose outcome is unknown (where the transport can), and forget the
        connection so that the next operation reconnects."""

    def run_many(self, ops: Sequence[Operation], *, check: bool = True) -> list[Result]:
        """Read-only operations in order, their results in the same order. Where the transport can (WinRM), they
        go as one remote command: one round trip for a remediation's whole check instead of one per script.
        A mutating operation is never batched (it runs alone, at most once, journaled before it is sent)."""
        ops = list(ops)
        if len(ops) < 2 or not self.batches or any(op.mutating for op in ops) or len({op.shell for op in ops}) > 1:
            return [self.run(op, check=check) for op in ops]
        whole = self.run(batch(ops), check=False)
        parts = whole.parts
        if len(parts) != len(ops):  # a transport that answered the batch as one result: it failed as a whole
            parts = [whole] * len(ops)
        for op, part in zip(ops, parts, strict=True):
            part.duration, part.attempts = whole.duration, whole.attempts
            if check and part.failed:
                raise self._script_error(op, part)
        return parts

    def _script_error(self, op: Operation, result: Result) -> RemoteScriptError:
        return RemoteScriptError(
            f"the remote script failed with exit code {result.exited}",
            host=self.host.name,
            step=op.script,
            remote=self.remote_message(result),
            exit_code=result.exited,
            hint="read what the remote side said; fix that on the host, or run again with --log-level debug",
        )

    def remaining(self) -> float | None:
        if self.options.deadline is None:
            return None
        return self.options.deadline - time.monotonic()

    def op_timeout(self, op: Operation) -> float:
        """The time an operation may take: its own limit, the run's, and what is left of the host's."""
        limit = op.timeout or self.options.command_timeout
        left = self.remaining()
        return max(1.0, min(limit, left)) if left is not None else limit

    def _check_deadline(self, op: Operation) -> None:
        left = self.remaining()
        if left is not None and left <= 0:
            raise HostTimeout("the per-host time limit ran out", host=self.host.name, step=op.script)

    @staticmethod
    def remote_message(result: Result) -> str:
        """The remote side's own words about a failure."""
        if result.error:
            return result.error
        text = (result.stderr or result.stdout or "").strip()
        return text[-2000:] if text else f"exit code {result.exited}, no output"

    @abstractmethod
    def _execute(self, op: Operation) -> Result:
        """Send one operation and return its result. On a transport failure raise TransientError (and leave
        the connection able to reconnect), AuthenticationError, HostKeyError or TLSVerificationError."""

    def close(self) -> None:  # noqa: B027 - optional for transports
        """Release the transport (the shell, the SSH session)."""


# Failures that only happen before a command is sent, whatever the transport says about when they came.
_BEFORE_SENDING = (AuthenticationError, HostKeyError, TLSVerificationError)


class NotRunning(Connection):
    """A VM that is not running (stopped, deallocated): reported, never contacted."""

    kind: ClassVar[str] = "not-running"

    def _execute(self, op: Operation) -> Result:
        from remediate.errors import ConnectionFailure

        power = str(self.host.vars.get("azure_power_state") or "").removeprefix("VM ")
        raise ConnectionFailure(
            f"the VM is {power}: not tried",
            host=self.host.name,
            step=op.script,
            hint="start the VM (or leave it: a stopped VM's backup does not need the guest)",
        )


def transport(kind: str) -> type[Connection]:
    """The connection class of a transport (``winrm``, ``ssh``, ``azure-runcommand``, ``azure-arm``), its modules
    imported on first use."""
    from remediate.errors import ConfigError

    if kind == "winrm":
        from remediate.connection.winrm import WinRMConnection

        return WinRMConnection
    if kind == "ssh":
        from remediate.connection.ssh import SSHConnection

        return SSHConnection
    if kind == "azure-runcommand":
        from remediate.connection.runcommand import RunCommandConnection

        return RunCommandConnection
    if kind == "azure-arm":
        from remediate.connection.arm import ARMConnection

        return ARMConnection
    raise ConfigError(f"unknown connection {kind!r}", hint="use winrm, ssh, azure-runcommand or azure-arm")


def preload(hosts: Sequence[Host]) -> None:
    """Import the transports these hosts need, once, before a pool of threads starts: otherwise every worker
    but the first waits on the import lock while one imports requests, pyspnego or paramiko."""
    for kind in sorted({h.transport for h in hosts}):
        with contextlib.suppress(RemediateError):
            transport(kind)


def connect(host: Host, options: ConnectOptions | None = None, log: Any = None) -> Connection:
    """The connection for a host: WinRM, SSH, Run Command or ARM, from the host's settings or its OS. A VM that
    the inventory knows is not running gets a connection that reports it, never contacting it."""
    from remediate.errors import ConfigError

    power = str(host.vars.get("azure_power_state") or "").removeprefix("VM ").lower()
    if power and power != "running":
        return NotRunning(host, options, log)
    try:
        cls = transport(host.transport)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message} for host {host.name}", hint="use winrm, ssh, azure-runcommand or azure-arm"
        ) from None
    return cls(host, options, log)
