"""WinRM: every operation runs the fixed bootstrap in ONE WinRS shell per connection, with pywinrm's Protocol.

The command line is always the same (``powershell.exe ... -EncodedCommand <bootstrap>``, far below Windows'
8191-character limit); the operation (envelope, arguments as base64 JSON, script text) goes on stdin. We wait
for the output with our own deadline: a WS-Management operation timeout only means "still running". Stdin is
a pipe (``WINRS_CONSOLEMODE_STDIN=FALSE``), so the bootstrap sees its end. A host whose PowerShell runs in
ConstrainedLanguage (AppLocker, WDAC) is reported as such, with what to do, before anything else runs.

Endpoint from the host: ``address``/``port`` and the vars ``winrm_scheme`` (https), ``winrm_path`` (/wsman),
``winrm_transport`` (ntlm), ``winrm_message_encryption`` (auto), ``winrm_server_cert_validation``
(validate), ``winrm_ca_trust_path``, ``winrm_codepage``, ``winrm_operation_timeout``, ``winrm_read_timeout``
and ``winrm_allow_basic_over_http``. Failures are mapped onto remediate's errors: refused, reset, timed out or
a 5xx is a :class:`TransientError` (the shell is dropped so the next attempt reconnects), a 401 an
:class:`AuthenticationError`, a certificate that does not validate a :class:`TLSVerificationError`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from winrm.exceptions import AuthenticationError as WinRMAuthenticationError
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol
from winrm.transport import Transport

from remediate import scripts
from remediate.connection import Connection, ConnectOptions, clixml
from remediate.connection.codepage import decode_console, encoding_for
from remediate.credentials import password_for, user_for
from remediate.errors import (
    AuthenticationError,
    ConfigError,
    ConnectionFailure,
    RemediateError,
    RemoteScriptError,
    TLSVerificationError,
    TransientError,
)
from remediate.log import register_secret, scrub
from remediate.operation import Operation, Result

if TYPE_CHECKING:
    from remediate.inventory.host import Host

TRANSPORTS = ("ntlm", "basic", "kerberos", "credssp", "certificate")
SHELL_CODEPAGE = 65001  # ask WinRS for UTF-8 console output; decode_console copes when a program ignores it
# WSManFault codes: the shell is gone (service restarted, idle timeout) or a per-user quota is full.
RETRY_FAULTS = {2150858843, 2150859174, 2150859173, 2150858793}
ACCESS_DENIED_FAULT = 5
RESTRICTED_LANGUAGE_HINT = (
    "where AppLocker enforces script rules, allow scripts for the account remediate logs on with (PowerShell "
    "tests a script in that account's %TEMP%; AppLocker's default rules allow BUILTIN\\Administrators every "
    "script); where WDAC does, only a policy without script enforcement (option 'Disabled:Script Enforcement') "
    "lets them run; otherwise apply the fix by hand in a FullLanguage session on the host"
)
NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach a host's WinRM listener (no secret in here)."""

    url: str
    scheme: str
    transport: str
    message_encryption: str
    validate_tls: bool
    ca_trust_path: str | None
    operation_timeout: int
    read_timeout: int
    codepage: str | None

    @classmethod
    def of(cls, host: Host, options: ConnectOptions) -> Endpoint:
        v = host.vars
        scheme = str(v.get("winrm_scheme") or "https").lower()
        if scheme not in ("http", "https"):
            raise ConfigError(f"winrm_scheme must be http or https, not {scheme!r}", host=host.name, step="connect")
        transport = str(v.get("winrm_transport") or "ntlm").lower()
        if transport not in TRANSPORTS:
            raise ConfigError(
                f"winrm_transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}",
                host=host.name,
                step="connect",
            )
        if transport == "basic" and scheme == "http" and not _truthy(v.get("winrm_allow_basic_over_http", False)):
            raise ConfigError(
                "Basic authentication over plain HTTP would send the password readable on the network",
                host=host.name,
                step="connect",
                hint="use winrm_scheme: https (or ntlm), or set winrm_allow_basic_over_http: true if you must",
            )
        encryption = str(v.get("winrm_message_encryption") or "auto").lower()
        if encryption not in ("auto", "always", "never"):
            raise ConfigError("winrm_message_encryption must be auto, always or never", host=host.name, step="connect")
        validation = str(v.get("winrm_server_cert_validation") or "validate").lower()
        if validation not in ("validate", "ignore"):
            raise ConfigError("winrm_server_cert_validation must be validate or ignore", host=host.name, step="connect")
        try:
            op_timeout = int(v.get("winrm_operation_timeout") or 20)
            read_timeout = int(v.get("winrm_read_timeout") or max(30, op_timeout + 10))
        except (TypeError, ValueError):
            raise ConfigError(
                "winrm_operation_timeout and winrm_read_timeout are whole seconds", host=host.name, step="connect"
            ) from None
        if op_timeout < 1 or read_timeout <= op_timeout:
            raise ConfigError(
                "winrm_read_timeout must exceed winrm_operation_timeout, and both must be positive",
                host=host.name,
                step="connect",
            )
        codepage = v.get("winrm_codepage")
        if codepage not in (None, "") and encoding_for(codepage) is None:
            raise ConfigError(f"winrm_codepage {codepage!r} is not a known code page", host=host.name, step="connect")
        port = int(host.port or (5986 if scheme == "https" else 5985))
        address = host.target
        if ":" in address and not address.startswith("["):
            address = f"[{address}]"
        path = str(v.get("winrm_path") or "/wsman")
        if not path.startswith("/"):
            path = "/" + path
        return cls(
            url=f"{scheme}://{address}:{port}{path}",
            scheme=scheme,
            transport=transport,
            message_encryption=encryption,
            validate_tls=not (options.insecure_skip_tls_verify or validation == "ignore"),
            ca_trust_path=str(v.get("winrm_ca_trust_path") or options.ca_bundle or "") or None,
            operation_timeout=op_timeout,
            read_timeout=read_timeout,
            codepage=str(codepage) if codepage not in (None, "") else None,
        )


