r"""The model of the shared Windows scripts: services (``services``) and registry values (``registry``).

Services: ``{NAME: {status: Running|Stopped|..., start_type: Automatic|Manual|Disabled, logon: ACCOUNT,
fail_start: "message" (start fails with it), restarted_at: time of the last (re)start}}``. A Disabled service
cannot start. ``service_specific_exit_code``: the service stops at once with it (an HRESULT such as COM+'s
0x8004E00F). ``stops_before_first_poll``: a failing start is already Stopped when the script first reads the
status after ``Start()``, never seen ``StartPending``.
Registry: ``{KEY PATH: {VALUE NAME: {type: REG_..., data: ...}}}``.

The service's ``start_type`` is the Service Control Manager's running configuration. Writing
``HKLM\SYSTEM\CurrentControlSet\Services\<name>\Start`` straight to the registry does not change it (the SCM
reads its database at boot only); a change through the SCM (``service_config.ps1``: ``sc.exe config``) changes
both, as ChangeServiceConfig does.
"""

from __future__ import annotations

import copy
from typing import Any

from remediate.lab.windows import traps
from remediate.lab.windows.model import Call, ScriptFailure, handler, start_refusal

WELL_KNOWN_SIDS = {
    "localsystem": "S-1-5-18",
    ".\\localsystem": "S-1-5-18",
    "nt authority\\system": "S-1-5-18",
    "nt authority\\localservice": "S-1-5-19",
    "nt authority\\local service": "S-1-5-19",
    "nt authority\\networkservice": "S-1-5-20",
    "nt authority\\network service": "S-1-5-20",
}
SID_ACCOUNTS = {
    "S-1-5-18": "LocalSystem",
    "S-1-5-19": "NT AUTHORITY\\LocalService",
    "S-1-5-20": "NT AUTHORITY\\NetworkService",
}
START_TYPES = ("Automatic", "Manual", "Disabled")
START_VALUES = {"Automatic": 2, "Manual": 3, "Disabled": 4}  # Services\<name>\Start
REG_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_DWORD", "REG_QWORD", "REG_MULTI_SZ", "REG_BINARY")
HIVES = {
    "HKLM": "HKLM",
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKCU": "HKCU",
    "HKEY_CURRENT_USER": "HKCU",
    "HKU": "HKU",
    "HKEY_USERS": "HKU",
    "HKCR": "HKCR",
    "HKEY_CLASSES_ROOT": "HKCR",
}
DISABLED_MESSAGE = (
    "The service cannot be started, either because it is disabled or because it has no enabled devices "
    "associated with it"
)


def logon_sid(account: str | None) -> str | None:
    if not account:
        return None
    return WELL_KNOWN_SIDS.get(account.lower())


def find_service(call: Call, name: Any) -> tuple[str, dict[str, Any]] | None:
    """The service with exactly this name (case-insensitive, no wildcards), or None."""
    for key, value in (call.machine.get("services") or {}).items():
        if isinstance(name, str) and key.lower() == name.lower():
            return key, value
    return None


def require_service(call: Call, name: Any) -> tuple[str, dict[str, Any]]:
    found = find_service(call, name)
    if found is None:
        raise ScriptFailure(f"Cannot find any service with service name '{name}'.")
    return found


def start_service(call: Call, name: str, svc: dict[str, Any]) -> None:
    """Start one service on the model, failing the way Windows does."""
    if svc.get("status") == "Running":
        return
    if svc.get("marked_for_deletion"):
        raise ScriptFailure(f"could not start service '{name}': The specified service has been marked for deletion")
    if svc.get("start_type") == "Disabled":
        raise ScriptFailure(f"could not start service '{name}': {DISABLED_MESSAGE}")
    if svc.get("fail_start") or svc.get("service_specific_exit_code") is not None:
        if svc.get("stops_before_first_poll") and traps.stopped_counts_only_after_pending(call.script):
            # never seen pending: the script takes Stopped for "not started yet" and waits out its deadline
            timeout = float(call.args.get("timeout_s") or 60)
            raise ScriptFailure(f"service '{name}' did not reach Running within {timeout:g} s (it is Stopped)")
        raise ScriptFailure(f"service '{name}' stopped while starting: {call.exit_reason(svc)}")
    refusal = start_refusal(call, name)
    if refusal:
        raise ScriptFailure(f"service '{name}' stopped while starting: {refusal}")
    svc["status"] = "Running"
    svc["restarted_at"] = call.now
    svc["broken"] = False


