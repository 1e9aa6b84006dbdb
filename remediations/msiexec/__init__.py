"""msiexec: let Windows Installer run again and install the Visual C++ redistributable the extension needs.

Answers ExtensionVCRedistInstallationFailure, ExtensionInstallationFailure and the seed row

- "Visual Studio 2012 用の Visual C++ 再配布可能プログラムをインストールできないため、スナップショット操作が失敗しました"
  (the snapshot failed because the Visual C++ redistributable for Visual Studio 2012 could not be installed).

Check (``status.ps1``, the service and the registry): the service ``msiserver`` is not Disabled in the Service
Control Manager, and ``HKLM\\SYSTEM\\CurrentControlSet\\Services\\Msiserver`` ``Start`` (what the SCM reads at the
next boot) is not 4 either; Windows Installer is registered; the x64 redistributable that the
newest folder under ``C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\`` ships is installed
(``vcredist2013_x64``; older extensions ship ``vcredist2012_x64``). The newest folder is chosen by its
parsed version (``1.0.100.0`` is newer than ``1.0.99.0``), never by string order.

Change, in the page's order:

1. start type Manual (``Start`` = 3) through the SCM (``sc.exe config msiserver start= demand``): a value
   written straight to the registry is not read before a reboot, and the installer would stay disabled;
   undo sets the previous start type back the same way;
2. when the installer is not registered: ``msiexec /unregister`` then ``msiexec /regserver``;
3. run the redistributable installer from that folder (``/install /quiet /norestart``).

If the redistributable is still missing afterwards and the installer was not re-registered yet, it is
re-registered and the installer run once more (the page's "if the problem persists"). Re-registering and
installing cannot be undone (``undo_note``).

Verify: msiserver not Disabled (SCM and registry), installer registered, redistributable present.

Example::

    remediate --host vm1 msiexec --dry-run
    remediate -i inventory.yml msiexec --yes
"""  # noqa: E501 - the seed row is quoted whole

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.remediations.common.windows import RegistryValue, ServiceState, as_list

from remediate.contract import Change, Finding, Plan, Remediation, Risk, Verdict
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

MSISERVER_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Msiserver"
MANUAL = 3
DISABLED = 4
SERVICE = "msiserver"
STATUS = "msiexec/status.ps1"
REREGISTER = "msiexec/reregister.ps1"
INSTALL = "msiexec/install_vcredist.ps1"
# The installers the extension ships, preferred first, and the redistributable each one installs.
INSTALLERS = {"vcredist2013_x64.exe": "2013_x64", "vcredist2012_x64.exe": "2012_x64"}
INSTALL_TIMEOUT_S = 600.0


def parse_version(text: str) -> tuple[int, ...] | None:
    """A folder name as PowerShell's ``[version]`` reads it (2 to 4 numbers), or None."""
    parts = text.split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class ExtensionFolder:
    """One version folder of the VMSnapshot extension and the redistributable installers in it."""

    name: str
    installers: tuple[str, ...]

    @property
    def installer(self) -> str | None:
        """The installer to run: vcredist2013_x64, else vcredist2012_x64."""
        return next((i for i in INSTALLERS if i in self.installers), None)


def newest_folder(folders: Sequence[ExtensionFolder]) -> ExtensionFolder | None:
    versioned = [(v, f) for f in folders if (v := parse_version(f.name)) is not None]
    return max(versioned, key=lambda item: item[0])[1] if versioned else None


@dataclass(frozen=True)
class InstallerState:
    start: RegistryValue
    service: ServiceState
    registered: bool
    redist: dict[str, bool] = field(default_factory=dict)
    folders: tuple[ExtensionFolder, ...] = ()
    root: str = ""

    @classmethod
    def read(cls, conn: Connection) -> InstallerState:
        start_result, service_result, status = conn.run_many(  # one round trip
            [RegistryValue.operation(MSISERVER_KEY, "Start"), ServiceState.operation(SERVICE), read(STATUS)]
        )
        start = RegistryValue.from_data(MSISERVER_KEY, "Start", start_result.data)
        service = ServiceState.from_data(SERVICE, service_result.data)
        data: dict[str, Any] = status.data or {}
        folders = as_list(data.get("folders"))
        return cls(
            start=start,
            service=service,
            registered=bool(data.get("installer_registered")),
            redist={str(k): bool(v) for k, v in (data.get("redist") or {}).items()},
            folders=tuple(ExtensionFolder(str(f.get("name")), tuple(as_list(f.get("installers")))) for f in folders),
            root=str(data.get("root") or ""),
        )

    @property
    def start_ok(self) -> bool:
        """Startable now (the SCM's configuration) and after the next boot (the registry value)."""
        if not self.service.exists:
            return True  # nothing to configure: registering Windows Installer creates the service
        return not self.service.disabled and not self.start.equals(DISABLED, "REG_DWORD")

    @property
    def source(self) -> tuple[ExtensionFolder, str] | None:
        """The newest extension folder and the installer to run from it, if it ships one."""
        folder = newest_folder(self.folders)
        if folder is None or folder.installer is None:
            return None
        return folder, folder.installer

    @property
    def needed(self) -> str | None:
        """The redistributable the newest extension needs (None when no folder ships one)."""
        source = self.source
        return INSTALLERS[source[1]] if source else None

    @property
    def redist_present(self) -> bool:
        needed = self.needed
        return self.redist.get(needed, False) if needed else any(self.redist.values())


