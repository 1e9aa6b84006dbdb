"""BitLocker volumes (``bitlocker`` list of {mount_point, lock_status: Locked|Unlocked, protection_status: On|Off,
recovery_password, volume_type: OperatingSystem|Data, volume_status}). ``bitlocker_available: false`` on the
machine models a server without the BitLocker feature.
"""

from __future__ import annotations

from typing import Any

from remediate.lab.windows.model import Call, ScriptFailure, handler

LOCK = {"Unlocked": 0, "Locked": 1}
PROTECTION = {"Off": 0, "On": 1, "Unknown": 2}
VOLUME_STATUS = {
    "FullyDecrypted": 0,
    "FullyEncrypted": 1,
    "EncryptionInProgress": 2,
    "DecryptionInProgress": 3,
}
VOLUME_TYPE = {"OperatingSystem": 0, "Data": 1}
# The messages Windows gives: FVE_E_LOCKED_VOLUME, and the one for a recovery password of another volume.
LOCKED_MESSAGE = (
    "This drive is locked by BitLocker Drive Encryption. You must unlock this drive from Control Panel. "
    "(Exception from HRESULT: 0x80310000)"
)
BAD_PASSWORD_MESSAGE = "The recovery password is not valid for this volume. (Exception from HRESULT: 0x80310027)"


def _volume(call: Call) -> dict[str, Any]:
    mp = str(call.args.get("mount_point") or "")
    if not mp:
        raise ScriptFailure("no mount point given")
    for v in call.machine.get("bitlocker") or []:
        if str(v.get("mount_point", "")).rstrip("\\").upper() == mp.rstrip("\\").upper():
            return v
    raise ScriptFailure(f"Get-BitLockerVolume : BitLocker volume {mp} was not found.")


def _status(v: dict[str, Any]) -> int:
    default = "FullyEncrypted" if v.get("protection_status", "On") == "On" else "FullyDecrypted"
    return VOLUME_STATUS.get(v.get("volume_status") or default, 1)


@handler("bitlocker/get.ps1", mutating=False)
def bitlocker_get(call: Call) -> dict[str, Any]:
    if call.machine.get("bitlocker_available") is False:
        return {"available": False, "volumes": []}
    volumes = []
    for v in call.machine.get("bitlocker") or []:
        volumes.append(
            {
                "mount_point": v["mount_point"],
                "volume_type": VOLUME_TYPE.get(v.get("volume_type") or "Data", 1),
                "lock_status": LOCK[v.get("lock_status", "Unlocked")],
                "protection_status": PROTECTION[v.get("protection_status", "On")],
                "volume_status": _status(v),
                "protector_types": [3] if v.get("recovery_password") else [1],
            }
        )
    return {"available": True, "volumes": volumes}


@handler("bitlocker/unlock.ps1", mutating=True)
def bitlocker_unlock(call: Call) -> dict[str, Any]:
    import re

    password = str(call.args.get("recovery_password") or "")
    if not re.fullmatch(r"[0-9]{6}(-[0-9]{6}){7}", password):
        raise ScriptFailure("the recovery password is not 8 groups of 6 digits")
    v = _volume(call)
    mp = v["mount_point"]
    if v.get("lock_status") != "Locked":
        return {"mount_point": mp, "lock_status": 0, "changed": False}
    if password != v.get("recovery_password"):
        raise ScriptFailure(f"Unlock-BitLocker failed for {mp}: {BAD_PASSWORD_MESSAGE}")
    v["lock_status"] = "Unlocked"
    return {"mount_point": mp, "lock_status": 0, "changed": True}


@handler("bitlocker/lock.ps1", mutating=True)
def bitlocker_lock(call: Call) -> dict[str, Any]:
    v = _volume(call)
    if v.get("volume_type") == "OperatingSystem":
        raise ScriptFailure(
            f"Lock-BitLocker failed for {v['mount_point']}: the operating system volume cannot be locked"
        )
    v["lock_status"] = "Locked"
    return {"mount_point": v["mount_point"], "lock_status": 1}


@handler("bitlocker/disable.ps1", mutating=True)
def bitlocker_disable(call: Call) -> dict[str, Any]:
    v = _volume(call)
    if v.get("lock_status") == "Locked":
        raise ScriptFailure(f"Disable-BitLocker failed for {v['mount_point']}: {LOCKED_MESSAGE}")
    if _status(v) not in (0, 3):
        v["protection_status"] = "Off"
        v["volume_status"] = "DecryptionInProgress"
    return {
        "mount_point": v["mount_point"],
        "protection_status": PROTECTION[v.get("protection_status", "On")],
        "volume_status": _status(v),
    }
