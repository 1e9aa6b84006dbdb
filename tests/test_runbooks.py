"""The runbooks run as Azure Automation runs them: their own process, argv, the ``automationassets`` stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from remediate.lab.automation import write_assets
from runbook_env import run_runbook, runbook_env, without_password_files

from remediate.automation.entry import argv_of
from remediate.automation.output import parse_summary
from remediate.automation.settings import Settings

BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
WRONG_TYPE = {"registry": {BCDR: {"USEVSSCOPYBACKUP": {"type": "REG_DWORD", "data": 1}}}}


@pytest.fixture
def fleet(lab):
    lab.add_windows("healthy")
    lab.add_windows("broken", machine=WRONG_TYPE)
    lab.add_windows("down", faults={"refuse_connections": True})
    lab.start()
    return lab


def test_named_vms_with_the_credential_asset(fleet, tmp_path: Path) -> None:
    inv = without_password_files(fleet.write_inventory(tmp_path / "lab.yml"))
    assets = write_assets(tmp_path / "assets.json", credentials={"remediate-vm-admin": ("labadmin", fleet.password)})
    env = runbook_env(tmp_path, assets)
    proc = run_runbook(
        "remediate_backup_failures.py", ["-i", str(inv), "--limit", "broken,healthy", "vss-copy-backup"], env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 3  # one line per host, then the summary
    assert sorted(x.split(" - ")[0] for x in lines[:2]) == ["broken: changed", "healthy: ok"]
    summary = parse_summary(proc.stdout)
    assert summary is not None and summary["hosts"] == {"broken": "changed"}  # the ok ones are counted
    assert summary["summary"] == {"changed": 1, "ok": 1}
    assert "reasons" not in summary
    assert fleet.password not in proc.stdout + proc.stderr
    # the password travelled from the asset: without it the same run cannot log in
    proc = run_runbook("remediate_backup_failures.py", ["-i", str(inv), "--limit", "healthy", "vss-copy-backup"],
                       runbook_env(tmp_path))  # fmt: skip
    assert proc.returncode != 0
    summary = parse_summary(proc.stdout)
    assert summary["hosts"] == {"healthy": "failed"}
    assert "REMEDIATE_PASSWORD" in summary["reasons"]["healthy"]


def test_a_failed_host_makes_the_job_fail(fleet, tmp_path: Path) -> None:
    inv = fleet.write_inventory(tmp_path / "lab.yml")
    args = json.dumps(["-i", str(inv), "--limit", "down,healthy", "vss-copy-backup", "--dry-run"])
    proc = run_runbook("remediate_backup_failures.py", [args], runbook_env(tmp_path))  # one JSON parameter
    assert proc.returncode != 0
    assert "RunbookFailed" in proc.stderr  # raised, so Azure Automation marks the job Failed
    assert "ERROR: remediate: 1 unreachable: down" in proc.stdout
    summary = parse_summary(proc.stdout)
    assert summary["hosts"] == {"down": "unreachable"}
    assert summary["summary"] == {"unreachable": 1, "ok": 1}
    assert "down" in summary["reasons"] and summary["dry_run"] is True
    assert sorted(ln.split(":")[0] for ln in proc.stdout.splitlines() if not ln.startswith(("{", "ERROR"))) == [
        "down",
        "healthy",
    ]


def test_settings_read_assets_first_then_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    from remediate.lab.automation import assets_path

    assets = write_assets(
        tmp_path / "assets.json", variables={"remediate-apply": "true"}, credentials={"c": ("u", "s3cret-pw")}
    )
    monkeypatch.setenv("AUTOMATION_ASSET_FILE", str(assets))
    monkeypatch.syspath_prepend(assets_path())
    sys.modules.pop("automationassets", None)
    module = importlib.import_module("automationassets")
    try:
        s = Settings()
        assert s.in_automation and s.flag("remediate-apply") is True
        monkeypatch.setenv("REMEDIATE_RETRIGGER", "yes")
        assert s.flag("remediate-retrigger") is True  # not an asset: the environment
        assert s.flag("remediate-unset") is False
        assert s.credential("c") == ("u", "s3cret-pw")
        import os

        assert os.environ["REMEDIATE_PASSWORD"] == "s3cret-pw"
        from remediate.log import scrub

        assert "s3cret-pw" not in scrub("password s3cret-pw")
        module.set_automation_variable("remediate-apply", "false")
        assert s.flag("remediate-apply") is False
        with pytest.raises(LookupError):
            module.get_automation_credential("nope")
    finally:
        sys.modules.pop("automationassets", None)
    assert Settings(assets=None).variable("remediate-apply", "dflt") == "dflt"


def test_argv_of_unfolds_one_json_array() -> None:
    assert argv_of(['["-i", "a b.yml", "--for", "it\'s \\"x\\""]']) == ["-i", "a b.yml", "--for", 'it\'s "x"']
    assert argv_of(["-i", "x"]) == ["-i", "x"]
    assert argv_of(["[not json"]) == ["[not json"]


def test_named_vms_by_azure_name_and_resource_id_over_run_command(lab, tmp_path: Path) -> None:
    pytest.importorskip("azure.mgmt.compute")
    lab.add_windows("win01", machine=WRONG_TYPE)
    lab.add_windows("win02", machine=WRONG_TYPE)
    lab.add_windows("win03")
    lab.enable_azure(seeded=True)
    lab.start()
    sub = lab.azure.subscription
    vm_id = f"/subscriptions/{sub}/resourceGroups/lab-rg/providers/Microsoft.Compute/virtualMachines/win02"
    env = runbook_env(tmp_path, REMEDIATE_AZURE_CONFIG=str(lab.azure_config))
    args = ["--vm", "win01", "--vm", vm_id, "vss-copy-backup"]
    proc = run_runbook("remediate_backup_failures.py", args, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert parse_summary(proc.stdout)["hosts"] == {"win01": "changed", "win02": "changed"}
    # through the VM agent: Run Command requests reached the lab's ARM endpoint, no WinRM password was needed
    posts = [r for r in lab.azure.requests() if r["method"] == "POST" and r["path"].endswith("/runCommand")]
    assert {r["path"].split("/")[-2] for r in posts} == {"win01", "win02"}
    value = lab.state("win01").read()["machine"]["registry"][BCDR]["USEVSSCOPYBACKUP"]
    assert value == {"type": "REG_SZ", "data": "TRUE"}
    proc = run_runbook("remediate_backup_failures.py", ["--vm", "nope", "vss-copy-backup"], env)
    assert proc.returncode != 0 and "ERROR: VM 'nope': 0 VMs of that name in the subscription" in proc.stdout
