"""The MachineKeys folder's ACL (``machinekeys`` section: path, sddl, saved, optional exists / set_error).

``saved`` lists the copies ``icacls /save`` wrote as ``{path, sddl}``. ``set_error`` makes setting the ACL
fail with that message (a folder whose ACL cannot be changed: another product holding it, a policy).

Ownership and WRITE_DAC are modelled from the folder's SDDL: Administrators (``BA``, S-1-5-32-544) may write the
DACL when they own the folder or an allow ACE grants them WRITE_DAC (0x40000, or FA / GA / GW). A script that
writes the DACL with ``SetAccessControl`` / ``Set-Acl`` enables no privilege and fails without that right
(UnauthorizedAccessException); ``icacls /setowner`` and ``icacls /restore`` enable SeRestorePrivilege and do
not need it. The group can be changed without a privilege only with WRITE_OWNER (0x80000, FA, GA).
"""

from __future__ import annotations

import re
import time
from typing import Any

from remediate.lab.windows import traps
from remediate.lab.windows.model import Call, ScriptFailure, handler

_TRUSTEE = r"(?:[A-Z]{2}|S-1-[0-9]+(?:-[0-9]+)*)"
_ACE = r"\([A-Z]{1,2};[A-Z]*;(?:0x[0-9A-F]+|[0-9]+|[A-Z]+);[0-9A-F-]*;[0-9A-F-]*;" + _TRUSTEE + r"\)"
_SDDL = re.compile(
    rf"^(O:{_TRUSTEE})?(G:{_TRUSTEE})?(D:(?:P|AI|AR|NO_ACCESS_CONTROL)*(?:{_ACE})*)?(S:[A-Z]*(?:{_ACE})*)?$",
    re.I,
)


ADMINS = ("BA", "S-1-5-32-544")
_ALLOW = re.compile(
    r"\(A;[A-Z]*;(?P<mask>0x[0-9A-F]+|[0-9]+|[A-Z]+);[0-9A-F-]*;[0-9A-F-]*;(?P<who>[A-Z]{2}|S-1-[0-9-]+)\)", re.I
)
_RIGHTS = {"FA": 0x1F01FF, "GA": 0x10000000, "GW": 0x40000000, "WD": 0x40000, "WO": 0x80000}
UNAUTHORIZED = "Attempted to perform an unauthorized operation."


def _owner(sddl: str) -> str | None:
    m = re.match(r"^O:([A-Z]{2}|S-1-[0-9-]+)", sddl or "", re.I)
    return m.group(1).upper() if m else None


def _group(sddl: str) -> str | None:
    m = re.search(r"G:([A-Z]{2}|S-1-[0-9-]+)", sddl or "", re.I)
    return m.group(1).upper() if m else None


def _admin_mask(sddl: str) -> int:
    mask = 0
    for m in _ALLOW.finditer(sddl or ""):
        if m.group("who").upper() not in ADMINS:
            continue
        text = m.group("mask").upper()
        if text.startswith("0X"):
            mask |= int(text, 16)
        elif text.isdigit():
            mask |= int(text)
        else:
            for i in range(0, len(text), 2):
                mask |= _RIGHTS.get(text[i : i + 2], 0)
    return mask


def admins_may(sddl: str, right: int) -> bool:
    """Whether Administrators hold ``right`` on the folder without a privilege (owner: READ_CONTROL, WRITE_DAC)."""
    if right == 0x40000 and _owner(sddl) in ADMINS:
        return True
    mask = _admin_mask(sddl)
    return bool(mask & right) or bool(mask & 0x10000000) or (mask & 0x1F01FF) == 0x1F01FF


def _replace(sddl: str, *, owner: str | None = None, group: str | None = None, dacl: str | None = None) -> str:
    o = owner if owner is not None else _owner(sddl)
    g = group if group is not None else _group(sddl)
    d = dacl if dacl is not None else (sddl[sddl.index("D:") :] if "D:" in sddl else "")
    return (f"O:{o}" if o else "") + (f"G:{g}" if g else "") + d


def _section(call: Call) -> dict[str, Any]:
    return call.machine.setdefault("machinekeys", {})


@handler("machinekeys_acl/get.ps1", mutating=False)
def machinekeys_get(call: Call) -> dict[str, Any]:
    mk = _section(call)
    path = mk.get("path", "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys")
    if not mk.get("exists", True):
        return {"path": path, "exists": False, "sddl": None}
    return {"path": path, "exists": True, "sddl": mk.get("sddl")}


@handler("machinekeys_acl/set.ps1", mutating=True)
def machinekeys_set(call: Call) -> dict[str, Any]:
    mk = _section(call)
    path = mk.get("path", "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys")
    sddl = str(call.args.get("sddl") or "")
    if not sddl:
        raise ScriptFailure("no security descriptor given")
    if not _SDDL.match(sddl):
        raise ScriptFailure(
            "the security descriptor is not valid SDDL: The SDDL form of a security descriptor object is invalid."
        )
    if not mk.get("exists", True):
        raise ScriptFailure(f"the folder {path} does not exist")
    before = mk.get("sddl")
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(call.now)) + f"{int(call.now * 1000) % 1000:03d}Z"
    backup = f"C:\\ProgramData\\remediate\\backup\\MachineKeys-{stamp}.icacls"
    mk.setdefault("saved", []).append({"path": backup, "sddl": before})
    if mk.get("set_error"):
        raise ScriptFailure(str(mk["set_error"]))
    current = str(before or "")
    wanted_dacl = sddl[sddl.index("D:") :] if "D:" in sddl else ""
    if not traps.writes_dacl_with_privileges(call.script):
        # DirectoryInfo.SetAccessControl: no privilege; and it writes the DACL before the owner
        if wanted_dacl and not admins_may(current, 0x40000):
            raise ScriptFailure(UNAUTHORIZED, "System.UnauthorizedAccessException")
        mk["sddl"] = sddl
        return {"path": path, "backup": backup, "before": before, "after": sddl}
    # icacls /setowner, then icacls /restore (SeRestorePrivilege): no right on the folder needed
    if _owner(sddl):
        current = _replace(current, owner=_owner(sddl))
    if wanted_dacl:
        current = _replace(current, dacl=wanted_dacl)
    group_left = None
    if _group(sddl) and _group(sddl) != _group(current):
        if admins_may(current, 0x80000):  # SetAccessControl for the group: WRITE_OWNER under the new DACL
            current = _replace(current, group=_group(sddl))
        else:
            group_left = _group(current) or ""
    mk["sddl"] = current
    return {"path": path, "backup": backup, "before": before, "after": current, "group_left": group_left}
