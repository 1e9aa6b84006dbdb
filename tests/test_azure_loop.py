"""The closed loop on the lab: `remediate azure failed-backups --remediate --retrigger --yes` turns every failed
backup green, in-guest over WinRM and SSH (VMs in the inventory) or Run Command (VMs not in it), Azure-side
over ARM; the dry-run sends nothing that changes Azure or a VM."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from azure_lab import azure_lab, clients

from remediate import cli
from remediate.azure import backups

pytestmark = pytest.mark.timeout(240)

RPC_GROUP = "AzureBackupRG_japaneast_1"


def _broken_lab(tmp_path):
    now = time.time()
    settings = {
        "locks": [{"resource_group": RPC_GROUP, "name": "keep-backups", "level": "CanNotDelete"}],
        "restore_point_collections": [
            {
                "resource_group": RPC_GROUP,
                "name": "AzureBackup_win04_1",
                "vm": "win04",
                "restore_points": [{"name": f"rp{i}", "time": now - 3600 * i} for i in range(18)],
            }
        ],
    }
    windows = {
        "win01": "windows-vss-writers-failed",  # in the inventory: WinRM
        "win02": "windows-comsysapp-stopped",  # not in it: Run Command
        "win03": "windows-snapshot-extension-failed",  # Azure-side, then the agent checked in the guest
        "win04": "healthy",  # restore point collection full, its group locked: Azure-side
    }
    # lin01 over SSH; lin02's extension stuck deleting; lin03 not in the inventory: Run Command
    linux = {"lin01": "linux-agent-stopped", "lin02": "linux-snapshot-extension-stuck", "lin03": "linux-fs-unclean"}
    cm = azure_lab(tmp_path, windows=windows, linux=linux, **settings)
    return cm


def _inventory(lab, tmp_path, names):
    doc = yaml.safe_load(lab.write_inventory().read_text())
    doc["hosts"] = {k: v for k, v in doc["hosts"].items() if k in names}
    for group in doc["groups"].values():
        if "hosts" in group:
            group["hosts"] = [h for h in group["hosts"] if h in names]
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _cli(capsys, *args):
    code = cli.main(["azure", "failed-backups", *args, "-o", "json", "--retries", "2", "--retry-wait", "0.05"])
    return code, json.loads(capsys.readouterr().out)


def test_failed_backups_are_fixed_and_backed_up_again(tmp_path, capsys):
    lab_cm = _broken_lab(tmp_path)
    with lab_cm as lab:
        inventory = _inventory(lab, tmp_path, {"win01", "lin01"})
        c = clients(lab)
        rows = {r.vm: r.error_code for r in backups.failed_backups(c)}
        assert rows == {
            "win01": "ExtensionFailedVssWriterInBadState",
            "win02": "ExtensionSnapshotFailedCOM",
            "win03": "UserErrorVmProvisioningStateFailed",
            "win04": "UserErrorRpCollectionLimitReached",
            "lin01": "UserErrorGuestAgentStatusUnavailable",
            "lin02": "ExtensionStuckInDeletionState",
            "lin03": "UserErrorFsFreezeFailed",
        }
        config = ["--azure-config", str(lab.azure_config), "-i", str(inventory)]

        # Dry-run: the plans, and not one request that changes Azure or a VM.
        code, dry = _cli(capsys, *config, "--remediate", "--retrigger", "--dry-run")
        assert code == 0, dry
        assert lab.azure.mutating_requests() == []
        assert lab.oplog.mutations() == []
        by_vm = {v["vm"]: v for v in dry["vms"]}
        assert by_vm["win04"]["azure_side"] == ["restore-point-limit"]
        assert all(v["fix_status"] == "changed" for v in dry["vms"]), [(v["vm"], v["fix_reason"]) for v in dry["vms"]]
        assert all(v["backup"]["status"] == "NotStarted" for v in dry["vms"])
        # Run Command carried the read-only checks of win02 (POSTs the lab classes as read-only).
        assert any(r["path"].endswith("/win02/runCommand") for r in lab.azure.requests())

        code, done = _cli(capsys, *config, "--remediate", "--retrigger", "--yes")
        by_vm = {v["vm"]: v for v in done["vms"]}
        assert code == 0, [(v["vm"], v["fix_reason"], v["backup"]) for v in done["vms"]]
        assert {vm: v["connection"] for vm, v in by_vm.items()} == {
            "win01": "winrm",
            "win02": "azure-runcommand",
            "win03": "azure-runcommand",  # snapshot-extension over ARM, then vm-agent checked in the guest
            "win04": "azure-arm",
            "lin01": "ssh",
            "lin02": "azure-arm",
            "lin03": "azure-runcommand",
        }
        for vm, v in by_vm.items():
            assert v["backup"]["summary"] == "backup succeeded", (vm, v)
        assert done["summary"] == {"failed_vms": 7, "fixed": 7, "backups_succeeded": 7, "backups_failed": 0}
        # The lock on the restore point group is back, the full collection gone.
        assert [x["name"] for x in lab.azure.settings()["locks"]] == ["keep-backups"]
        jobs = [
            (j.properties.entity_friendly_name, j.properties.start_time, j.properties.status)
            for j in c.backup.backup_jobs.list("lab-vault", "lab-rg")
        ]
        assert backups.failed_backups(c) == [], jobs
        journal = (tmp_path / "journal" / f"{done['run_id']}.jsonl").read_text()
        assert journal.count('"event": "backup-trigger"') == 7


def test_listing_only_reads(tmp_path, capsys):
    with azure_lab(tmp_path, windows={"win01": "windows-vss-writers-failed", "win02": "healthy"}) as lab:
        code, data = _cli(capsys, "--azure-config", str(lab.azure_config))
        assert code == 0
        (vm,) = data["vms"]
        assert (vm["vm"], vm["error_code"], vm["in_guest"]) == (
            "win01",
            "ExtensionFailedVssWriterInBadState",
            ["vss-writers"],
        )
        assert vm["fix_status"] is None and vm["backup"] is None
        assert {r["method"] for r in lab.azure.requests()} == {"GET"}


def test_a_vm_deleted_since_its_failed_job_does_not_stop_the_others(tmp_path, capsys):
    windows = {"win01": "windows-comsysapp-stopped", "win02": "windows-comsysapp-stopped"}
    with azure_lab(tmp_path, windows=windows) as lab:
        (lab.hosts_dir / "win02.yml").unlink()  # the VM is gone; its failed job stays in the vault
        code, data = _cli(capsys, "--azure-config", str(lab.azure_config), "--remediate", "--retrigger", "--yes")
        by_vm = {v["vm"]: v for v in data["vms"]}
        assert code == cli.EXIT_FAILED
        assert by_vm["win01"]["backup"]["summary"] == "backup succeeded"
        assert by_vm["win02"]["fix_status"] == "failed" and by_vm["win02"]["backup"] is None
        assert "no longer a protected item" in by_vm["win02"]["fix_reason"]


def test_a_result_too_big_for_run_command_is_named_and_nothing_is_guessed(tmp_path, capsys):
    """linux-agent reads the whole waagent.conf: even compressed it passes Run Command's 4,096 bytes."""
    with azure_lab(tmp_path, linux={"lin01": "linux-agent-config"}) as lab:
        code, data = _cli(capsys, "--azure-config", str(lab.azure_config), "--remediate", "--retrigger", "--yes")
        (vm,) = data["vms"]
        assert (vm["error_code"], vm["connection"]) == ("GuestAgentSnapshotTaskStatusError", "azure-runcommand")
        assert code == cli.EXIT_FAILED
        assert "cut off" in vm["fix_reason"] and "WinRM or SSH" in vm["fix_reason"]
        assert vm["backup"]["status"] == "NotStarted"
        assert lab.oplog.mutations() == []


