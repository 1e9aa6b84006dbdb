"""msdtc: give the Distributed Transaction Coordinator its NetworkService logon, and reinstall it if COM+
still will not start.

Answers the same rows as ``comsysapp`` when COMSysApp will not start: ExtensionSnapshotFailedCOM,
ExtensionInstallationFailedCOM, ExtensionInstallationFailedMDTC and the seed rows

- "COM+ エラーが発生したため、スナップショット操作に失敗しました" (the snapshot failed with a COM+ error);
- '"COM+: Microsoft 分散トランザクション コーディネーターと通信できませんでした" というエラーで拡張機能のインストールが失敗しました。'
- '"COM+ が Microsoft 分散トランザクション コーディネーターと通信できませんでした" というエラーでスナップショット拡張機能のインストールが失敗しました'
  (the extension could not be installed because COM+ could not talk to the Distributed Transaction Coordinator).

Check: service ``MSDTC`` exists (MSDTC installed), runs, and logs on as NetworkService -- compared by SID
``S-1-5-20``, never by name, since Japanese, German or French Windows spell the account differently -- and
``COMSysApp`` runs.

Change, in the page's order:

1. a wrong logon account: set ``NT AUTHORITY\\NetworkService`` (undo: the previous built-in account) and
   restart MSDTC; a stopped MSDTC is started;
2. start COMSysApp once (``start_comsysapp.ps1`` reports Windows' reason instead of failing);
3. if COMSysApp still does not run: ``reinstall.ps1`` stops MSDTC, runs ``msdtc -uninstall`` and
   ``msdtc -install``, starts MSDTC, starts COMSysApp. A missing MSDTC is installed the same way.

Restarts and the reinstall cannot be undone (their ``undo_note`` says so). When COMSysApp still will not
start after the reinstall, the host ends failed with Windows' own words: the page's next steps are a VM
restart and removing the VMSnapshot extension.

Verify: MSDTC and COMSysApp running, MSDTC as NetworkService.

Example::

    remediate --host vm1 msdtc --dry-run
    remediate -i inventory.yml comsysapp msdtc --yes
"""  # noqa: E501 - the seed rows are quoted whole

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from remediate.remediations.common.windows import NETWORK_SERVICE, ServiceState
from remediate.remediations.comsysapp import COM_ROWS

from remediate.contract import Change, Finding, Plan, Remediation, Risk, Verdict
from remediate.operation import mutate

if TYPE_CHECKING:
    from remediate.connection import Connection

MSDTC = "MSDTC"
COMSYSAPP = "COMSysApp"
REINSTALL = "msdtc/reinstall.ps1"
START_COMSYSAPP = "msdtc/start_comsysapp.ps1"
SERVICE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ComPlus:
    """MSDTC and COMSysApp as the host reports them."""

    msdtc: ServiceState
    comsysapp: ServiceState

    @property
    def msdtc_logon_ok(self) -> bool:
        return self.msdtc.logon_sid == NETWORK_SERVICE

    @property
    def problems(self) -> list[str]:
        out = []
        if not self.msdtc.exists:
            out.append("MSDTC is not installed")
        else:
            if not self.msdtc_logon_ok:
                out.append(f"MSDTC logs on as {self.msdtc.logon!r} ({self.msdtc.logon_sid}), not NetworkService")
            if not self.msdtc.running:
                out.append(f"MSDTC is {self.msdtc.status}")
        if not self.comsysapp.running:
            out.append(f"COMSysApp is {self.comsysapp.status if self.comsysapp.exists else 'not installed'}")
        return out


def reinstall_change(state: ComPlus) -> Change:
    """The page's last step: uninstall and install MSDTC, then start MSDTC and COMSysApp."""
    action = "reinstall" if state.msdtc.exists else "install"
    return Change(
        summary=f"{action} MSDTC (msdtc -uninstall, msdtc -install), start MSDTC and COMSysApp",
        operation=mutate(REINSTALL, timeout=SERVICE_TIMEOUT_S * 6 + 60, timeout_s=SERVICE_TIMEOUT_S),
        before={"msdtc": state.msdtc.snapshot(), "comsysapp": state.comsysapp.snapshot()},
        after={"msdtc": {"status": "Running", "logon_sid": NETWORK_SERVICE}, "comsysapp": {"status": "Running"}},
        undo_note="a reinstall cannot be undone: MSDTC comes back with its default configuration",
    )


class Msdtc(Remediation[ComPlus]):
    """Fix MSDTC's logon account and state; reinstall it when COM+ still will not start."""

    slug = "msdtc"
    title = "Repair the Distributed Transaction Coordinator for COM+"
    os = "windows"
    risk = Risk.DISRUPTIVE
    answers = COM_ROWS
    example = "remediate --host vm1 msdtc --dry-run"
    order = 60

    def check(self, conn: Connection) -> ComPlus:
        return ComPlus(*ServiceState.read_many(conn, [MSDTC, COMSYSAPP]))  # one round trip

    def findings(self, state: ComPlus) -> list[Finding]:
        msdtc, com = state.msdtc, state.comsysapp
        return [
            Finding(
                f"service {MSDTC}",
                f"{msdtc.status}, logon {msdtc.logon} ({msdtc.logon_sid})" if msdtc.exists else "not installed",
                msdtc.running and state.msdtc_logon_ok,
                f"wanted: Running as NetworkService ({NETWORK_SERVICE})",
            ),
            Finding(f"service {COMSYSAPP}", str(com.status) if com.exists else "not installed", com.running),
        ]

    def plan(self, state: ComPlus) -> Plan:
        if not state.comsysapp.exists:
            return Plan(notes=[f"service {COMSYSAPP} does not exist: COM+ is not installed"])
        if not state.msdtc.exists:
            return Plan([reinstall_change(state)])
        changes = []
        if not state.msdtc_logon_ok:
            changes.append(
                state.msdtc.configure("set the MSDTC logon account to NetworkService", logon=NETWORK_SERVICE)
            )
            changes.append(state.msdtc.restart("restart MSDTC with its new logon account", SERVICE_TIMEOUT_S))
        elif not state.msdtc.running:
            changes.append(state.msdtc.start("start MSDTC", SERVICE_TIMEOUT_S))
        if not state.comsysapp.running:
            changes.append(
                Change(
                    summary=f"start {COMSYSAPP} (reinstall MSDTC next if it still will not start)",
                    operation=mutate(START_COMSYSAPP, timeout=SERVICE_TIMEOUT_S * 2 + 30, timeout_s=SERVICE_TIMEOUT_S),
                    before=state.comsysapp.snapshot(),
                    after={"status": "Running"},
                    undo_note="a service start cannot be undone; COMSysApp keeps running",
                )
            )
        return Plan(changes)

    def verdict(self, state: ComPlus) -> Verdict:
        problems = state.problems
        return Verdict(not problems, problems, final=not state.comsysapp.exists)

    def escalate(self, state: ComPlus, applied: Sequence[Plan]) -> Plan:
        """After the logon fix, a COMSysApp that still will not start: reinstall MSDTC, once."""
        reinstalled = any(c.operation.script == REINSTALL for p in applied for c in p.changes)
        if reinstalled or not state.comsysapp.exists:
            return Plan()
        return Plan(
            [reinstall_change(state)],
            notes=[f"{COMSYSAPP} still does not run after the MSDTC logon fix: reinstalling MSDTC as the page says"],
        )