@functools.lru_cache(maxsize=16)
def ntlm_hashes(password: str) -> str:
    """The password's LM and NT one-way hashes as ``LM:NT`` in hex, computed once per process and password.

    pyspnego derives both from the password for every new NTLM context, in pure Python (DES for the LM hash:
    ~0.7 ms per host); given ``LM:NT`` it uses them as they are (its documented pass-the-hash form). The
    result is as secret as the password and registered as such.
    """
    try:
        from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
    except ImportError:  # another pyspnego: it derives them itself
        return password
    hashes = f"{lmowfv1(password).hex()}:{ntowfv1(password).hex()}"
    register_secret(hashes)
    return hashes


def _sessions_ignore_the_environment(transport: Transport) -> None:
    """Make the transport's requests sessions ignore proxies and never touch ``os.environ``.

    With ``proxy=None`` pywinrm gives requests ``no_proxy='*'``, and requests then sets and deletes ``no_proxy``
    in the process environment around every request (psf/requests#4997): with hosts in parallel threads that
    raises ``KeyError: 'no_proxy'`` or leaves ``no_proxy=*`` behind. Here the session is built with
    ``proxy="legacy_requests"`` (which only reads the environment) and message encryption held back, then
    ``trust_env`` is turned off and the proxies emptied before the first request; the encryption context is
    set up after that, as pywinrm would have. A CA bundle from ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``
    still counts when no winrm_ca_trust_path is given, as before.
    """
    build = transport.build_session
    wanted = transport.message_encryption

    def build_session() -> requests.Session:
        if transport.session is not None:
            return transport.session
        transport.message_encryption = "never"
        try:
            session = build()
        finally:
            transport.message_encryption = wanted
        session.trust_env = False
        session.proxies = {}
        if session.verify is True:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                session.verify = bundle
        available = _encryption_available(transport.auth_method, session)
        if wanted == "always" and not available:
            transport.session = None
            raise WinRMError(f"message encryption is set to 'always' but {transport.auth_method} does not support it")
        if available and (
            wanted == "always" or (wanted == "auto" and not transport.endpoint.lower().startswith("https"))
        ):
            transport.setup_encryption(session)
        return session

    transport.build_session = build_session  # type: ignore[method-assign]