def test_the_text_report_names_code_cause_remediations_and_outcome(tmp_path, capsys):
    with azure_lab(tmp_path, windows={"win01": "windows-comsysapp-stopped", "win02": "healthy"}) as lab:
        config = ["azure", "failed-backups", "--azure-config", str(lab.azure_config)]
        assert cli.main(config) == 0
        listing = capsys.readouterr().out
        assert "win01" in listing and "ExtensionSnapshotFailedCOM" in listing and "win02" not in listing
        assert "remediations: comsysapp, msdtc" in listing
        assert cli.main([*config, "--remediate", "--retrigger", "--yes", "--retry-wait", "0.05"]) == 0
        done = capsys.readouterr().out
        assert "backup succeeded" in done and "done: start" in done
        assert cli.main(config) == 0
        assert "No VM's latest backup failed." in capsys.readouterr().out


def test_a_refused_credential_is_one_line_not_a_traceback(tmp_path, capsys):
    with azure_lab(tmp_path, windows={"win01": "healthy"}) as lab:
        bad = tmp_path / "config.json"
        config = json.loads(lab.azure_config.read_text())
        (tmp_path / "token").write_text("wrong\n")
        bad.write_text(json.dumps({**config, "token_file": str(tmp_path / "token")}))
        assert cli.main(["azure", "failed-backups", "--azure-config", str(bad)]) == cli.EXIT_ERROR
        err = capsys.readouterr().err
        assert "Azure refused the credential" in err and "Traceback" not in err
