"""Run Command as a transport, against the lab's ARM endpoint with the real azure-mgmt-compute: arguments as data,
the dry-run guard, results that fit the 4,096 bytes kept (or say they were cut), one run at a time per VM, and a
clear answer when the VM agent itself is broken."""

from __future__ import annotations

import base64
import secrets
import threading

import pytest
import tree_sitter
import tree_sitter_powershell
from azure_lab import azure_lab
from remediate.inventory.host import Host

from remediate import runcommand_format as rc
from remediate.azure.clients import AzureConfig
from remediate.connection import ConnectOptions, connect
from remediate.errors import DryRunRefused, RemoteScriptError
from remediate.operation import Operation, mutate, read
from remediate.retry import RetryPolicy

pytestmark = pytest.mark.timeout(120)
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def _host(lab, name: str, os_name: str) -> Host:
    vars_ = {"azure_name": name, "azure_resource_group": "lab-rg", "azure_subscription": lab.azure.subscription}
    return Host(name, None, None, os_name, "azure-runcommand", None, [], vars_)


def _conn(lab, name: str, os_name: str = "windows", **kwargs):
    options = ConnectOptions(retry=RetryPolicy(attempts=4, initial=0.01, maximum=0.05, jitter=0.0), **kwargs)
    options.extra["azure"] = AzureConfig.load(lab.azure_config)
    return connect(_host(lab, name, os_name), options)


def _runcommand_posts(lab, name: str) -> list[dict]:
    return [r for r in lab.azure.requests() if r["method"] == "POST" and r["path"].endswith(f"/{name}/runCommand")]


def test_the_runcommand_form_of_every_script_parses_and_carries_no_value():
    for script in ("common/service_get.ps1", "vss_writers/check.ps1", "common/registry_set.ps1"):
        text = rc.powershell_script(script)
        tree = PARSER.parse(text.encode("ascii"))
        assert not tree.root_node.has_error, script
    evil = "x'; Remove-Item C:\\ -Recurse #"
    body = rc.request_body(Operation("common/service_get.ps1", {"name": evil}))
    assert "Remove-Item" not in "\n".join(body["script"])
    (param,) = body["parameters"]
    assert base64.b64decode(param["value"]).isascii()
    sh = rc.request_body(Operation("linux_agent/status.sh", {"conf": evil}))
    assert "Remove-Item" not in "\n".join(sh["script"])


def test_a_script_runs_through_the_agent_and_a_hostile_value_stays_data(tmp_path):
    with azure_lab(tmp_path, windows={"win01": "healthy"}) as lab, _conn(lab, "win01") as conn:
        result = conn.run(read("common/service_get.ps1", name="COMSysApp"))
        assert result.data["status"] in ("Running", 4)
        hostile = "x'; Remove-Item C:\\ #"
        missing = conn.run(read("common/service_get.ps1", name=hostile))
        assert (missing.data["name"], missing.data["exists"]) == (hostile, False)  # a name, nothing more
        assert lab.oplog.mutations() == []


def test_dry_run_refuses_a_mutating_operation_before_any_request(tmp_path):
    with azure_lab(tmp_path, windows={"win01": "windows-comsysapp-stopped"}) as lab:
        with _conn(lab, "win01", dry_run=True) as conn, pytest.raises(DryRunRefused):
            conn.run(mutate("common/service_control.ps1", name="COMSysApp", action="start"))
        assert _runcommand_posts(lab, "win01") == []


def test_a_result_over_4096_bytes_is_reported_cut_never_parsed(tmp_path):
    certificates = [
        {
            "thumbprint": secrets.token_hex(20),
            "subject": "CN=Windows Azure CRP Certificate Generator",
            "issuer": "CN=Windows Azure CRP Certificate Generator",
            "friendly_name": "TenantEncryptionCert",
            "not_before": "2024-03-01T08:15:00Z",
            "not_after": "2025-03-01T08:15:00Z",
            "der_b64": base64.b64encode(secrets.token_bytes(300)).decode(),
        }
        for _ in range(20)
    ]
    with azure_lab(tmp_path, windows={"win01": {"certificates": certificates}}) as lab, _conn(lab, "win01") as conn:
        small = conn.run(read("extension_certs/get.ps1", names=["no such subject"]))
        assert small.data == {"certificates": []}
        with pytest.raises(RemoteScriptError) as err:
            conn.run(read("extension_certs/get.ps1", names=["Windows Azure CRP Certificate Generator"]))
        assert "cut off" in str(err.value) + str(err.value.remote)


def test_sh_scripts_report_their_exit_status_and_data(tmp_path):
    with azure_lab(tmp_path, linux={"lin01": "healthy"}) as lab, _conn(lab, "lin01", "linux") as conn:
        check = read("fs_freeze/check.sh", vmbackup_conf="/nonexistent", frozen=["ext4", "xfs"], resource=["/mnt"])
        result = conn.run(check)
        assert result.exited == 0
        assert "/data" in result.stdout + str(result.data)
        with lab.state("lin01").edit() as data:  # findmnt fails: the script exits 1, Run Command says "succeeded"
            data["machine"]["mounts"] = "not a list"
        with pytest.raises(RemoteScriptError) as err:
            conn.run(check)
        assert err.value.exit_code == 1


def test_one_run_at_a_time_per_vm(tmp_path):
    with azure_lab(tmp_path, windows={"win01": "healthy"}) as lab:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with _conn(lab, "win01") as conn:
                    conn.run(read("common/service_get.ps1", name="VSS"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [r["status"] for r in _runcommand_posts(lab, "win01")] == [202, 202, 202]  # never a 409
        # Another client's run in progress (409): retried with backoff, nothing had started.
        with lab.azure.edit() as data:
            data["faults"] = {"runcommand_busy": 2}
        with _conn(lab, "win01") as conn:
            conn.run(read("common/service_get.ps1", name="VSS"))
        assert [r["status"] for r in _runcommand_posts(lab, "win01")][3:] == [409, 409, 202]


def test_a_broken_agent_is_named_as_the_reason_and_winrm_or_ssh_as_the_way(tmp_path):
    from remediate import playbook

    with azure_lab(tmp_path, windows={"win01": "windows-agent-stopped"}) as lab:
        options = playbook.RunOptions(retry=RetryPolicy(attempts=1), journal_dir=str(tmp_path / "j"))
        options.connect.extra["azure"] = AzureConfig.load(lab.azure_config)
        report = playbook.run([_host(lab, "win01", "windows")], ["vm-agent"], options)
        (host,) = report.hosts
        assert host.status == "unreachable"
        assert "VM agent of win01 is not ready" in host.reason
        error = host.steps[0].error
        assert "WinRM or SSH" in error["hint"]
