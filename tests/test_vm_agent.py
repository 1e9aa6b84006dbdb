"""vm-agent against lab Windows hosts: services, start types, version floor, MSI only from the operator."""

from __future__ import annotations

import pytest
from lab_run import lab_run
from remediate.remediations.vm_agent import VERSION_FLOOR, VmAgentRemediation, msi_source, version_tuple

from remediate.errors import ConfigError

MSI = "C:\\Packages\\WindowsAzureVmAgent.msi"


def test_versions_compare_as_numbers() -> None:
    assert version_tuple("2.7.41491.1010") > version_tuple("2.7.41491.949")  # type: ignore[operator]
    assert version_tuple("2.7.41491.1102") > version_tuple(VERSION_FLOOR)  # type: ignore[operator]
    assert version_tuple("2.10.0.0") > version_tuple("2.7.41491.1010")  # type: ignore[operator]
    assert version_tuple("2.6.1198.718") < version_tuple(VERSION_FLOOR)  # type: ignore[operator]
    assert version_tuple("2.7") == (2, 7, 0, 0)
    assert version_tuple("2.7.41491.1010 (win7sp1)") is None


@pytest.mark.parametrize(
    "good", [MSI, "C:\\Program Files\\x y\\agent.MSI", "\\\\fileserver\\share\\a.msi", "https://example.test/a"]
)
def test_agent_msi_accepts_paths_and_https(good: str) -> None:
    assert msi_source(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "http://example.test/a.msi",
        "agent.msi",
        "C:\\Packages\\agent.exe",
        '"C:\\Packages\\a.msi"',
        "C:\\a.msi\n& shutdown /s",
        "\\\\server\\a.msi",
        "ftp://x/a.msi",
        "$(Restart-Computer).msi",
    ],
)
def test_agent_msi_refuses_the_rest(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        VmAgentRemediation({"agent_msi": bad})
    assert "agent_msi" in str(info.value)


def test_healthy_host_has_nothing_to_do(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        result, _ = lr.run("vm-agent", assume_yes=True)
        assert result.status == "ok" and result.changes == 0, result.reason
        assert lr.mutations() == []


def test_stopped_agent_is_found_planned_fixed_and_second_run_is_clean(tmp_path) -> None:
    with lab_run(tmp_path, "windows-agent-stopped") as lr:
        dry, _ = lr.run("vm-agent", dry_run=True)
        assert dry.status == "pending" and dry.pending == 4, dry.reason
        summaries = [c["summary"] for c in dry.steps[0].planned]
        assert summaries == [
            "set start_type Automatic on service WindowsAzureGuestAgent",
            "set start_type Automatic on service iaasvmprovider",
            "start service WindowsAzureGuestAgent (it is Stopped)",
            "start service RdAgent (it is Stopped)",
        ]
        assert lr.mutations() == []

        done, report = lr.run("vm-agent", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        services = lr.machine()["services"]
        for name in ("WindowsAzureGuestAgent", "RdAgent"):
            assert services[name]["status"] == "Running" and services[name]["start_type"] == "Automatic"
        assert services["iaasvmprovider"]["start_type"] == "Automatic"

        again, _ = lr.run("vm-agent", assume_yes=True)
        assert again.status == "ok" and again.changes == 0

        undone = lr.undo(report.run_id)
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        services = lr.machine()["services"]
        assert services["WindowsAzureGuestAgent"]["start_type"] == "Manual"
        assert services["iaasvmprovider"]["start_type"] == "Manual"
        assert any("cannot be undone" in n for n in undone.hosts[0].steps[0].notes)


def test_old_agent_without_an_installer_is_reported_not_downloaded(tmp_path) -> None:
    with lab_run(tmp_path, "windows-agent-old") as lr:
        result, _ = lr.run("vm-agent", assume_yes=True)
        assert result.status == "failed" and "2.7.41491.949 is older than 2.7.41491.1010" in result.reason
        notes = " ".join(result.steps[0].notes)
        assert "agent_msi" in notes and "2.6.1198.718" in notes
        assert lr.mutations() == []


def test_old_agent_is_installed_from_the_operators_msi(tmp_path) -> None:
    with lab_run(tmp_path, "windows-agent-old") as lr:
        dry, _ = lr.run("vm-agent", dry_run=True, params={"agent_msi": MSI})
        (planned,) = dry.steps[0].planned
        assert planned["operation"]["args"] == {"source": MSI} and planned["undo"] is None
        assert "2.7.41491.949" in planned["undo_note"]
        assert lr.mutations() == []

        done, _ = lr.run("vm-agent", assume_yes=True, params={"agent_msi": MSI})
        assert done.status == "changed" and done.steps[0].verified, done.reason
        assert lr.machine()["agent"]["version"] == "2.7.41491.1102"
        (install,) = [m for m in lr.mutations() if m["op"] == "vm_agent/install_msi.ps1"]
        assert install["args"] == {"source": MSI}

        again, _ = lr.run("vm-agent", assume_yes=True, params={"agent_msi": MSI})
        assert again.status == "ok" and again.changes == 0


def test_missing_agent_is_installed_from_a_unc_path(tmp_path) -> None:
    unc = "\\\\fileserver\\share\\WindowsAzureVmAgent.msi"
    with lab_run(tmp_path, "windows-agent-old") as lr:
        with lr.edit() as st:
            st["machine"]["agent"]["installed"] = False
            for name in ("WindowsAzureGuestAgent", "RdAgent"):
                del st["machine"]["services"][name]
        dry, _ = lr.run("vm-agent", dry_run=True, params={"agent_msi": unc})
        assert [c["operation"]["script"] for c in dry.steps[0].planned] == ["vm_agent/install_msi.ps1"]
        done, _ = lr.run("vm-agent", assume_yes=True, params={"agent_msi": unc})
        assert done.status == "changed", done.reason
        assert lr.machine()["services"]["RdAgent"]["status"] == "Running"


def test_failing_installer_ends_failed_with_msiexecs_code(tmp_path) -> None:
    with lab_run(tmp_path, "windows-agent-old") as lr:
        result, _ = lr.run("vm-agent", assume_yes=True, params={"agent_msi": "D:\\broken\\WindowsAzureVmAgent.msi"})
        assert result.status == "failed"
        assert "msiexec exited with 1603 (a fatal error during installation)" in result.reason
        assert lr.machine()["agent"]["version"] == "2.7.41491.949"


def test_agent_that_will_not_start_ends_failed_with_the_service_error(tmp_path) -> None:
    machine = {
        "services": {
            "RdAgent": {"status": "Stopped", "start_type": "Automatic", "fail_start": "The system cannot find the file"}
        }
    }
    with lab_run(tmp_path, machine) as lr:
        result, _ = lr.run("vm-agent", assume_yes=True)
        assert result.status == "failed" and "The system cannot find the file" in result.reason, result.reason


def test_disruptive_needs_yes(tmp_path) -> None:
    with lab_run(tmp_path, "windows-agent-stopped") as lr:
        result, _ = lr.run("vm-agent")
        assert result.status == "skipped" and lr.mutations() == []


def test_the_running_agents_version_is_read_not_the_msis_copy(tmp_path) -> None:
    """The agent updated itself into a newer GuestAgent_* folder; Packages\\WaAppAgent.exe keeps the version the
    MSI installed. The running one counts: nothing to install."""
    with lab_run(tmp_path) as lr:
        with lr.edit() as st:
            st["machine"]["agent"]["version"] = "2.7.41491.1130"
            st["machine"]["agent"]["packages_version"] = "2.7.41491.949"
        result, _ = lr.run("vm-agent", dry_run=True)
        assert result.status == "ok" and result.pending == 0, result.reason
        (agent,) = [f for f in result.steps[0].findings if "GuestAgent_" in f["subject"]]
        assert agent["state"] == "2.7.41491.1130" and "2.7.41491.949" in agent["detail"]