def _encryption_available(auth_method: str, session: requests.Session) -> bool:
    """Whether pywinrm can encrypt messages with this authentication (its own test, in build_session)."""
    if auth_method == "ntlm":
        return hasattr(session.auth, "session_security")
    if auth_method == "kerberos":
        return bool(getattr(session.auth, "winrm_encryption_available", False))
    return auth_method == "credssp"


class WinRMConnection(Connection):
    """A WinRM connection: one shell, opened on the first operation and reused by every later one."""

    kind = "winrm"
    batches = True

    def __init__(self, host: Host, options: ConnectOptions | None = None, log: Any = None) -> None:
        super().__init__(host, options, log)
        self.endpoint = Endpoint.of(host, self.options)
        self._protocol: Protocol | None = None
        self._shell_id: str | None = None
        self._learned_codepage: int | None = None
        self._inflight: tuple[str, str | None] | None = None  # (shell, command) of the operation being run
        self._unsignalled: str | None = None  # a finished command not yet released (see _execute)
        self.shells_opened = 0

    # -- the shell -----------------------------------------------------------------------------------------------
    @property
    def codepage_hint(self) -> str | int | None:
        return self.endpoint.codepage or self._learned_codepage

    def _new_protocol(self) -> Protocol:
        ep = self.endpoint
        user = user_for(self.host, self.options)
        if not user and ep.transport != "certificate":
            raise ConfigError(
                "no user name for WinRM", host=self.host.name, step="connect", hint="set user in the inventory"
            )
        password = password_for(self.host, self.options)
        if password is None and ep.transport not in ("certificate", "kerberos"):
            raise ConfigError(
                "no password for WinRM",
                host=self.host.name,
                step="connect",
                hint="set password_env or password_file for the host, or export REMEDIATE_PASSWORD",
            )
        if not ep.validate_tls and ep.scheme == "https":
            self.log.warning(
                "tls_verification_disabled",
                endpoint=ep.url,
                warning="the WinRM server's certificate is NOT validated: anyone on the path can read the "
                "credentials and the commands",
            )
        kwargs: dict[str, Any] = {}
        if ep.transport == "certificate":
            kwargs["cert_pem"] = self.host.vars.get("winrm_cert_pem")
            kwargs["cert_key_pem"] = self.host.vars.get("winrm_cert_key_pem")
        if ep.transport == "ntlm" and password:
            password = ntlm_hashes(password)
        try:
            protocol = Protocol(
                ep.url,
                transport=ep.transport,  # type: ignore[arg-type]
                username=user,
                password=password,
                server_cert_validation="validate" if ep.validate_tls else "ignore",
                ca_trust_path=ep.ca_trust_path,  # type: ignore[arg-type]
                read_timeout_sec=ep.read_timeout,
                operation_timeout_sec=ep.operation_timeout,
                message_encryption=ep.message_encryption,  # type: ignore[arg-type]
                proxy="legacy_requests",  # not None: see _sessions_ignore_the_environment
                **kwargs,
            )
        except (WinRMError, InvalidCredentialsError) as exc:
            raise ConfigError(f"cannot set up WinRM: {scrub(str(exc))}", host=self.host.name, step="connect") from None
        _sessions_ignore_the_environment(protocol.transport)
        # requests takes (connect, read): an unreachable host fails after the connect timeout, not the read one.
        timeouts = (min(self.options.connect_timeout, ep.read_timeout), ep.read_timeout)
        protocol.transport.read_timeout_sec = timeouts  # type: ignore[assignment]
        return protocol

    def _shell(self) -> tuple[Protocol, str]:
        if self._protocol is None:
            self._protocol = self._new_protocol()
        if self._shell_id is None:
            self._shell_id = self._protocol.open_shell(codepage=SHELL_CODEPAGE, noprofile=True)
            self.shells_opened += 1
            self.log.debug("winrm_shell_opened", endpoint=self.endpoint.url, transport=self.endpoint.transport)
        return self._protocol, self._shell_id

    def _reset(self) -> None:
        """Forget the shell and the HTTP session, so that the next attempt connects afresh."""
        if self._protocol is not None:
            with contextlib.suppress(Exception):
                self._protocol.transport.close_session()
        self._protocol = None
        self._shell_id = None
        self._unsignalled = None

    def _abandon(self, op: Operation) -> None:
        """Over a new connection: Signal terminate to the command whose answer was lost, then Delete its shell
        (which ends whatever still runs in it on Windows). The shell outlives the TCP connection on the host."""
        inflight, self._inflight = self._inflight, None
        self._reset()
        if inflight is None:
            return
        shell, command_id = inflight
        protocol = self._new_protocol()
        self._protocol = protocol
        protocol.transport.read_timeout_sec = (  # type: ignore[assignment]
            min(self.options.connect_timeout, 5.0),
            min(float(self.endpoint.read_timeout), 10.0),
        )
        try:
            if command_id is not None:
                self._cleanup(protocol, shell, command_id)
            protocol.close_shell(shell)
            self.log.info("winrm_command_abandoned", operation=op.script, terminated=command_id is not None)
        finally:
            self._reset()

    def close(self) -> None:
        # Deleting the shell ends and releases its commands: a finished command needs no Signal of its own first.
        if self._protocol is not None and self._shell_id is not None:
            with contextlib.suppress(Exception):
                self._protocol.close_shell(self._shell_id)
        self._reset()

    # -- one operation -------------------------------------------------------------------------------------------
    def _execute(self, op: Operation) -> Result:
        if op.shell != "powershell":
            raise ConfigError(f"WinRM runs PowerShell scripts, not {op.script}", host=self.host.name, step=op.script)
        stdin = scripts.powershell_stdin(op)
        exe, arguments = scripts.powershell_command()
        limit = self.op_timeout(op)
        deadline = time.monotonic() + limit
        self._inflight = None
        try:
            protocol, shell = self._shell()
            if self._unsignalled is not None:  # release the previous command before the next one starts
                previous, self._unsignalled = self._unsignalled, None
                self._cleanup(protocol, shell, previous)
            # From here the command may start: a failure is no longer "certainly before sending" (at most once).
            self._inflight = (shell, None)
            try:
                # Stdin as a pipe, not a console: with WINRS_CONSOLEMODE_STDIN=TRUE the bootstrap's ReadToEnd() never
                # sees the end of its input (Ansible's winrm plugin sends FALSE whenever it feeds stdin, too).
                command_id = protocol.run_command(shell, exe, arguments, console_mode_stdin=False)
            except NETWORK_ERRORS:
                self._mark_sent()  # the Command went out and no answer came back: it may have been created
                raise
            self._mark_sent()
            self._inflight = (shell, command_id)
            protocol.send_command_input(shell, command_id, stdin, end=True)
            out, err, code, finished = self._collect(protocol, shell, command_id, deadline)
            if finished:
                # Released by the next command's Signal or, for the last one, by deleting the shell: one round
                # trip fewer per host for a one-command check.
                self._unsignalled = command_id
            else:
                self._cleanup(protocol, shell, command_id)  # terminate: it is still running
            self._inflight = None
        except RemediateError:
            raise
        except Exception as exc:
            raise self._translate(exc, op) from None
        if not finished:
            raise RemoteScriptError(
                f"the script ran longer than its time limit of {limit:.0f}s and was stopped",
                host=self.host.name,
                step=op.script,
                hint="the host may be busy or the step stuck; raise --command-timeout or look at the host",
            )
        return self._result(op, out, err, code)

    def _collect(
        self, protocol: Protocol, shell: str, command_id: str, deadline: float
    ) -> tuple[bytes, bytes, int, bool]:
        """Receive until the command is done or our deadline passes (then ``finished`` is False)."""
        out: list[bytes] = []
        err: list[bytes] = []
        configured = self.endpoint.operation_timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return b"".join(out), b"".join(err), -1, False
                # Each Receive waits at most what is left of our deadline, so the deadline is kept to a second.
                protocol.operation_timeout_sec = max(1, min(configured, math.ceil(left)))
                try:
                    o, e, code, done = protocol.get_command_output_raw(shell, command_id)
                except WinRMOperationTimeoutError:
                    continue  # no output yet: the command is still running
                out.append(o)
                err.append(e)
                if done:
                    return b"".join(out), b"".join(err), code, True
        finally:
            protocol.operation_timeout_sec = configured

    def _cleanup(self, protocol: Protocol, shell: str, command_id: str) -> None:
        """Signal terminate: releases the command, and ends it when it is still running."""
        try:
            protocol.cleanup_command(shell, command_id)
        except (WinRMError, WinRMTransportError, AssertionError, StopIteration) as exc:
            self.log.debug("winrm_cleanup_failed", error=type(exc).__name__)

    def _result(self, op: Operation, out: bytes, err: bytes, code: int) -> Result:
        hint = self.codepage_hint
        stdout = decode_console(out, hint)
        stderr_raw = decode_console(err, hint)
        streams = clixml.parse(stderr_raw)
        for warning in streams.warnings:
            self.log.warning("remote_warning", operation=op.script, message=scrub(warning))
        stderr = clixml.readable(stderr_raw)
        payloads, rest = scripts.split_results(stdout)
        mode = scripts.language_mode(stdout) if not payloads else None
        if mode is not None:
            raise RemoteScriptError(
                f"PowerShell runs in {mode} mode on this host (AppLocker or WDAC enforce script rules), so "
                "remediate's scripts cannot run there",
                host=self.host.name,
                step=op.script,
                hint=RESTRICTED_LANGUAGE_HINT,
            )
        if not op.batch:
            return self._part(op, payloads[-1] if payloads else None, rest, stderr, code)
        whole = Result(stdout=rest, stderr=stderr, exited=code)
        for i, part in enumerate(op.batch):  # a bootstrap that died part-way leaves the rest without a result
            payload = payloads[i] if i < len(payloads) else None
            whole.parts.append(self._part(part, payload, rest, stderr, 0 if payload is not None else 1))
        if code == 0 and any(p.failed for p in whole.parts):
            whole.exited = 1
        return whole

    def _part(self, op: Operation, payload: dict[str, Any] | None, rest: str, stderr: str, code: int) -> Result:
        """One operation's result from its result line (``code``: the exit code it has unless its line says it
        failed: the command's own for a lone operation)."""
        result = Result(stdout=rest, stderr=stderr, exited=code)
        if payload is None:
            if result.exited == 0:
                result.exited = 1
            result.error = stderr or rest.strip() or "the bootstrap reported no result"
            return result
        result.data = payload.get("data")
        if not payload.get("ok", False):
            error = payload.get("error") or {}
            result.error = str(error.get("message") if isinstance(error, dict) else error) or "the script failed"
            if result.exited == 0:
                result.exited = 1
        if op.script == "common/probe.ps1" and isinstance(result.data, dict) and not self.endpoint.codepage:
            # The OEM code page is what a program that ignores the shell's 65001 writes; the console's own
            # code page only on a host that reports no OEM one.
            data = result.data
            with contextlib.suppress(TypeError, ValueError):
                self._learned_codepage = int(data.get("oem_codepage") or data.get("codepage"))
        return result

    # -- errors --------------------------------------------------------------------------------------------------
    def _translate(self, exc: Exception, op: Operation) -> RemediateError:
        """A transport failure as one of remediate's errors (the shell is dropped when reconnecting helps)."""
        where = {"host": self.host.name, "step": op.script}
        text = scrub(str(exc))[:500]
        url = self.endpoint.url
        if isinstance(exc, requests.exceptions.SSLError):
            self._reset()
            lowered = text.lower()
            if "certificate" in lowered or "hostname" in lowered or "verify" in lowered:
                return TLSVerificationError(f"the TLS certificate of {url} does not validate", remote=text, **where)
            return TransientError(f"TLS handshake with {url} failed", remote=text, **where)
        if isinstance(
            exc,
            requests.exceptions.ConnectionError
            | requests.exceptions.Timeout
            | requests.exceptions.ChunkedEncodingError,
        ):
            self._reset()
            return TransientError(f"no answer from {url} ({type(exc).__name__})", remote=text, **where)
        if type(exc).__name__ == "KerberosExchangeError":  # requests-kerberos: no ticket, no KDC, unknown SPN
            self._reset()
            return AuthenticationError(
                f"Kerberos could not log on to {url} as {self.host.user or 'the user'}",
                remote=text,
                hint="get a ticket first (kinit USER@REALM, or a keytab in KRB5_CLIENT_KTNAME), check that the "
                "KDC is reachable and that HTTP/<host name> is registered for the host; address the host by name",
                **where,
            )
        if type(exc).__name__ == "MutualAuthenticationError":
            self._reset()
            return AuthenticationError(
                f"{url} did not prove that it is the host it claims to be (Kerberos mutual authentication)", **where
            )
        if isinstance(exc, InvalidCredentialsError | WinRMAuthenticationError | PermissionError):
            self._reset()
            return AuthenticationError(f"{url} rejected the credentials of {self.host.user or 'the user'}", **where)
        if isinstance(exc, WSManFaultError):
            code = exc.wsman_fault_code
            self._reset()
            if code == ACCESS_DENIED_FAULT:
                return AuthenticationError(
                    f"{url} denied access",
                    remote=exc.reason,
                    hint="the user must be an administrator (or in Remote Management Users) on the host",
                    **where,
                )
            if code in RETRY_FAULTS or (code is None and (exc.code or 0) >= 500):
                return TransientError(f"{url} answered a WS-Management fault {code}", remote=exc.reason, **where)
            return ConnectionFailure(f"{url} answered a WS-Management fault {code}", remote=exc.reason, **where)
        if isinstance(exc, WinRMTransportError):
            self._reset()
            if exc.code == 401:
                return AuthenticationError(f"{url} rejected the credentials", **where)
            if exc.code >= 500:
                return TransientError(f"{url} answered HTTP {exc.code}", remote=exc.response_text[:500], **where)
            return ConnectionFailure(
                f"{url} answered HTTP {exc.code}",
                remote=exc.response_text[:500] or None,
                hint="check the WinRM port and path (winrm_path) of the host",
                **where,
            )
        if isinstance(exc, WinRMOperationTimeoutError):
            self._reset()
            return TransientError(f"{url} did not answer within the operation timeout", **where)
        if isinstance(exc, WinRMError):
            self._reset()
            if "not installed" in text or "does not support" in text:
                message = f"the WinRM transport {self.endpoint.transport} cannot be used from here"
                return ConfigError(message, remote=text, **where)
            return ConnectionFailure(f"WinRM error from {url}", remote=text, **where)
        if isinstance(exc, ConnectionError | TimeoutError):
            self._reset()
            return TransientError(f"connection to {url} failed ({type(exc).__name__})", remote=text, **where)
        self._reset()
        return ConnectionFailure(f"unexpected failure talking to {url}: {type(exc).__name__}", remote=text, **where)
