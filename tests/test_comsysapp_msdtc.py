"""comsysapp and msdtc against lab Windows hosts, through the playbook: COM+ that starts, an MSDTC with the
wrong logon account, a damaged MSDTC that only a reinstall cures, and a COM+ that nothing cures."""

from __future__ import annotations

import pytest
from lab_run import lab_run
from remediate.remediations.common.windows import ServiceState
from remediate.remediations.msdtc import REINSTALL, START_COMSYSAPP, ComPlus, Msdtc

from remediate import remediations
from remediate.operation import Operation

COM_ERROR_EN = "COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator"
COM_ERROR_JA = "COM+ が Microsoft 分散トランザクション コーディネーターと通信できませんでした"


def _scripts(step) -> list[str]:
    return [c["operation"]["script"] for c in step.applied]


def test_comsysapp_started_verified_and_second_run_clean(tmp_path) -> None:
    with lab_run(tmp_path, "windows-comsysapp-stopped") as lr:
        dry, _ = lr.run("comsysapp", dry_run=True)
        assert dry.status == "pending" and dry.pending == 1, dry.reason
        (change,) = dry.steps[0].planned
        assert change["operation"]["args"] == {"name": "COMSysApp", "action": "start", "timeout_s": 60.0}
        assert change["before"]["status"] == "Stopped" and change["undo"] is None and change["undo_note"]
        assert lr.mutations() == []
        assert lr.machine()["services"]["COMSysApp"]["status"] == "Stopped"

        done, _ = lr.run("comsysapp")  # safe: no --yes
        assert done.status == "changed" and done.steps[0].verified, done.reason
        assert lr.machine()["services"]["COMSysApp"]["status"] == "Running"
        again, _ = lr.run("comsysapp")
        assert again.status == "ok" and again.changes == 0


