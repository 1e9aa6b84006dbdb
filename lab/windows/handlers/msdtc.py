"""The model of COM+ and the Distributed Transaction Coordinator: ``services.COMSysApp``, ``services.MSDTC``
and ``msdtc: {installed, broken, exit_codes: {"-install": [...], "-uninstall": [...]}, marks_for_deletion}``.

COMSysApp will not start while MSDTC is missing, stopped, broken, or runs under another account than
NetworkService (S-1-5-20): it fails with the COM+ error of the troubleshooting page. ``broken`` is only
cured by ``msdtc/reinstall.ps1`` (``msdtc -uninstall`` and ``msdtc -install``). ``services.COMSysApp.fail_start``
is a COM+ that will not start whatever is done.
"""

from __future__ import annotations

from typing import Any

from remediate.lab.windows import traps
from remediate.lab.windows.handlers.common import find_service, logon_sid, start_service
from remediate.lab.windows.handlers.msiexec import WIN32_TEXT
from remediate.lab.windows.model import Call, ScriptFailure, handler, start_check

NETWORK_SERVICE = "S-1-5-20"
COM_ERROR = {
    "en-US": "COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator (0x8004E00F)",
    "ja-JP": "COM+ が Microsoft 分散トランザクション コーディネーターと通信できませんでした (0x8004E00F)",
    "de-DE": "COM+ konnte nicht mit dem Microsoft Distributed Transaction Coordinator kommunizieren (0x8004E00F)",
    "fr-FR": "COM+ n'a pas pu communiquer avec Microsoft Distributed Transaction Coordinator (0x8004E00F)",
}


def _msdtc_state(call: Call) -> dict[str, Any]:
    return call.machine.setdefault("msdtc", {"installed": True, "broken": False})


@start_check("COMSysApp")
def comsysapp_needs_msdtc(call: Call) -> str | None:
    """Why COMSysApp cannot start now: MSDTC is not healthy."""
    found = find_service(call, "MSDTC")
    state = _msdtc_state(call)
    healthy = (
        found is not None
        and state.get("installed", True)
        and not state.get("broken")
        and found[1].get("status") == "Running"
        and logon_sid(found[1].get("logon")) == NETWORK_SERVICE
    )
    return None if healthy else COM_ERROR.get(call.language, COM_ERROR["en-US"])


@handler("msdtc/start_comsysapp.ps1", mutating=True)
def start_comsysapp(call: Call) -> dict[str, Any]:
    found = find_service(call, "COMSysApp")
    if found is None:
        raise ScriptFailure("Cannot find any service with service name 'COMSysApp'.")
    name, svc = found
    before = svc.get("status", "Stopped")
    error = None
    try:
        start_service(call, name, svc)
    except ScriptFailure as exc:
        error = str(exc)
    after = svc.get("status", "Stopped")
    return {"name": name, "before": before, "after": after, "started": after == "Running", "error": error}


MARKED_FOR_DELETION = (
    "MSDTC is marked for deletion (error 1072): restart the VM so that Windows removes it, then run this again "
    "(it installs a missing MSDTC)"
)


def _msdtc_exe(call: Call, flag: str) -> None:
    """One ``msdtc -install`` / ``-uninstall`` run: ``msdtc.exit_codes[flag]`` is a list of the exit codes of
    the next runs (consumed one per run; 0 when empty)."""
    codes = (_msdtc_state(call).get("exit_codes") or {}).get(flag) or []
    code = int(codes.pop(0)) if codes else 0
    code, _, _ = call.native("msdtc", code, "", "")
    if code == 1072:
        raise ScriptFailure(MARKED_FOR_DELETION)
    if code != 0:
        raise ScriptFailure(f"msdtc {flag} failed with exit code {code}: {WIN32_TEXT.get(code, 'Unknown error')}")


def _install(call: Call, services: dict[str, Any], state: dict[str, Any]) -> None:
    _msdtc_exe(call, "-install")
    services["MSDTC"] = {"status": "Stopped", "start_type": "Automatic", "logon": "NT AUTHORITY\\NetworkService"}
    state["installed"] = True
    state["broken"] = False


@handler("msdtc/reinstall.ps1", mutating=True)
def reinstall(call: Call) -> dict[str, Any]:
    """The script: uninstall (when present), install, start MSDTC and COMSysApp. ``msdtc.marks_for_deletion``:
    the uninstall leaves the service listed, marked for deletion (1072), until a reboot (``marked_for_deletion``
    on the service); the script's wait for it to go runs out.

    The lab judges the script by its text (:mod:`lab.windows.traps`): MSDTC is installed again after a failure
    only by a script whose ``try`` around the uninstall ends in a ``finally`` that installs it when absent, and
    the wait that runs out is reported as 1072 with a restart only by a script that knows that code."""
    services = call.machine.setdefault("services", {})
    state = _msdtc_state(call)
    guarded = traps.reinstalls_in_finally(call.script)
    timeout = float(call.args.get("timeout_s") or 60)
    steps: list[str] = []
    failure: str | None = None
    try:
        found = find_service(call, "MSDTC")
        if found is not None:
            name, svc = found
            if svc.get("fail_stop"):
                raise ScriptFailure(f'Exception calling "Stop" with "0" argument(s): {svc["fail_stop"]}')
            svc["status"] = "Stopped"
            steps.append("stopped MSDTC")
            _msdtc_exe(call, "-uninstall")
            steps.append("msdtc -uninstall")
            state["installed"] = False
            if state.get("marks_for_deletion"):
                svc["marked_for_deletion"] = True
                if traps.names_error_code(call.script, 1072):
                    raise ScriptFailure(MARKED_FOR_DELETION)
                raise ScriptFailure(f"the MSDTC service was still listed {timeout:g} s after msdtc -uninstall")
            del services[name]
        _install(call, services, state)
        steps.append("msdtc -install")
        start_service(call, "MSDTC", services["MSDTC"])
        steps.append("started MSDTC")
        com = find_service(call, "COMSysApp")
        if com is None:
            raise ScriptFailure("Cannot find any service with service name 'COMSysApp'.")
        start_service(call, com[0], com[1])
        steps.append("started COMSysApp")
    except ScriptFailure as exc:
        failure = str(exc)
    finally:
        if guarded and find_service(call, "MSDTC") is None:
            try:
                _install(call, services, state)
                steps.append("msdtc -install (MSDTC was missing)")
                if failure is not None:
                    failure += "; MSDTC was missing afterwards and is installed again"
            except ScriptFailure as exc:
                failure = (
                    str(exc)
                    if failure is None
                    else f"{failure}; MSDTC is missing and installing it again failed too: {exc}"
                )
    if failure is not None:
        raise ScriptFailure(f"{failure} (steps done: {', '.join(steps)})")
    com_status = services.get("COMSysApp", {}).get("status")
    return {
        "steps": steps,
        "msdtc": services["MSDTC"]["status"],
        "msdtc_logon": None if call.wmi_broken else services["MSDTC"]["logon"],
        "comsysapp": com_status,
    }
