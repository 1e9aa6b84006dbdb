"""bitlocker: find BitLocker-locked volumes; unlock them or turn protection off only when asked to.

Answers ExtensionSnapshotBitlockerError, seed row: スナップショットの操作は、"このドライブは、BitLocker ドライブ
暗号化でロックされています。 コントロール パネルからドライブのロックを解除してください。" という VSS 操作エラー
で失敗しました。 (the snapshot failed with the VSS error "This drive is locked by BitLocker Drive Encryption.
You must unlock this drive from Control Panel."). The page's fix: "VM 上のすべてのドライブで BitLocker をオフに
して" -- turn BitLocker off on the VM's drives.

Check: ``Get-BitLockerVolume``, by the numeric ``LockStatus`` (1 = Locked), never by ``manage-bde -status``
text, which is localized.

Change: none by default -- a locked volume is reported with what to do (plan notes). With an explicit option:

- ``unlock_secret_env=NAME``: the NAME of an environment variable on the operator's side that holds the
  volume's 48-digit recovery password; ``Unlock-BitLocker -RecoveryPassword``. The password travels to the
  host as data only, is registered as a secret (masked in every log line, result and journal) and is shown in
  plans as ``********``; the journal records that a recovery password from ``$NAME`` was used. Undo: lock the
  volume again (``Lock-BitLocker``).
- ``disable_protection=true``: ``Disable-BitLocker`` on the locked volumes, as the page says (the volume is
  decrypted). A volume must be unlocked first, so give both options for a locked volume. There is no undo:
  turning protection on again needs key protectors that the operator chooses.

Example::

    remediate --host vm1 bitlocker --dry-run
    BL_RECOVERY=... remediate --host vm1 bitlocker --param unlock_secret_env=BL_RECOVERY --yes
    remediate --host vm1 bitlocker --param unlock_secret_env=BL_RECOVERY --param disable_protection=true --yes
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk, Verdict, parse_bool
from remediate.log import MASK, register_secret
from remediate.operation import Operation, mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

LOCKED = 1
LOCK_STATUS = {0: "Unlocked", 1: "Locked"}
PROTECTION_STATUS = {0: "Off", 1: "On", 2: "Unknown"}
VOLUME_STATUS = {
    0: "FullyDecrypted",
    1: "FullyEncrypted",
    2: "EncryptionInProgress",
    3: "DecryptionInProgress",
    4: "EncryptionSuspended",
    5: "DecryptionSuspended",
}
RECOVERY_PASSWORD_PROTECTOR = 3
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_RECOVERY_PASSWORD = re.compile(r"^[0-9]{6}(-[0-9]{6}){7}$")


def valid_recovery_password(value: str) -> bool:
    """8 groups of 6 digits, each a multiple of 11 below 720896 (how BitLocker builds them)."""
    if not _RECOVERY_PASSWORD.match(value):
        return False
    return all(int(g) % 11 == 0 and int(g) // 11 < 65536 for g in value.split("-"))


def secret_env_name(raw: str) -> str:
    """Validate ``unlock_secret_env``: a variable name whose value is a recovery password. Never shows the value."""
    name = str(raw).strip()
    if not _ENV_NAME.match(name):
        raise ValueError(f"{name!r} is not an environment variable name (give the NAME, not the password)")
    value = os.environ.get(name)
    if value is None:
        raise ValueError(f"the environment variable {name} is not set on this machine")
    value = value.strip()
    register_secret(value)
    if not valid_recovery_password(value):
        raise ValueError(
            f"the environment variable {name} does not hold a BitLocker recovery password "
            "(8 groups of 6 digits separated by '-', each group a multiple of 11)"
        )
    return name


@dataclass(frozen=True)
class SecretOperation(Operation):
    """An operation with secret arguments: sent as data, shown as ``********`` in plans, reports and journals."""

    secret_args: tuple[str, ...] = ()

    def _shown(self) -> dict[str, Any]:
        return {k: (MASK if k in self.secret_args else v) for k, v in self.args.items()}

    def describe(self) -> str:
        kind = "mutating" if self.mutating else "read-only"
        return f"{self.script} {json.dumps(self._shown(), sort_keys=True, ensure_ascii=False)} ({kind})"

    def to_dict(self) -> dict[str, Any]:
        return {"script": self.script, "args": self._shown(), "mutating": self.mutating}


@dataclass(frozen=True)
class BitLockerVolume:
    mount_point: str
    lock_status: int
    protection_status: int
    volume_status: int | None = None
    volume_type: int | None = None
    protector_types: tuple[int, ...] = ()

    @property
    def locked(self) -> bool:
        return self.lock_status == LOCKED

    def snapshot(self) -> dict[str, Any]:
        return {
            "mount_point": self.mount_point,
            "lock_status": LOCK_STATUS.get(self.lock_status, str(self.lock_status)),
            "protection_status": PROTECTION_STATUS.get(self.protection_status, str(self.protection_status)),
            "volume_status": VOLUME_STATUS.get(self.volume_status or 0, str(self.volume_status)),
        }


@dataclass
class BitLockerState:
    available: bool
    volumes: list[BitLockerVolume] = field(default_factory=list)

    @classmethod
    def read(cls, conn: Connection) -> BitLockerState:
        data = conn.run(read("bitlocker/get.ps1")).data or {}
        volumes = [
            BitLockerVolume(
                mount_point=str(v.get("mount_point") or ""),
                lock_status=int(v.get("lock_status") or 0),
                protection_status=int(v.get("protection_status") or 0),
                volume_status=v.get("volume_status"),
                volume_type=v.get("volume_type"),
                protector_types=tuple(int(p) for p in v.get("protector_types") or []),
            )
            for v in data.get("volumes") or []
        ]
        return cls(bool(data.get("available")), volumes)

    @property
    def locked(self) -> list[BitLockerVolume]:
        return [v for v in self.volumes if v.locked]


class BitLockerRemediation(Remediation[BitLockerState]):
    """Report BitLocker-locked volumes; unlock them or turn protection off only with an explicit option."""

    slug = "bitlocker"
    title = "BitLocker-locked volumes: report, unlock or turn protection off"
    os = "windows"
    risk = Risk.DESTRUCTIVE
    answers = (
        "ExtensionSnapshotBitlockerError",
        "このドライブは、BitLocker ドライブ暗号化でロックされています。 コントロール パネルからドライブのロックを"
        "解除してください。",
    )
    params = (
        Param(
            "unlock_secret_env",
            "the NAME of an environment variable (on this machine) holding the volume's 48-digit recovery "
            "password, to unlock it with Unlock-BitLocker",
            parse=secret_env_name,
            example="BL_RECOVERY_PASSWORD",
            kind="environment variable name",
        ),
        Param(
            "disable_protection",
            "turn BitLocker off (Disable-BitLocker) on the locked volumes, as the troubleshooting page says",
            parse=parse_bool,
            default=False,
            example="true",
        ),
    )
    example = "remediate --host vm1 bitlocker --param unlock_secret_env=BL_RECOVERY_PASSWORD --yes"
    order = 110

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        env = self.values.get("unlock_secret_env")
        self._recovery_password = os.environ[env].strip() if env else None

    def check(self, conn: Connection) -> BitLockerState:
        return BitLockerState.read(conn)

    def findings(self, state: BitLockerState) -> list[Finding]:
        return [
            Finding(
                f"volume {v.mount_point}",
                v.snapshot()["lock_status"],
                not v.locked,
                f"protection {v.snapshot()['protection_status']}, {v.snapshot()['volume_status']}",
            )
            for v in state.volumes
        ]

    def plan(self, state: BitLockerState) -> Plan:
        env = self.values.get("unlock_secret_env")
        disable = bool(self.values.get("disable_protection"))
        changes: list[Change] = []
        notes: list[str] = []
        for v in state.locked:
            if self._recovery_password:
                changes.append(
                    Change(
                        summary=f"unlock {v.mount_point} with the recovery password from ${env} (Unlock-BitLocker)",
                        operation=SecretOperation(
                            "bitlocker/unlock.ps1",
                            {"mount_point": v.mount_point, "recovery_password": self._recovery_password},
                            mutating=True,
                            secret_args=("recovery_password",),
                        ),
                        before=v.snapshot(),
                        after={
                            "lock_status": "Unlocked",
                            "unlocked_with": f"recovery password from ${env} (a secret; its value is never recorded)",
                        },
                        undo=mutate("bitlocker/lock.ps1", mount_point=v.mount_point),
                    )
                )
            if disable:
                changes.append(
                    Change(
                        summary=f"turn BitLocker protection off on {v.mount_point} (Disable-BitLocker; the volume "
                        "is decrypted)",
                        operation=mutate("bitlocker/disable.ps1", mount_point=v.mount_point),
                        before=v.snapshot(),
                        after={"protection_status": "Off", "volume_status": "DecryptionInProgress"},
                        undo=None,
                        undo_note="cannot be undone automatically: turning BitLocker on again (Enable-BitLocker) "
                        "needs key protectors chosen by the operator and encrypts the volume again",
                    )
                )
            if not self._recovery_password and not disable:
                has_rp = RECOVERY_PASSWORD_PROTECTOR in v.protector_types
                notes.append(
                    f"{v.mount_point} is locked by BitLocker; nothing was changed. To unlock it, put its recovery "
                    "password in an environment variable and give --param unlock_secret_env=NAME"
                    + ("" if has_rp or not v.protector_types else " (the volume shows no recovery-password protector)")
                    + "; to turn protection off as the troubleshooting page says, add --param disable_protection=true"
                )
            elif disable and not self._recovery_password:
                notes.append(
                    f"{v.mount_point} is locked: Disable-BitLocker refuses a locked volume; give "
                    "--param unlock_secret_env=NAME as well to unlock it first"
                )
        return Plan(changes, notes)

    def verdict(self, state: BitLockerState) -> Verdict:
        locked = state.locked
        asked = bool(self._recovery_password or self.values.get("disable_protection"))
        return Verdict(
            compliant=not locked,
            reasons=[f"{v.mount_point} is locked by BitLocker" for v in locked],
            final=not asked,
        )
