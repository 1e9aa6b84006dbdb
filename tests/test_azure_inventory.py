"""The live inventory azure://SUBSCRIPTION[/RG][?tag=k:v&connection=...] through the SDKs, against the lab."""

from __future__ import annotations

import pytest
from azure_lab import azure_lab
from remediate.inventory import load_inventory

from remediate import playbook
from remediate.errors import ConfigError
from remediate.retry import RetryPolicy

pytestmark = pytest.mark.timeout(120)


def _prepare(lab):
    with lab.state("win01").edit() as data:
        data["azure"] = {"tags": {"env": "prod", "app": "erp"}}
    with lab.state("win02").edit() as data:
        data["azure"] = {"power_state": "deallocated", "tags": {"env": "prod"}}


def test_vms_with_groups_addresses_power_and_agent(tmp_path):
    windows = {"win01": "healthy", "win02": "healthy", "win03": "windows-agent-stopped"}
    with azure_lab(tmp_path, windows=windows, linux={"lin01": "healthy"}) as lab:
        _prepare(lab)
        sub = lab.azure.subscription
        inv = load_inventory(f"azure://{sub}/lab-rg?config={lab.azure_config}")
        hosts = {h.name: h for h in inv.hosts}
        assert sorted(hosts) == ["lin01", "win01", "win02", "win03"]
        assert hosts["win01"].os == "windows" and hosts["lin01"].os == "linux"
        assert hosts["win01"].transport == "winrm" and hosts["lin01"].transport == "ssh"
        assert hosts["win01"].address.startswith("10.0.0.")
        assert {"rg_lab_rg", "location_japaneast", "windows"} <= set(hosts["win01"].groups)
        assert "stopped" in hosts["win02"].groups and "stopped" not in hosts["win01"].groups
        assert hosts["win03"].vars["azure_agent_status"] == "Unavailable"
        assert hosts["win01"].vars["azure_agent_status"] == "succeeded"
        assert [g for g in inv.groups if g == "stopped"] == ["stopped"]

        tagged = load_inventory(f"azure://-?tag=env:prod&tag=app:erp&config={lab.azure_config}")
        assert [h.name for h in tagged.hosts] == ["win01"]
        assert {r["method"] for r in lab.azure.requests()} == {"GET"}


def test_stopped_vms_are_reported_not_tried(tmp_path):
    with azure_lab(tmp_path, windows={"win01": "windows-comsysapp-stopped", "win02": "healthy"}) as lab:
        _prepare(lab)
        url = f"azure://-/lab-rg?connection=azure-runcommand&config={lab.azure_config}"
        hosts = load_inventory(url).hosts
        report = playbook.run(hosts, ["comsysapp"], playbook.RunOptions(dry_run=True, retry=RetryPolicy(attempts=1)))
        by = {h.host: h for h in report.hosts}
        assert by["win01"].status == "pending"  # over Run Command: the plan to start COMSysApp
        assert by["win02"].status == "unreachable"
        assert "deallocated: not tried" in by["win02"].reason
        assert not [r for r in lab.azure.requests() if "/win02/runCommand" in r["path"]]


def test_bad_urls_say_what_is_expected():
    with pytest.raises(ConfigError, match="tag=key:value"):
        load_inventory("azure://sub?tag=nocolon")
    with pytest.raises(ConfigError, match="connection is one of"):
        load_inventory("azure://sub?connection=telnet")
