"""Linux remediations through OpenSSH's real sshd (the server Azure Linux VMs run), end to end.

The lab host's machine is the same model as behind the lab's paramiko server: sshd's forced command gives each
session the host's environment, so our sh scripts run in a real shell with the lab's command shims.
"""

from __future__ import annotations

import pytest
from remediate.lab.linux.openssh import sshd_missing_reason

from remediate import playbook

pytestmark = pytest.mark.sshd


@pytest.fixture
def openssh_lab(lab):
    reason = sshd_missing_reason()
    if reason:
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    lab.add_linux("lin01", "linux-fs-unclean", ssh_server="openssh")
    lab.start()
    return lab


def _mounts(lab) -> dict:
    return {m["target"]: m for m in lab.state("lin01").read()["machine"]["mounts"]}


def test_fs_freeze_dry_run_apply_and_second_run_over_openssh(openssh_lab, run_options) -> None:
    lab = openssh_lab
    host = lab.host("lin01")
    assert host.user and host.vars["known_hosts"]
    before = lab.state("lin01").read()["machine"]

    dry = playbook.run([host], ["fs-freeze"], run_options(dry_run=True))
    (result,) = dry.hosts
    assert result.status == "pending", result.reason
    assert result.pending == 1 and "repair.sh" in result.steps[0].planned[0]["command"]
    assert lab.oplog.mutations("lin01") == []
    assert lab.state("lin01").read()["machine"] == before

    applied = playbook.run([host], ["fs-freeze"], run_options(assume_yes=True))
    (result,) = applied.hosts
    assert result.status == "changed", result.reason
    assert result.steps[0].verified is True
    assert lab.oplog.mutations("lin01"), "the repair left no trace in the lab's operation log"

    again = playbook.run([host], ["fs-freeze"], run_options(assume_yes=True))
    assert again.hosts[0].status == "ok", again.hosts[0].reason
    assert again.hosts[0].changes == 0


def test_wrong_key_over_openssh_is_unreachable_not_retried(openssh_lab, run_options, tmp_path) -> None:
    host = openssh_lab.host("lin01")
    other = tmp_path / "other_key"
    openssh_lab._ensure_keypair(other)
    host.vars["ssh_key_file"] = str(other)
    host.vars.pop("password_file", None)
    report = playbook.run([host], ["fs-freeze"], run_options(dry_run=True))
    (result,) = report.hosts
    assert result.status == "unreachable"
    assert "AuthenticationError" in str(result.steps[0].error)
    assert [op["attempts"] for op in result.operations] == [1]
