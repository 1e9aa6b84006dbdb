"""The MachineKeys folder's ACL (``machinekeys`` section: path, sddl, saved, optional exists / set_error).

``saved`` lists the copies ``icacls /save`` wrote as ``{path, sddl}``. ``set_error`` makes setting the ACL
fail with that message (a folder whose ACL cannot be changed: another product holding it, a policy).
"""

from __future__ import annotations

import re
import time
from typing import Any

from lab.windows.model import Call, ScriptFailure, handler

_TRUSTEE = r"(?:[A-Z]{2}|S-1-[0-9]+(?:-[0-9]+)*)"
_ACE = r"\([A-Z]{1,2};[A-Z]*;(?:0x[0-9A-F]+|[0-9]+|[A-Z]+);[0-9A-F-]*;[0-9A-F-]*;" + _TRUSTEE + r"\)"
_SDDL = re.compile(
    rf"^(O:{_TRUSTEE})?(G:{_TRUSTEE})?(D:(?:P|AI|AR|NO_ACCESS_CONTROL)*(?:{_ACE})*)?(S:[A-Z]*(?:{_ACE})*)?$",
    re.I,
)


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
    mk["sddl"] = sddl
    return {"path": path, "backup": backup, "before": before, "after": sddl}
