"""msiexec against lab Windows hosts, through the playbook: a disabled and unregistered Windows Installer, the
redistributable from the newest VMSnapshot extension folder, and an installer that keeps failing."""

from __future__ import annotations

import pytest
from lab_run import lab_run
from remediate.remediations.common.windows import RegistryValue, ServiceState, registry_set
from remediate.remediations.msiexec import (
    INSTALL,
    MSISERVER_KEY,
    REREGISTER,
    ExtensionFolder,
    InstallerState,
    Msiexec,
    newest_folder,
    parse_version,
)

from remediate import remediations


def _scripts(step) -> list[str]:
    return [c["operation"]["script"] for c in step.applied]


def test_disabled_unregistered_installer_fixed_from_the_newest_folder(tmp_path) -> None:
    with lab_run(tmp_path, "windows-msiexec") as lr:
        dry, _ = lr.run("msiexec", dry_run=True)
        assert dry.status == "pending" and dry.pending == 3, dry.reason
        step = dry.steps[0]
        assert [f["compliant"] for f in step.findings] == [False, False, False]
        set_start, register, install = step.planned
        # through the Service Control Manager, never the registry value it reads at boot only
        assert set_start["operation"]["script"] == "common/service_config.ps1"
        assert set_start["operation"]["args"] == {"name": "msiserver", "start_type": "Manual"}
        assert set_start["before"] == {"start_type": "Disabled"}
        assert set_start["undo"]["args"] == {"name": "msiserver", "start_type": "Disabled"}
        assert register["operation"]["script"] == REREGISTER and register["undo_note"]
        # 1.0.100.0 is newer than 1.0.99.0 (string order says otherwise) and ships the 2013 installer
        assert install["operation"]["args"]["version"] == "1.0.100.0"
        assert install["operation"]["args"]["installer"] == "vcredist2013_x64.exe"
        assert install["undo_note"]
        assert lr.mutations() == []

        skipped, _ = lr.run("msiexec")  # disruptive: refused without --yes
        assert skipped.status == "skipped" and lr.mutations() == []

        done, report = lr.run("msiexec", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        assert _scripts(done.steps[0]) == ["common/service_config.ps1", REREGISTER, INSTALL]
        machine = lr.machine()
        assert machine["services"]["msiserver"]["start_type"] == "Manual"
        assert machine["registry"][MSISERVER_KEY]["Start"] == {"type": "REG_DWORD", "data": 3}  # the SCM wrote it
        assert machine["msiexec"]["registered"] is True and machine["vcredist"]["2013_x64"] is True

        again, _ = lr.run("msiexec", assume_yes=True)
        assert again.status == "ok" and again.changes == 0, again.reason

        undone = lr.undo(report.run_id)
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        assert lr.machine()["registry"][MSISERVER_KEY]["Start"] == {"type": "REG_DWORD", "data": 4}
        assert lr.machine()["services"]["msiserver"]["start_type"] == "Disabled"
        assert "cannot undo" in " ".join(undone.hosts[0].steps[0].notes)


def test_a_start_value_written_to_the_registry_does_not_enable_the_installer_before_a_reboot(tmp_path) -> None:
    """The SCM reads Services\\Msiserver\\Start at boot only: a registry write leaves the installer disabled,
    and a remediation that wrote it would install nothing (1601) while its verify read "3" and said fixed."""
    with lab_run(tmp_path, "windows-msiexec") as lr:
        with lr.edit() as st:
            st["machine"]["msiexec"]["registered"] = True
        with lr.connect() as conn:
            conn.run(registry_set(MSISERVER_KEY, "Start", 3, "REG_DWORD"))
            assert lr.machine()["services"]["msiserver"]["start_type"] == "Disabled"  # until a reboot
            assert RegistryValue.read(conn, MSISERVER_KEY, "Start").data == 3
            state = InstallerState.read(conn)
        assert not state.start_ok  # the SCM still has it Disabled
        done, _ = lr.run("msiexec", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        assert _scripts(done.steps[0])[0] == "common/service_config.ps1"
        assert lr.machine()["services"]["msiserver"]["start_type"] == "Manual"
        assert lr.machine()["vcredist"]["2013_x64"] is True


def test_a_start_value_written_to_the_registry_takes_effect_at_the_next_boot(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        with lr.connect() as conn:
            conn.run(registry_set(MSISERVER_KEY, "Start", 4, "REG_DWORD"))
        assert lr.machine()["services"]["msiserver"]["start_type"] == "Manual"
        dry, _ = lr.run("msiexec", dry_run=True)  # disabled at the next boot: set back through the SCM now
        assert [c["operation"]["script"] for c in dry.steps[0].planned] == ["common/service_config.ps1"]
        lr.lab.reboot(lr.name)
        assert lr.machine()["services"]["msiserver"]["start_type"] == "Disabled"
        done, _ = lr.run("msiexec", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        lr.lab.reboot(lr.name)  # the SCM wrote the registry too: Manual survives a restart
        assert lr.machine()["services"]["msiserver"]["start_type"] == "Manual"


def test_install_that_fails_ends_failed_with_the_installers_exit_code(tmp_path):
    with lab_run(tmp_path) as lr:
        with lr.edit() as st:
            st["machine"]["vcredist"] = {"2012_x64": True, "2013_x64": False, "fail_exit_code": 1603}
        done, _ = lr.run("msiexec", assume_yes=True)
        assert done.status == "failed"
        step = done.steps[0]
        assert step.error["type"] == "RemoteScriptError" and step.error["step"] == INSTALL
        assert "vcredist2013_x64.exe exited with 1603" in step.error["remote"]
        assert "1603" in done.reason
        assert _scripts(step) == []  # the first install threw: nothing else was tried blindly


def test_install_that_reports_success_but_leaves_nothing_escalates_once(tmp_path) -> None:
    """The page's "if the problem persists": msiexec /unregister + /regserver, then the installer again."""
    with lab_run(tmp_path) as lr:
        with lr.edit() as st:
            st["machine"]["vcredist"]["2013_x64"] = False
            st["machine"]["vcredist"]["fail_exit_code"] = 1638  # "a newer version is installed": counted as success
        done, _ = lr.run("msiexec", assume_yes=True)
        assert done.status == "failed"
        assert _scripts(done.steps[0]) == [INSTALL, REREGISTER, INSTALL]
        assert any("registering Windows Installer again" in n for n in done.steps[0].notes)
        assert "2013_x64 is not installed" in done.reason


def test_register_failure_ends_failed_with_the_remote_reason(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        with lr.edit() as st:
            st["machine"]["msiexec"] = {
                "registered": False,
                "fail_register": "The Windows Installer Service could not be accessed.",
            }
        done, _ = lr.run("msiexec", assume_yes=True)
        assert done.status == "failed" and done.steps[0].error["step"] == REREGISTER
        assert "could not be accessed" in done.steps[0].error["remote"]


def test_no_extension_folder_is_a_note_and_a_final_verdict(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        with lr.edit() as st:
            st["machine"]["vcredist"] = {"2012_x64": False, "2013_x64": False}
            st["machine"]["snapshot_extension_versions"] = [{"name": "Status", "files": ["vcredist2013_x64.exe"]}]
        done, _ = lr.run("msiexec", assume_yes=True)
        assert done.status == "failed" and lr.mutations() == []
        assert any("reinstall the extension" in n for n in done.steps[0].notes)


def test_older_extension_ships_only_the_2012_redistributable(tmp_path) -> None:
    with lab_run(tmp_path, language="ja-JP") as lr:
        with lr.edit() as st:
            st["machine"]["vcredist"] = {"2012_x64": False, "2013_x64": False}
            st["machine"]["snapshot_extension_versions"] = [{"name": "1.0.9.0", "files": ["vcredist2012_x64.exe"]}]
        done, _ = lr.run("msiexec", assume_yes=True)
        assert done.status == "changed", done.reason
        assert done.steps[0].applied[0]["operation"]["args"]["installer"] == "vcredist2012_x64.exe"
        assert lr.machine()["vcredist"]["2012_x64"] is True


def test_healthy_host_plans_nothing(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        result, _ = lr.run("msiexec", dry_run=True)
        assert result.status == "ok" and lr.mutations() == []


@pytest.mark.parametrize(
    ("names", "newest"),
    [
        (["1.0.99.0", "1.0.100.0"], "1.0.100.0"),
        (["1.0.9169.0", "1.0.10000.0", "Status", "1.0.9999"], "1.0.10000.0"),
        (["2.0", "10.0"], "10.0"),
        (["Status", "..", "1.0.0.0.0", "1.-1.0", "9.9'; Remove-Item C:\\ #", "$(Restart-Computer)"], None),
    ],
)
def test_newest_folder_is_chosen_by_parsed_version(names: list[str], newest: str | None) -> None:
    folders = [ExtensionFolder(n, ("vcredist2013_x64.exe",)) for n in names]
    found = newest_folder(folders)
    assert (found.name if found else None) == newest
    assert parse_version("1.0.100.0") > parse_version("1.0.99.0")


def test_a_disabling_start_value_waiting_for_the_next_boot_is_set_back_through_the_scm() -> None:
    state = InstallerState(
        start=RegistryValue(MSISERVER_KEY, "Start", True, "REG_DWORD", 4, True),
        service=ServiceState("msiserver", True, "Stopped", "Manual"),
        registered=True,
        redist={"2013_x64": True},
        folders=(ExtensionFolder("1.0.1.0", ("vcredist2013_x64.exe",)),),
    )
    assert not state.start_ok
    (change,) = Msiexec().plan(state).changes
    assert change.operation.script == "common/service_config.ps1"
    assert change.operation.args == {"name": "msiserver", "start_type": "Manual"}


def test_docstring_names_the_rows() -> None:
    cls = remediations.get("msiexec")
    doc = __import__(cls.__module__, fromlist=["x"]).__doc__ or ""
    assert cls.risk.value == "disruptive"
    assert "ExtensionVCRedistInstallationFailure" in doc and "ExtensionInstallationFailure" in doc
    assert "".join(cls.answers[2:]) in doc.replace("\n", "")
    assert cls.example in doc
