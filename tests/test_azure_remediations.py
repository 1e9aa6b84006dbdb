"""The Azure-side remediations on the runner's contract, over the azure-arm connection against the lab's ARM
endpoint: GETs to check, mutating ARM requests refused in dry-run, verified, and named by diagnose / --for."""

from __future__ import annotations

import pytest
from azure_lab import azure_lab

from remediate import cli, diagnose, playbook
from remediate.azure.clients import AzureConfig
from remediate.connection.arm import arm_host
from remediate.retry import RetryPolicy

pytestmark = pytest.mark.timeout(120)
BMS_OBJECT_ID = "3c5b51e2-0000-4000-8000-00000000b4c5"


def _options(lab, tmp_path, **kwargs):
    options = playbook.RunOptions(retry=RetryPolicy(attempts=1), journal_dir=str(tmp_path / "j"), **kwargs)
    options.connect.extra["azure"] = AzureConfig.load(lab.azure_config)
    return options


def test_key_vault_access_for_the_backup_service(tmp_path):
    kv = {"resource_group": "lab-rg", "name": "lab-kv", "backup_object_id": BMS_OBJECT_ID, "access_policies": []}
    with azure_lab(tmp_path, windows={"win01": "healthy"}, key_vaults=[kv]) as lab:
        with lab.state("win01").edit() as data:
            data["azure"] = {"key_vault": "lab-kv"}
        from remediate.lab.azure.outcome import backup_error

        vm = lab.azure.vm("lab-rg", "win01")
        assert backup_error(lab.azure, vm) == "UserErrorKeyvaultPermissionsNotConfigured"
        host = arm_host("win01", vm.id, "windows")
        params = {"object_id": BMS_OBJECT_ID}
        dry = playbook.run([host], ["keyvault-backup-access"], _options(lab, tmp_path, dry_run=True, params=params))
        assert dry.hosts[0].status == "pending" and lab.azure.mutating_requests() == []
        done = playbook.run([host], ["keyvault-backup-access"], _options(lab, tmp_path, params=params))
        assert done.hosts[0].status == "changed", done.hosts[0].reason
        assert [r["method"] for r in lab.azure.mutating_requests()] == ["PUT"]
        assert backup_error(lab.azure, lab.azure.vm("lab-rg", "win01")) is None
        again = playbook.run([host], ["keyvault-backup-access"], _options(lab, tmp_path, params=params))
        assert again.hosts[0].status == "ok"  # a second run changes nothing


def test_the_lock_removed_for_the_cleanup_can_be_undone_from_the_journal(tmp_path):
    group = "AzureBackupRG_japaneast_1"
    settings = {
        "locks": [{"resource_group": group, "name": "keep", "level": "CanNotDelete"}],
        "restore_point_collections": [
            {
                "resource_group": group,
                "name": "rpc1",
                "vm": "win01",
                "restore_points": [{"name": f"p{i}", "time": 0} for i in range(18)],
            }
        ],
    }
    with azure_lab(tmp_path, windows={"win01": "healthy"}, **settings) as lab:
        host = arm_host("win01", lab.azure.vm("lab-rg", "win01").id, "windows")
        skipped = playbook.run([host], ["restore-point-limit"], _options(lab, tmp_path))
        assert skipped.hosts[0].status == "skipped"  # destructive: needs --yes
        done = playbook.run([host], ["restore-point-limit"], _options(lab, tmp_path, assume_yes=True))
        assert done.hosts[0].status == "changed", done.hosts[0].reason
        methods = [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in lab.azure.mutating_requests()]
        assert methods == [("DELETE", "locks"), ("DELETE", "restorePointCollections"), ("PUT", "locks")]
        assert lab.azure.settings()["restore_point_collections"] == []
        assert [x["name"] for x in lab.azure.settings()["locks"]] == ["keep"]


def test_diagnose_and_for_name_the_azure_side_remediations(tmp_path, capsys):
    assert diagnose.azure_remediations_for("UserErrorRpCollectionLimitReached") == ["restore-point-limit"]
    assert diagnose.azure_remediations_for("ExtensionStuckInDeletionState") == ["snapshot-extension"]
    answer = diagnose.render_text(diagnose.diagnose("UserErrorKeyvaultPermissionsNotConfigured"), host="vm1")
    assert "keyvault-backup-access" in answer and "connection=azure-arm" in answer
    # Over WinRM an Azure-side remediation is refused with the way to run it, before anything is sent.
    code = cli.main(
        [
            "--host",
            "vm1",
            "--os",
            "windows",
            "--for",
            "ExtensionStuckInDeletionState",
            "--dry-run",
            "-o",
            "json",
            "--journal-dir",
            str(tmp_path / "j"),
        ]
    )
    out = capsys.readouterr().out
    assert code == cli.EXIT_FAILED
    assert "azure-arm" in out and "Azure-side remediation" in out
