"""Run Command as a transport (``connection: azure-runcommand``): our scripts through the Azure VM agent.

The same bootstrap, library and scripts as over WinRM and SSH travel in a ``RunCommandInput``
(:mod:`remediate.runcommand_format`): arguments as base64 data, never pasted into script text. No WinRM or
SSH port needs to be open, so a job in the Azure Automation sandbox can reach any VM.

Run Command's limits, honoured here:

- one run at a time per VM: runs to one VM are serialised in this process, and a 409 ("Run command extension
  execution is in progress") from another client is retried with backoff (nothing was started);
- only the last 4,096 bytes of each stream come back: a result cut short is reported as such, never parsed;
- no exit code: PowerShell results carry ``ok`` as over WinRM, sh scripts end with a ``#REMEDIATE-EXIT`` line;
- it runs nothing when the VM agent is not ready: then the agent itself is what is broken, and this transport
  says so (fix it over WinRM or SSH with ``vm-agent`` / ``linux-agent``).

Host vars: ``azure_resource_group``, ``azure_name`` (default: the host's name), ``azure_subscription`` (or
``azure_id``), ``azure_config`` (an Azure config file, see :mod:`remediate.azure.clients`).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from remediate import runcommand_format as rc
from remediate import scripts
from remediate.connection import Connection, ConnectOptions
from remediate.connection.azure_common import clients_for, error_code, error_message, translate, vm_of
from remediate.errors import ConnectionFailure, RemoteScriptError, TransientError
from remediate.operation import Operation, Result

_vm_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


class AgentNotReady(ConnectionFailure):
    default_hint = (
        "Run Command needs the VM agent, and the agent is the broken part: fix it over WinRM or SSH "
        "(remediate vm-agent / linux-agent), or restart the VM from the portal"
    )


def _vm_lock(key: str) -> threading.Lock:
    with _guard:
        return _vm_locks.setdefault(key.lower(), threading.Lock())


class RunCommandConnection(Connection):
    kind: ClassVar[str] = "azure-runcommand"

    def __init__(self, host: Any, options: ConnectOptions | None = None, log: Any = None) -> None:
        super().__init__(host, options, log)
        self.resource_group, self.vm_name, _sub = vm_of(host)

    def _execute(self, op: Operation) -> Result:
        from azure.core.exceptions import HttpResponseError

        body = rc.request_body(op)
        compute = clients_for(self.host, self.options).compute
        with _vm_lock(f"{self.resource_group}/{self.vm_name}"):
            try:
                poller = compute.virtual_machines.begin_run_command(self.resource_group, self.vm_name, body)
                answer = poller.result()
            except HttpResponseError as exc:
                code = error_code(exc)
                where = {"host": self.host.name, "step": op.script, "remote": error_message(exc)}
                if exc.status_code == 409 and code in ("Conflict", "OperationNotAllowed") and "progress" in str(exc):
                    raise TransientError(f"another Run Command is still running on {self.vm_name}", **where) from None
                if code == "VMAgentStatusCommunicationError":
                    raise AgentNotReady(
                        f"the VM agent of {self.vm_name} is not ready: Run Command cannot run", **where
                    ) from None
                if code == "OperationNotAllowed":
                    hint = "is the VM running? (stopped VMs are not tried)"
                    raise ConnectionFailure(
                        f"Run Command is not possible on {self.vm_name} now", **where, hint=hint
                    ) from None
                raise translate(exc, self.host.name, op.script, mutating=op.mutating) from None
            except Exception as exc:
                raise translate(exc, self.host.name, op.script, mutating=op.mutating) from None
        statuses = list(getattr(answer, "value", None) or [])
        if op.shell == "powershell":
            return self._powershell_result(statuses)
        return self._sh_result(statuses)

    @staticmethod
    def _message(statuses: list[Any], marker: str) -> str:
        for s in statuses:
            if marker in str(getattr(s, "code", "")):
                return str(getattr(s, "message", "") or "")
        return ""

    def _cut(self, text: str) -> bool:
        return len(text.encode("utf-8")) >= rc.OUTPUT_LIMIT - 16

    def _powershell_result(self, statuses: list[Any]) -> Result:
        stdout = self._message(statuses, "StdOut")
        stderr = self._message(statuses, "StdErr")
        payload, rest = rc.split_result(stdout) if not self._cut(stdout) else (None, stdout)
        result = Result(stdout=rest, stderr=stderr, exited=0)
        mode = scripts.language_mode(stdout) if payload is None else None
        if mode is not None:
            from remediate.connection.winrm import RESTRICTED_LANGUAGE_HINT

            raise RemoteScriptError(
                f"PowerShell runs in {mode} mode on this VM, so remediate's scripts cannot run there",
                host=self.host.name,
                hint=RESTRICTED_LANGUAGE_HINT,
            )
        if payload is None:
            result.exited = 1
            result.error = (
                "the result was cut off: Run Command returns only the last 4,096 bytes of output"
                if self._cut(stdout)
                else stderr.strip() or "the bootstrap reported no result"
            )
            return result
        result.data = payload.get("data")
        if not payload.get("ok", False):
            error = payload.get("error") or {}
            result.error = str(error.get("message") if isinstance(error, dict) else error) or "the script failed"
            result.exited = 1
        return result

    def _sh_result(self, statuses: list[Any]) -> Result:
        message = self._message(statuses, "ProvisioningState")
        raw, stderr = rc.split_linux_message(message)
        stdout = rc.sh_output(raw)
        if stdout is None:
            cut = self._cut(raw)
            error = (
                "the output was cut off: Run Command returns only the last 4,096 bytes (use WinRM or SSH)"
                if cut
                else stderr.strip() or "the script did not report its exit status"
            )
            return Result(stdout=raw, stderr=stderr, exited=1, error=error)
        lines = stdout.rstrip("\n").split("\n")
        exited = 1
        if lines and lines[-1].startswith(rc.EXIT_MARKER):
            exited = int(lines[-1][len(rc.EXIT_MARKER) :] or 1)
            stdout = "\n".join(lines[:-1])
        data, rest = scripts.split_kv(stdout)
        return Result(stdout=rest, stderr=stderr, exited=exited, data=data)
