"""Run Command (action API): our scripts run on the lab host's model, as the VM agent would run them.

``POST .../virtualMachines/{vm}/runCommand`` answers 202 and runs the script when the operation is first
polled. Like Azure: one run at a time per VM (409 while one runs), nothing runs when the VM agent is not
ready (the operation fails with ``VMAgentStatusCommunicationError``), only the last 4,096 bytes of each
stream come back and no exit code does. A PowerShell run is accepted only when its script is exactly the
Run Command form of a packaged script (:mod:`remediate.runcommand_format`); the lab's model then runs it
through the same ``powershell.exe`` the WinRM endpoint serves. A shell run goes to the host's real
``/bin/sh`` with the lab's command shims, as over SSH.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
from typing import Any

from remediate.lab.azure.model import VM
from remediate.lab.azure.routes import ARMError, Reply, Request, route
from remediate.lab.state import HostState, OpLog

from remediate import runcommand_format as rc

VMS = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines"


def _status(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "level": "Info", "displayStatus": "Provisioning succeeded", "message": message}


def run_powershell(state: HostState, oplog: OpLog, body: dict[str, Any]) -> dict[str, Any]:
    from remediate.lab.windows.powershell import codepage_of, execute

    from remediate import scripts

    try:
        _script, stdin = rc.decode_powershell(body)
    except (ValueError, KeyError) as exc:
        raise ARMError(400, "BadRequest", f"the lab runs only packaged scripts: {exc}") from None
    exe, args = scripts.powershell_command()
    result = execute(state, oplog, exe, args, stdin)
    codepage = codepage_of(state.read())
    out = rc.compress_result_line(result.stdout.decode(codepage, errors="replace")).encode("utf-8")
    err = result.stderr.decode(codepage, errors="replace").encode("utf-8")
    return {
        "value": [
            _status("ComponentStatus/StdOut/succeeded", rc.tail(out)),
            _status("ComponentStatus/StdErr/succeeded", rc.tail(err)),
        ]
    }


def run_shell(state: HostState, oplog: OpLog, body: dict[str, Any]) -> dict[str, Any]:
    from remediate.lab.linux.sshd import exec_environment

    tokens = [str(p.get("value", "")) for p in body.get("parameters") or []]
    for token in tokens:  # the lab edits only its hosts' files: a real /etc path means lab vars are missing
        with contextlib.suppress(ValueError):
            value = base64.b64decode(token, validate=True).decode("utf-8", errors="replace")
            if any(line.startswith("/etc/") for line in value.splitlines()):
                raise ARMError(
                    400,
                    "BadRequest",
                    f"the lab does not run scripts on this machine's {value!r}: "
                    "give the VM's lab paths (its remediate.* tags)",
                )
    text = "\n".join(body.get("script") or [])
    cwd = state.path.parent / state.name
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["/bin/sh", "-s", "--", *tokens],
        input=text.encode("utf-8"),
        capture_output=True,
        cwd=str(cwd),
        env=exec_environment(state, oplog),
        timeout=600,
        check=False,
    )
    oplog.record(state.name, "runcommand-shell", False, exit=proc.returncode)
    return {"value": [_status("ProvisioningState/succeeded", rc.linux_message(proc.stdout, proc.stderr))]}


def _mutating(vm: VM, body: dict[str, Any]) -> bool:
    """Whether the run can change the VM: a packaged PowerShell script says so itself; a shell run may."""
    if body.get("commandId") == "RunPowerShellScript":
        from remediate.lab.windows.model import load_handlers

        try:
            script = rc.decode_powershell(body)[0]
        except (ValueError, KeyError):
            return True
        spec = load_handlers().get(script)
        return bool(spec is None or spec.mutating)
    return True


@route("POST", VMS + "/{vm}/runCommand")
def run_command(req: Request) -> Reply:
    arm = req.arm
    vm = arm.vm(req.params["rg"], req.params["vm"])
    body = req.body or {}
    req.mutating = _mutating(vm, body)
    if vm.facts.get("power_state", "running") != "running":
        raise ARMError(409, "OperationNotAllowed", "Operation 'RunCommand' is not allowed since the VM is not running.")
    command = body.get("commandId")
    if command not in ("RunPowerShellScript", "RunShellScript"):
        raise ARMError(400, "InvalidParameter", f"The command id {command!r} is not supported by the lab.")
    if (command == "RunPowerShellScript") != (vm.os == "windows"):
        raise ARMError(400, "InvalidParameter", f"The command id {command} is not valid for the {vm.os} VM.")
    with arm._lock:
        if arm.busy.get(vm.name) or arm.consume_fault("runcommand_busy"):
            raise ARMError(
                409,
                "Conflict",
                "Run command extension execution is in progress. Please wait for completion before invoking a "
                "run command.",
            )
        arm.busy[vm.name] = 1
    oplog = OpLog(arm.dir / "oplog.jsonl")

    def run() -> dict[str, Any]:
        try:
            if not VM(arm, vm.name, vm.state).agent_ready():
                raise ARMError(
                    409,
                    "VMAgentStatusCommunicationError",
                    f"VM '{vm.name}' has not reported status for VM agent or extensions. Verify that the OS is up "
                    "and healthy, the VM has a running VM agent, and that it can establish outbound connections "
                    "to Azure storage.",
                )
            if command == "RunPowerShellScript":
                return run_powershell(vm.state, oplog, body)
            return run_shell(vm.state, oplog, body)
        finally:
            arm.busy.pop(vm.name, None)

    if command == "RunPowerShellScript":
        return req.accept(run)
    # A shell script says nothing of itself: it runs now, and the request is logged as mutating when the lab's
    # commands changed the machine (the client still sees 202 and polls, as with Azure).
    before = len(oplog.mutations(vm.name))
    try:
        answer = run()
        outcome: Any = lambda: answer  # noqa: E731
    except ARMError as exc:
        failure = exc

        def outcome() -> Any:
            raise failure

    req.mutating = len(oplog.mutations(vm.name)) > before
    return req.accept(outcome)