@handler("common/service_get.ps1", mutating=False)
def service_get(call: Call) -> dict[str, Any]:
    name = call.args.get("name")
    found = find_service(call, name)
    if found is None:
        return {
            "name": str(name),
            "exists": False,
            "status": None,
            "start_type": None,
            "logon": None,
            "logon_sid": None,
            "display_name": None,
            "exit_code": None,
            "delayed_auto_start": False,
            "wmi_error": None,
        }
    real, svc = found
    logon = svc.get("logon", "LocalSystem")
    if call.wmi_broken:  # name and status come from the SCM; the rest is WMI's
        return {
            "name": real,
            "exists": True,
            "status": svc.get("status", "Stopped"),
            "start_type": svc.get("start_type", "Manual"),  # ServiceController.StartType
            "delayed_auto_start": False,
            "logon": None,
            "logon_sid": None,
            "display_name": svc.get("display_name", real),
            "exit_code": None,
            "wmi_error": "Call cancelled",
        }
    return {
        "name": real,
        "exists": True,
        "status": svc.get("status", "Stopped"),
        "start_type": svc.get("start_type", "Manual"),
        "delayed_auto_start": bool(svc.get("delayed_auto_start", False)),
        "logon": logon,
        "logon_sid": logon_sid(logon),
        "display_name": svc.get("display_name", real),
        "exit_code": int(svc.get("exit_code", 0)),
        "wmi_error": None,
    }


@handler("common/service_control.ps1", mutating=True)
def service_control(call: Call) -> dict[str, Any]:
    action = call.args.get("action")
    if action not in ("start", "stop", "restart"):
        raise ScriptFailure(f"unknown service action '{action}' (start, stop or restart)")
    real, svc = require_service(call, call.args.get("name"))
    before = svc.get("status", "Stopped")
    dependents = [
        n
        for n, s in (call.machine.get("services") or {}).items()
        if any(str(d).lower() == real.lower() for d in s.get("depends_on") or []) and s.get("status") == "Running"
    ]
    if action in ("stop", "restart"):
        if svc.get("fail_stop"):
            raise ScriptFailure(f"could not stop service '{real}': {svc['fail_stop']}")
        for dep in dependents:
            call.machine["services"][dep]["status"] = "Stopped"
        svc["status"] = "Stopped"
    if action in ("start", "restart"):
        start_service(call, real, svc)
        if action == "restart":
            for dep in dependents:
                start_service(call, dep, call.machine["services"][dep])
    return {
        "name": real,
        "action": action,
        "before": before,
        "after": svc["status"],
        "dependents": dependents if action == "restart" else [],
    }


@handler("common/service_config.ps1", mutating=True)
def service_config(call: Call) -> dict[str, Any]:
    real, svc = require_service(call, call.args.get("name"))
    before = {"start_type": svc.get("start_type", "Manual"), "logon": svc.get("logon", "LocalSystem")}
    start_type = call.args.get("start_type")
    logon = call.args.get("logon")
    if start_type:
        if start_type not in START_TYPES:
            raise ScriptFailure(f"unknown start type '{start_type}' (Automatic, Manual or Disabled)")
        if svc.get("marked_for_deletion"):
            raise ScriptFailure(
                f"could not set the start type of '{real}' to {start_type}: error 1072 The specified service "
                "has been marked for deletion."
            )
        svc["start_type"] = start_type
        # the SCM (ChangeServiceConfig) writes the registry itself
        values = call.registry_key(f"HKLM\\SYSTEM\\CurrentControlSet\\Services\\{real}")
        if values is not None:
            found = _find_value(values, "Start")
            values[found[0] if found else "Start"] = {"type": "REG_DWORD", "data": START_VALUES[start_type]}
    if logon:
        account = SID_ACCOUNTS.get(str(logon), str(logon))
        if logon_sid(account) is None:
            raise ScriptFailure(
                f"could not set the logon account of '{real}' to {account}: error 1057 The account name is "
                "invalid or does not exist, or the password is invalid for the account name specified."
            )
        svc["logon"] = account
    after = {"start_type": svc.get("start_type", "Manual"), "logon": svc.get("logon", "LocalSystem")}
    return {"name": real, "before": before, "after": after}


