"""vm-agent: the Azure VM agent's services running and automatic, and the agent recent enough.

Answers UserErrorGuestAgentStatusUnavailable, GuestAgentSnapshotTaskStatusError, "VM agent not present" and
"Recovery Services extension operation failed"; seed rows "VM エージェントが Azure Backup サービスと通信
できません。", "VM エージェントが応答していないため、この操作を実行できません", "Recovery Services 拡張機能の操作に
失敗しました。", "仮想マシン エージェントが仮想マシン上に存在しません", "選択した項目に Azure Recovery Services
拡張機能をインストールできませんでした" and, after removing a failed extension, "VM はプロビジョニングに失敗した状態
です".

Check: services ``WindowsAzureGuestAgent`` and ``RdAgent`` exist, are running and start automatically;
the agent that runs -- the newest ``C:\\WindowsAzure\\GuestAgent_*`` folder by the product version of its
``WindowsAzureGuestAgent.exe``, not the MSI's copy in ``Packages\\WaAppAgent.exe``, which stays at the installed
version while the agent updates itself -- is version 2.7.41491.1010 or later (compared as numbers;
the 2018 troubleshooting page's floor was 2.6.1198.718, which is too old today); ``iaasvmprovider`` starts
automatically where it is installed.

Change: set the start types (undo sets them back), start the stopped services (a start cannot be undone). An
agent that is missing or older than the floor is installed only from the MSI the operator names with
``agent_msi`` -- a local or UNC path ending ``.msi``, or an https URL -- never downloaded otherwise; msiexec
runs ``/i <msi> /quiet /norestart``. A reinstall cannot be undone.

Example::

    remediate --host vm1 vm-agent --dry-run
    remediate -i inventory.yml vm-agent --param agent_msi=\\\\fileserver\\share\\WindowsAzureVmAgent.msi --yes
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from remediate.remediations.common.windows import ServiceState

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk, Verdict
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

AGENT_ROOT = "C:\\WindowsAzure"
AGENT_EXE = "C:\\WindowsAzure\\GuestAgent_*\\WindowsAzureGuestAgent.exe"  # the newest folder runs
REQUIRED_SERVICES = ("WindowsAzureGuestAgent", "RdAgent")
OPTIONAL_SERVICES = ("iaasvmprovider",)
VERSION_FLOOR = "2.7.41491.1010"
PAGE_FLOOR = "2.6.1198.718"  # "Troubleshoot Azure VM backup" (2018): 製品バージョンが 2.6.1198.718 以上


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """``"2.7.41491.1010"`` -> ``(2, 7, 41491, 1010)``; None when it is not a dotted version."""
    if not text or not re.fullmatch(r"\d+(\.\d+){1,3}", text.strip()):
        return None
    parts = tuple(int(p) for p in text.strip().split("."))
    return parts + (0,) * (4 - len(parts))


def msi_source(raw: str) -> str:
    """Validate ``agent_msi``: a local or UNC path ending ``.msi``, or an https URL."""
    text = str(raw).strip()
    if not text or any(ord(c) < 32 for c in text) or '"' in text:
        raise ValueError("give a path or URL without quotes or control characters")
    lower = text.lower()
    if lower.startswith("https://"):
        parts = urlsplit(text)
        if not parts.hostname or " " in text:
            raise ValueError(f"{text!r} is not a usable https URL")
        return text
    if lower.startswith("http://"):
        raise ValueError("plain http is refused: give an https URL or a path")
    local = re.fullmatch(r"[A-Za-z]:\\[^<>|?*]+", text)
    unc = re.fullmatch(r"\\\\[^\\/<>|?*]+\\[^\\/<>|?*]+\\[^<>|?*]+", text)
    if not (local or unc):
        raise ValueError(
            "give a local path (C:\\...\\WindowsAzureVmAgent.msi), a UNC path (\\\\server\\share\\...msi) "
            "or an https URL"
        )
    if not lower.endswith(".msi"):
        raise ValueError(f"{text!r} does not end in .msi")
    return text


@dataclass
class AgentState:
    services: dict[str, ServiceState] = field(default_factory=dict)
    exe_exists: bool = False
    version: str | None = None  # of the agent that runs (the newest GuestAgent_* folder)
    folder: str | None = None
    packages_version: str | None = None  # the MSI's copy, Packages\\WaAppAgent.exe

    @classmethod
    def read(cls, conn: Connection) -> AgentState:
        names = REQUIRED_SERVICES + OPTIONAL_SERVICES
        *found, agent = conn.run_many(  # one round trip
            [*(ServiceState.operation(name) for name in names), read("vm_agent/get.ps1", root=AGENT_ROOT)]
        )
        services = {name: ServiceState.from_data(name, r.data) for name, r in zip(names, found, strict=True)}
        data = agent.data or {}
        return cls(
            services,
            bool(data.get("exists")),
            data.get("version"),
            data.get("folder"),
            data.get("packages_version"),
        )

    @property
    def version_ok(self) -> bool:
        have = version_tuple(self.version)
        return self.exe_exists and have is not None and have >= version_tuple(VERSION_FLOOR)  # type: ignore[operator]

    @property
    def installed(self) -> bool:
        return self.exe_exists and all(self.services[n].exists for n in REQUIRED_SERVICES)

    def problems(self) -> list[str]:
        out = []
        if not self.exe_exists:
            out.append(f"{AGENT_EXE} is missing: the VM agent is not installed")
        elif not self.version_ok:
            out.append(f"agent version {self.version} is older than {VERSION_FLOOR}")
        for name in REQUIRED_SERVICES:
            svc = self.services[name]
            if not svc.exists:
                out.append(f"service {name} does not exist")
                continue
            if svc.start_type != "Automatic":
                out.append(f"service {name} starts {svc.start_type}, not Automatic")
            if not svc.running:
                out.append(f"service {name} is {svc.status}")
        for name in OPTIONAL_SERVICES:
            svc = self.services.get(name)
            if svc is not None and svc.exists and svc.start_type != "Automatic":
                out.append(f"service {name} starts {svc.start_type}, not Automatic")
        return out


class VmAgentRemediation(Remediation[AgentState]):
    """Keep the Azure VM agent running, automatic and at or above the version floor."""

    slug = "vm-agent"
    title = "Azure VM agent running, automatic and up to date"
    os = "windows"
    risk = Risk.DISRUPTIVE
    answers = (
        "UserErrorGuestAgentStatusUnavailable",
        "GuestAgentSnapshotTaskStatusError",
        "VM agent not present",
        "Recovery Services extension operation failed",
        "VM エージェントが Azure Backup サービスと通信できません。",
        "VM エージェントが応答していないため、この操作を実行できません",
        "Recovery Services 拡張機能の操作に失敗しました。",
        "仮想マシン エージェントが仮想マシン上に存在しません",
        "選択した項目に Azure Recovery Services 拡張機能をインストールできませんでした",
    )
    params = (
        Param(
            "agent_msi",
            "the VM agent installer to use when the agent is missing or too old: a local or UNC path ending .msi, "
            "or an https URL (nothing is downloaded unless given here)",
            parse=msi_source,
            kind="path or https URL of an .msi",
            example="\\\\fileserver\\share\\WindowsAzureVmAgent.msi",
        ),
    )
    example = "remediate --host vm1 vm-agent --param agent_msi=C:\\Packages\\WindowsAzureVmAgent.msi --yes"
    order = 120
    verify_attempts = 3
    verify_delay = 5.0

    def check(self, conn: Connection) -> AgentState:
        return AgentState.read(conn)

    def findings(self, state: AgentState) -> list[Finding]:
        out = [
            Finding(
                state.folder or AGENT_EXE,
                state.version or "missing",
                state.version_ok,
                f"floor {VERSION_FLOOR} (the 2018 page's floor: {PAGE_FLOOR})"
                + (f"; Packages\\WaAppAgent.exe is {state.packages_version}" if state.packages_version else ""),
            )
        ]
        for name in REQUIRED_SERVICES + OPTIONAL_SERVICES:
            svc = state.services[name]
            if not svc.exists:
                out.append(Finding(f"service {name}", "absent", name in OPTIONAL_SERVICES))
                continue
            ok = svc.start_type == "Automatic" and (svc.running or name in OPTIONAL_SERVICES)
            out.append(Finding(f"service {name}", f"{svc.status}, {svc.start_type}", ok))
        return out

    def _needs_install(self, state: AgentState) -> bool:
        return not state.installed or not state.version_ok

    def plan(self, state: AgentState) -> Plan:
        changes: list[Change] = []
        notes: list[str] = []
        msi = self.values.get("agent_msi")
        have = version_tuple(state.version)
        if self._needs_install(state):
            why = "missing" if not state.installed else f"at version {state.version}, older than {VERSION_FLOOR}"
            if have is not None and have >= version_tuple(PAGE_FLOOR):  # type: ignore[operator]
                notes.append(
                    f"agent version {state.version} meets the 2018 troubleshooting page's floor {PAGE_FLOOR} "
                    f"but not the current floor {VERSION_FLOOR}"
                )
            if msi:
                changes.append(
                    Change(
                        summary=f"install the VM agent from {msi} (msiexec /i /quiet /norestart): the agent is {why}",
                        operation=mutate("vm_agent/install_msi.ps1", timeout=1800, source=msi),
                        before={
                            "version": state.version if state.exe_exists else None,
                            "services": {n: state.services[n].snapshot() for n in REQUIRED_SERVICES},
                        },
                        after={"version": f">= {VERSION_FLOOR}"},
                        undo=None,
                        undo_note="a reinstall cannot be undone"
                        + (f"; the previous agent was version {state.version}" if state.exe_exists else ""),
                    )
                )
            else:
                notes.append(
                    f"the VM agent is {why}; nothing is downloaded implicitly: give the installer with "
                    "--param agent_msi=PATH_OR_HTTPS_URL (https://go.microsoft.com/fwlink/?LinkID=394789)"
                )
        for name in REQUIRED_SERVICES + OPTIONAL_SERVICES:
            svc = state.services[name]
            if svc.exists and svc.start_type != "Automatic":
                changes.append(svc.configure(start_type="Automatic"))
        for name in REQUIRED_SERVICES:
            svc = state.services[name]
            if svc.exists and not svc.running:
                changes.append(svc.start(f"start service {name} (it is {svc.status})"))
        return Plan(changes, notes)

    def verdict(self, state: AgentState) -> Verdict:
        problems = state.problems()
        final = self._needs_install(state) and not self.values.get("agent_msi")
        return Verdict(compliant=not problems, reasons=problems, final=final)