def reregister_change(state: InstallerState) -> Change:
    return Change(
        summary="register Windows Installer again (msiexec /unregister, msiexec /regserver)",
        operation=mutate(REREGISTER, timeout=300, timeout_s=120),
        before={"registered": state.registered},
        after={"registered": True},
        undo_note="re-registering Windows Installer cannot be undone, and leaves it as Windows installs it",
    )


def install_change(state: InstallerState) -> Change | None:
    source = state.source
    if source is None:
        return None
    folder, installer = source
    return Change(
        summary=f"install {installer[:-4]} from {state.root or 'the VMSnapshot extension'}\\{folder.name}",
        operation=mutate(
            INSTALL,
            timeout=INSTALL_TIMEOUT_S + 60,
            version=folder.name,
            installer=installer,
            timeout_s=INSTALL_TIMEOUT_S,
        ),
        before={"redist": dict(state.redist)},
        after={"redist": {INSTALLERS[installer]: True}},
        undo_note="a redistributable install is not undone; remove it in Programs and Features if ever needed",
    )


class Msiexec(Remediation[InstallerState]):
    """Windows Installer startable and registered; the extension's Visual C++ redistributable installed."""

    slug = "msiexec"
    title = "Windows Installer and the Visual C++ redistributable"
    os = "windows"
    risk = Risk.DISRUPTIVE
    answers = (
        "ExtensionVCRedistInstallationFailure",
        "ExtensionInstallationFailure",
        "Visual Studio 2012 用の Visual C++ 再配布可能プログラムをインストールできないため、"
        "スナップショット操作が失敗しました",
    )
    example = "remediate --host vm1 msiexec --dry-run"
    order = 100

    def check(self, conn: Connection) -> InstallerState:
        return InstallerState.read(conn)

    def findings(self, state: InstallerState) -> list[Finding]:
        start = f"{state.service.start_type} (Start = {state.start.data!r})" if state.service.exists else "no service"
        needed = state.needed or "any x64 redistributable"
        return [
            Finding(f"service {SERVICE} start type", start, state.start_ok, "wanted: Manual (Start = 3), not Disabled"),
            Finding("Windows Installer", "registered" if state.registered else "not registered", state.registered),
            Finding(
                f"Visual C++ redistributable {needed}",
                "installed" if state.redist_present else "missing",
                state.redist_present,
                f"installers in the newest extension folder: {state.source[1] if state.source else 'none'}",
            ),
        ]

    def plan(self, state: InstallerState) -> Plan:
        changes: list[Change] = []
        notes: list[str] = []
        if not state.start_ok:
            changes.append(
                state.service.configure(
                    f"set service {SERVICE} to Manual (sc.exe config, not Disabled)", start_type="Manual"
                )
            )
        if not state.registered:
            changes.append(reregister_change(state))
        if not state.redist_present:
            install = install_change(state)
            if install is not None:
                changes.append(install)
            else:
                notes.append(
                    "no version folder of the VMSnapshot extension ships vcredist2013_x64 or vcredist2012_x64: "
                    "reinstall the extension (remove it in the portal and back up again), then run this again"
                )
        return Plan(changes, notes)

    def verdict(self, state: InstallerState) -> Verdict:
        reasons = []
        if not state.start_ok:
            reasons.append(f"service {SERVICE} is {state.service.start_type} (Start = {state.start.data!r})")
        if not state.registered:
            reasons.append("Windows Installer is not registered")
        if not state.redist_present:
            reasons.append(f"the Visual C++ redistributable {state.needed or '(x64)'} is not installed")
        return Verdict(not reasons, reasons, final=bool(reasons) and state.source is None and state.registered)

    def escalate(self, state: InstallerState, applied: Sequence[Plan]) -> Plan:
        """The page's "if the problem persists": register the installer again, then install once more."""
        if any(c.operation.script == REREGISTER for p in applied for c in p.changes):
            return Plan()
        install = install_change(state) if not state.redist_present else None
        if state.registered and install is None:
            return Plan()  # nothing that registering again could help
        changes = [reregister_change(state), *([install] if install else [])]
        return Plan(changes, notes=["still failing: registering Windows Installer again, as the page says"])