def split_path(path: Any, *, for_write: bool = False) -> str:
    """``HKLM\\SOFTWARE\\X`` in the model's spelling; ScriptFailure for an unknown hive."""
    text = str(path or "")
    hive, _, rest = text.partition("\\")
    short = HIVES.get(hive.upper())
    if short is None:
        raise ScriptFailure(f"unknown registry hive in '{text}' (use HKLM\\..., HKCU\\..., HKU\\... or HKCR\\...)")
    rest = rest.strip("\\")
    if for_write and not rest:
        raise ScriptFailure(f"refusing to write a value at the root of {short}")
    return f"{short}\\{rest}" if rest else short


def _value_name(call: Call) -> str:
    name = call.args.get("name")
    return "" if name is None else str(name)


def _find_value(values: dict[str, Any] | None, name: str) -> tuple[str, dict[str, Any]] | None:
    for key, value in (values or {}).items():
        if key.lower() == name.lower():
            return key, value
    return None


def _snapshot(found: tuple[str, dict[str, Any]] | None) -> dict[str, Any]:
    if found is None:
        return {"exists": False, "type": None, "data": None}
    return {"exists": True, "type": found[1].get("type"), "data": copy.deepcopy(found[1].get("data"))}


@handler("common/registry_get.ps1", mutating=False)
def registry_get(call: Call) -> dict[str, Any]:
    path = split_path(call.args.get("path"))
    name = _value_name(call)
    values = call.registry_key(path)
    result = {"path": call.args.get("path"), "name": name, "key_exists": values is not None}
    result.update(_snapshot(_find_value(values, name)))
    return result


def _coerce(kind: str, data: Any) -> Any:
    try:
        if kind == "REG_DWORD":
            number = int(data)
            if not 0 <= number <= 0xFFFFFFFF:
                raise ScriptFailure(f"REG_DWORD data out of range: {number}")
            return number
        if kind == "REG_QWORD":
            return int(data) & 0xFFFFFFFFFFFFFFFF
        if kind == "REG_MULTI_SZ":
            return [str(s) for s in (data if isinstance(data, list) else [data])]
        if kind == "REG_BINARY":
            return [int(b) & 0xFF for b in (data if isinstance(data, list) else [data])]
    except (TypeError, ValueError) as exc:
        raise ScriptFailure(f'Cannot convert value "{data}" for {kind}: {exc}') from None
    return "" if data is None else str(data)


@handler("common/registry_set.ps1", mutating=True)
def registry_set(call: Call) -> dict[str, Any]:
    kind = call.args.get("type")
    if kind not in REG_TYPES:
        raise ScriptFailure(f"unknown registry value type '{kind}'")
    path = split_path(call.args.get("path"), for_write=True)
    name = _value_name(call)
    key_existed = call.registry_key(path) is not None
    values = call.registry_key(path, create=True)
    assert values is not None
    found = _find_value(values, name)
    previous = _snapshot(found)
    stored_name = found[0] if found else name
    values[stored_name] = {"type": kind, "data": _coerce(kind, call.args.get("data"))}
    return {
        "path": call.args.get("path"),
        "name": name,
        "key_existed": key_existed,
        "previous": previous,
        "current": _snapshot((stored_name, values[stored_name])),
    }


@handler("common/registry_remove.ps1", mutating=True)
def registry_remove(call: Call) -> dict[str, Any]:
    path = split_path(call.args.get("path"), for_write=True)
    name = _value_name(call)
    values = call.registry_key(path)
    found = _find_value(values, name)
    if found is not None and values is not None:
        del values[found[0]]
    return {"path": call.args.get("path"), "name": name, "removed": found is not None, "previous": _snapshot(found)}
