"""strong-crypto: let .NET Framework use strong cryptography (TLS 1.2) for the backup extension.

Answers ExtensionSnapshotFailedNoSecureNetwork, seed row
"セキュリティで保護されたネットワーク通信チャネルを作成できないため、スナップショット操作が失敗しました"
(the snapshot failed because a secure network channel could not be created): without strong cryptography,
.NET Framework offers only old TLS versions, which Azure's endpoints refuse.

Check: every ``v*`` subkey (each installed .NET Framework version) of ``HKLM\\SOFTWARE\\Microsoft\\.NETFramework``
and of ``HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\.NETFramework`` (the 32-bit side), listed by
``list_versions.ps1`` with their values.

Change: ``SchUseStrongCrypto`` = 1 (REG_DWORD) in each version key, and ``SystemDefaultTlsVersions`` = 1
(REG_DWORD) in ``v4.0.30319``; a value of another type (a REG_SZ "1") is replaced. Undo writes each previous
value back, or removes it when there was none.

Verify: list the keys again and read every value back.

Example::

    remediate --host vm1 strong-crypto --dry-run
    remediate -i inventory.yml strong-crypto
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.remediations.common.windows import RegistryValue, as_list

from remediate.contract import Finding, Plan, Remediation, Risk
from remediate.operation import read

if TYPE_CHECKING:
    from remediate.connection import Connection

ROOTS = (
    "HKLM\\SOFTWARE\\Microsoft\\.NETFramework",
    "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\.NETFramework",
)
STRONG_CRYPTO = "SchUseStrongCrypto"
SYSTEM_TLS = "SystemDefaultTlsVersions"
TLS_VERSION_KEY = "v4.0.30319"
LIST_VERSIONS = "strong_crypto/list_versions.ps1"


@dataclass(frozen=True)
class FrameworkVersion:
    """One ``v*`` key and the values read from it."""

    name: str
    path: str
    values: dict[str, RegistryValue]

    def wanted(self) -> dict[str, int]:
        """The values this version key must have (all REG_DWORD)."""
        out = {STRONG_CRYPTO: 1}
        if self.name.lower() == TLS_VERSION_KEY:
            out[SYSTEM_TLS] = 1
        return out


@dataclass(frozen=True)
class FrameworkKeys:
    """What ``list_versions.ps1`` found: the version keys, and the roots that do not exist."""

    versions: list[FrameworkVersion] = field(default_factory=list)
    missing_roots: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, conn: Connection) -> FrameworkKeys:
        names = [STRONG_CRYPTO, SYSTEM_TLS]
        data = conn.run(read(LIST_VERSIONS, roots=list(ROOTS), names=names)).data or {}
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> FrameworkKeys:
        versions, missing = [], []
        for root in as_list(data.get("roots")):
            if not root.get("exists"):
                missing.append(str(root.get("path")))
            for entry in as_list(root.get("versions")):
                path = str(entry["path"])
                values = {
                    name: RegistryValue.from_data(path, name, {"key_exists": True, **(raw or {})})
                    for name, raw in (entry.get("values") or {}).items()
                }
                versions.append(FrameworkVersion(str(entry["name"]), path, values))
        return cls(versions, missing)


class StrongCrypto(Remediation[FrameworkKeys]):
    """``SchUseStrongCrypto`` = 1 on every .NET Framework version, ``SystemDefaultTlsVersions`` = 1 on v4."""

    slug = "strong-crypto"
    title = ".NET Framework strong cryptography (TLS 1.2)"
    os = "windows"
    risk = Risk.SAFE
    answers = (
        "ExtensionSnapshotFailedNoSecureNetwork",
        "セキュリティで保護されたネットワーク通信チャネルを作成できないため、スナップショット操作が失敗しました",
    )
    example = "remediate --host vm1 strong-crypto --dry-run"
    order = 70

    def check(self, conn: Connection) -> FrameworkKeys:
        return FrameworkKeys.read(conn)

    def findings(self, state: FrameworkKeys) -> list[Finding]:
        out = []
        for version in state.versions:
            for name, data in version.wanted().items():
                value = version.values.get(name) or RegistryValue(version.path, name, exists=False)
                out.append(
                    Finding(
                        f"{version.path}\\{name}",
                        f"{value.data!r} ({value.type})" if value.exists else "not set",
                        value.equals(data, "REG_DWORD"),
                        f"wanted: {data} (REG_DWORD)",
                    )
                )
        return out

    def plan(self, state: FrameworkKeys) -> Plan:
        changes = []
        for version in state.versions:
            for name, data in version.wanted().items():
                value = version.values.get(name) or RegistryValue(version.path, name, exists=False, key_exists=True)
                if not value.equals(data, "REG_DWORD"):
                    changes.append(
                        value.change_to(data, "REG_DWORD", f"set {name} = {data} (REG_DWORD) in {version.path}")
                    )
        notes = [f"{root} does not exist: no .NET Framework there" for root in state.missing_roots]
        if not state.versions:
            notes.append("no .NET Framework version key (v*) was found: nothing to set")
        return Plan(changes, notes)
