"""comsysapp: start the COM+ System Application service.

Answers ExtensionSnapshotFailedCOM, ExtensionInstallationFailedCOM, ExtensionInstallationFailedMDTC and the
seed rows

- "COM+ エラーが発生したため、スナップショット操作に失敗しました" (the snapshot failed with a COM+ error);
- '"COM+: Microsoft 分散トランザクション コーディネーターと通信できませんでした" というエラーで拡張機能のインストールが失敗しました。'
- '"COM+ が Microsoft 分散トランザクション コーディネーターと通信できませんでした" というエラーでスナップショット拡張機能のインストールが失敗しました'
  (the extension could not be installed because COM+ could not talk to the Distributed Transaction Coordinator).

Check: service ``COMSysApp`` (by its service name; display names are localised) is running.

Change: start it (``net start COMSysApp`` on the page). A start cannot be undone; it needs no undo.
When it will not start, the host ends failed with Windows' own reason: run ``msdtc`` next, which sets the
MSDTC logon account and, if COM+ still fails, reinstalls MSDTC.

Verify: COMSysApp is running.

Example::

    remediate --host vm1 comsysapp --dry-run
    remediate -i inventory.yml comsysapp msdtc --yes
"""  # noqa: E501 - the seed rows are quoted whole

from __future__ import annotations

from typing import TYPE_CHECKING

from remediate.remediations.common.windows import ServiceState

from remediate.contract import Finding, Plan, Remediation, Risk, Verdict

if TYPE_CHECKING:
    from remediate.connection import Connection

SERVICE = "COMSysApp"
COM_ROWS = (
    "ExtensionSnapshotFailedCOM",
    "ExtensionInstallationFailedCOM",
    "ExtensionInstallationFailedMDTC",
    "COM+ エラーが発生したため、スナップショット操作に失敗しました",
    '"COM+: Microsoft 分散トランザクション コーディネーターと通信できませんでした" '
    "というエラーで拡張機能のインストールが失敗しました。",
    '"COM+ が Microsoft 分散トランザクション コーディネーターと通信できませんでした" '
    "というエラーでスナップショット拡張機能のインストールが失敗しました",
)


class ComSysApp(Remediation[ServiceState]):
    """Start COMSysApp (COM+ System Application) when it is not running."""

    slug = "comsysapp"
    title = "Start the COM+ System Application service"
    os = "windows"
    risk = Risk.SAFE
    answers = COM_ROWS
    example = "remediate --host vm1 comsysapp --dry-run"
    order = 50

    def check(self, conn: Connection) -> ServiceState:
        return ServiceState.read(conn, SERVICE)

    def findings(self, state: ServiceState) -> list[Finding]:
        seen = f"{state.status} ({state.start_type})" if state.exists else "not installed"
        return [Finding(f"service {SERVICE}", seen, state.running, "wanted: Running")]

    def plan(self, state: ServiceState) -> Plan:
        if not state.exists:
            return Plan(notes=[f"service {SERVICE} does not exist: COM+ is not installed, nothing to start"])
        if state.running:
            return Plan()
        notes = [f"if {SERVICE} will not start, run `msdtc` next: MSDTC's logon account, then its reinstall"]
        if state.disabled:
            notes.append(f"{SERVICE} is Disabled, so it will not start; set its start type to Manual first")
        return Plan([state.start(f"start service {SERVICE} (COM+ System Application)")], notes)

    def verdict(self, state: ServiceState) -> Verdict:
        if not state.exists:
            return Verdict(False, [f"service {SERVICE} does not exist"], final=True)
        if state.running:
            return Verdict(True)
        return Verdict(False, [f"{SERVICE} is {state.status}: run `msdtc` next"])