def test_healthy_host_needs_neither(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        result, _ = lr.run(["comsysapp", "msdtc"], dry_run=True)
        assert result.status == "ok" and [s.status for s in result.steps] == ["ok", "ok"]
        assert lr.mutations() == []


def test_comsysapp_that_will_not_start_fails_with_the_com_error_then_msdtc_fixes_the_logon(tmp_path):
    with lab_run(tmp_path, "windows-msdtc-logon") as lr:
        com, _ = lr.run("comsysapp")
        assert com.status == "failed"
        assert COM_ERROR_EN in com.reason and "COMSysApp" in com.reason, com.reason
        assert com.steps[0].error["remote"] and COM_ERROR_EN in com.steps[0].error["remote"]
        assert any("run `msdtc` next" in n for n in com.steps[0].notes)
        tried = lr.mutations()  # the start that failed

        dry, _ = lr.run("msdtc", dry_run=True)
        assert dry.status == "pending", dry.reason
        planned = dry.steps[0].planned
        assert [c["operation"]["script"] for c in planned] == [
            "common/service_config.ps1",
            "common/service_control.ps1",
            START_COMSYSAPP,
        ]
        assert planned[0]["operation"]["args"] == {"name": "MSDTC", "logon": "S-1-5-20"}
        assert planned[0]["before"]["logon_sid"] == "S-1-5-18"
        assert planned[0]["undo"]["args"] == {"name": "MSDTC", "logon": "S-1-5-18"}
        assert planned[1]["undo_note"] and planned[2]["undo_note"]
        assert lr.mutations() == tried

        skipped, _ = lr.run("msdtc")  # disruptive: refused without --yes
        assert skipped.status == "skipped" and lr.mutations() == tried

        done, report = lr.run("msdtc", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        assert REINSTALL not in _scripts(done.steps[0])  # the logon fix was enough
        services = lr.machine()["services"]
        assert services["MSDTC"]["logon"] == "NT AUTHORITY\\NetworkService"
        assert services["MSDTC"]["status"] == "Running" and services["COMSysApp"]["status"] == "Running"
        assert lr.machine()["msdtc"] == {"installed": True, "broken": False}

        again, _ = lr.run(["comsysapp", "msdtc"], assume_yes=True)
        assert again.status == "ok" and again.changes == 0, again.reason

        undone = lr.undo(report.run_id)
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        assert lr.machine()["services"]["MSDTC"]["logon"] == "LocalSystem"
        notes = " ".join(undone.hosts[0].steps[0].notes)
        assert "cannot undo" in notes and "restart" in notes


def test_damaged_msdtc_is_reinstalled_after_the_logon_fix_is_not_enough_ja(tmp_path) -> None:
    with lab_run(tmp_path, "windows-msdtc-broken-ja") as lr:
        com, _ = lr.run("comsysapp")
        assert com.status == "failed" and COM_ERROR_JA in com.reason, com.reason

        done, _ = lr.run("msdtc", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        step = done.steps[0]
        assert _scripts(step) == [
            "common/service_config.ps1",
            "common/service_control.ps1",
            START_COMSYSAPP,
            REINSTALL,
        ]
        tried = step.applied[2]["result"]
        assert tried["started"] is False and COM_ERROR_JA in tried["error"]
        assert step.applied[3]["result"]["steps"] == [
            "stopped MSDTC",
            "msdtc -uninstall",
            "msdtc -install",
            "started MSDTC",
            "started COMSysApp",
        ]
        assert any("reinstalling MSDTC" in n for n in step.notes)
        machine = lr.machine()
        assert machine["msdtc"] == {"installed": True, "broken": False}
        assert machine["services"]["COMSysApp"]["status"] == "Running"
        assert lr.run(["comsysapp", "msdtc"], assume_yes=True)[0].changes == 0


def test_broken_msdtc_with_the_right_logon_goes_straight_to_the_reinstall(tmp_path) -> None:
    with lab_run(tmp_path, "windows-msdtc-broken") as lr:
        done, _ = lr.run("msdtc", assume_yes=True)
        assert done.status == "changed", done.reason
        assert _scripts(done.steps[0]) == [START_COMSYSAPP, REINSTALL]


def test_missing_msdtc_is_installed(tmp_path) -> None:
    with lab_run(tmp_path, "windows-comsysapp-stopped") as lr:
        with lr.edit() as st:
            del st["machine"]["services"]["MSDTC"]
            st["machine"]["msdtc"]["installed"] = False
        dry, _ = lr.run("msdtc", dry_run=True)
        (change,) = dry.steps[0].planned
        assert change["summary"].startswith("install MSDTC") and change["undo_note"]
        done, _ = lr.run("msdtc", assume_yes=True)
        assert done.status == "changed", done.reason
        assert lr.machine()["services"]["MSDTC"]["status"] == "Running"
        assert lr.machine()["services"]["COMSysApp"]["status"] == "Running"


def test_com_plus_that_nothing_cures_ends_failed_with_the_remote_reason(tmp_path) -> None:
    with lab_run(tmp_path, "windows-comsysapp-unfixable") as lr:
        com, _ = lr.run("comsysapp")
        assert com.status == "failed" and "0x80070002" in com.reason, com.reason

        done, _ = lr.run("msdtc", assume_yes=True)
        assert done.status == "failed"
        step = done.steps[0]
        assert step.error["type"] == "RemoteScriptError" and step.error["step"] == REINSTALL
        assert "COMSysApp" in step.error["remote"] and "0x80070002" in step.error["remote"]
        assert "0x80070002" in done.reason
        # the reinstall itself happened before COM+ failed, as on Windows
        machine = lr.machine()
        assert machine["msdtc"]["broken"] is False and machine["services"]["MSDTC"]["status"] == "Running"
        assert machine["services"]["COMSysApp"]["status"] == "Stopped"

        def reinstalls() -> int:
            return sum(e["op"] == REINSTALL for e in lr.lab.oplog.entries("win01"))

        assert reinstalls() == 1
        again, _ = lr.run("msdtc", assume_yes=True)  # one reinstall per run, never a loop
        assert again.status == "failed" and "0x80070002" in again.reason
        assert [c["operation"]["script"] for c in again.steps[0].planned] == [START_COMSYSAPP]
        assert reinstalls() == 2


def test_a_failed_install_after_the_uninstall_does_not_leave_the_host_without_msdtc(tmp_path) -> None:
    """msdtc -install fails once after msdtc -uninstall: the script installs it again before it reports."""
    with lab_run(tmp_path, "windows-msdtc-broken") as lr:
        with lr.edit() as st:
            st["machine"]["msdtc"]["exit_codes"] = {"-install": [1603]}
        done, _ = lr.run("msdtc", assume_yes=True)
        assert done.status == "failed"
        assert "MSDTC" in lr.machine()["services"]  # never left without MSDTC
        remote = done.steps[0].error["remote"]
        assert "msdtc -install failed with exit code 1603" in remote
        assert "installed again" in remote and "msdtc -uninstall" in remote

        again, _ = lr.run("msdtc", assume_yes=True)  # the installed-again MSDTC is started and COM+ with it
        assert again.status == "changed", again.reason
        assert lr.machine()["services"]["COMSysApp"]["status"] == "Running"


def test_msdtc_marked_for_deletion_says_a_restart_is_needed(tmp_path) -> None:
    with lab_run(tmp_path, "windows-msdtc-broken") as lr:
        with lr.edit() as st:
            st["machine"]["msdtc"]["marks_for_deletion"] = True
        done, _ = lr.run("msdtc", assume_yes=True)
        assert done.status == "failed"
        remote = done.steps[0].error["remote"]
        assert "marked for deletion (error 1072)" in remote and "restart the VM" in remote
        assert lr.machine()["services"]["MSDTC"]["marked_for_deletion"] is True

        lr.lab.reboot(lr.name)  # Windows removes it; the next run installs MSDTC and starts COM+
        assert "MSDTC" not in lr.machine()["services"]
        with lr.edit() as st:
            st["machine"]["msdtc"]["marks_for_deletion"] = False
        again, _ = lr.run("msdtc", assume_yes=True)
        assert again.status == "changed", again.reason
        assert lr.machine()["services"]["MSDTC"]["status"] == "Running"
        assert lr.machine()["services"]["COMSysApp"]["status"] == "Running"


def _state(logon: str | None, sid: str | None, msdtc: str = "Running", com: str = "Running") -> ComPlus:
    return ComPlus(
        ServiceState("MSDTC", True, msdtc, "Automatic", logon, sid),
        ServiceState("COMSysApp", True, com, "Manual", "LocalSystem", "S-1-5-18"),
    )


def test_logon_is_compared_by_sid_never_by_name() -> None:
    """A German VM names NetworkService "NT-AUTORITÄT\\Netzwerkdienst": the SID decides."""
    assert Msdtc().plan(_state("NT-AUTORITÄT\\Netzwerkdienst", "S-1-5-20")).empty
    assert Msdtc().plan(_state("NT AUTHORITY\\NetworkService", "S-1-5-20")).empty
    plan = Msdtc().plan(_state("NT AUTHORITY\\NetworkService", None))
    assert plan.changes[0].operation.args == {"name": "MSDTC", "logon": "S-1-5-20"}
    # a logon that is no built-in account cannot be set back without its password: said, not guessed
    custom = Msdtc().plan(_state("CONTOSO\\svc-dtc", "S-1-5-21-1-2-3-1001")).changes[0]
    assert custom.undo is None and "by hand" in (custom.undo_note or "")


def test_escalation_reinstalls_once_and_only_while_com_plus_is_down() -> None:
    rem = Msdtc()
    down = _state("NT AUTHORITY\\NetworkService", "S-1-5-20", com="Stopped")
    first = rem.plan(down)
    escalated = rem.escalate(down, [first])
    assert [c.operation.script for c in escalated.changes] == [REINSTALL]
    assert rem.escalate(down, [first, escalated]).empty
    assert not rem.verdict(down).compliant and "COMSysApp is Stopped" in rem.verdict(down).reasons


def test_operations_carry_no_host_values_in_script_text() -> None:
    for change in Msdtc().plan(_state("LocalSystem", "S-1-5-18", com="Stopped")).changes:
        assert isinstance(change.operation, Operation) and change.operation.mutating
        assert change.operation.script.endswith(".ps1")


@pytest.mark.parametrize("slug", ["comsysapp", "msdtc"])
def test_docstrings_name_the_rows_and_risk_is_the_catalogs(slug: str) -> None:
    cls = remediations.get(slug)
    doc = __import__(cls.__module__, fromlist=["x"]).__doc__ or ""
    assert cls.risk.value == {"comsysapp": "safe", "msdtc": "disruptive"}[slug]
    for row in cls.answers:
        assert row in doc, row
    assert cls.example in doc
