"""Round trips at the floor: what a check costs on the wire, counted by the lab's servers (counts, never times).

A one-remediation check over WinRM costs at most 7 HTTP requests per host (NTLM and the shell: 3; one Command,
its Send and its Receive; the shell's Delete), and every phase of a remediation (check, apply, verify) sends at
most one Command: a check's read-only scripts travel as one batch. Over SSH a check is one channel.
"""

from __future__ import annotations

import json

import pytest
from windows_lab import FAST_RETRY

from remediate import playbook, remediations
from remediate.connection import ConnectOptions, connect
from remediate.operation import read

WINDOWS = [slug for slug, cls in remediations.registry().items() if cls.os == "windows"]


def _dry_run(lab, name: str, slug: str, tmp_path) -> playbook.HostResult:
    options = playbook.RunOptions(dry_run=True, retry=FAST_RETRY, journal_dir=str(tmp_path / "j"))
    (result,) = playbook.run([lab.host(name)], [slug], options).hosts
    return result


def test_a_vss_writers_check_costs_seven_requests_and_one_command(lab, tmp_path) -> None:
    lab.add_windows("win01", machine="windows-vss-writers-failed")
    lab.start()
    result = _dry_run(lab, "win01", "vss-writers", tmp_path)
    assert result.status in ("changed", "pending"), result.reason  # a writer to restart: a plan, nothing applied
    served = lab.counters("win01")
    assert served["shells_created"] == 1
    assert served["commands"] == 1  # the writers' listing and the registry value: one batch
    assert served.get("signals", 0) == 0  # deleting the shell ends the finished command
    assert served["requests"] <= 7, served
    # Both scripts ran on the host, in order, in that one command.
    scripts = [e["op"] for e in lab.oplog.entries("win01") if e["op"].endswith(".ps1")]
    assert scripts == ["vss_writers/check.ps1", "common/registry_get.ps1"]


@pytest.mark.parametrize("slug", WINDOWS)
def test_every_windows_check_sends_one_command(lab, tmp_path, slug: str) -> None:
    lab.add_windows("win01")
    lab.start()
    _dry_run(lab, "win01", slug, tmp_path)
    assert lab.counters("win01")["commands"] == 1, slug


def test_a_failing_script_in_a_batch_names_its_own_step(lab) -> None:
    lab.add_windows("win01")
    lab.start()
    with connect(lab.host("win01"), ConnectOptions(retry=FAST_RETRY)) as conn:
        good, missing = conn.run_many(
            [read("common/probe.ps1", echo="one"), read("common/service_get.ps1", name="NoSuchService")],
            check=False,
        )
        assert good.ok and good.data["echo"] == "one"
        assert missing.ok and missing.data["exists"] is False
        assert lab.counters("win01")["commands"] == 1


# The Azure-side remediations (os "any") run over the azure-arm connection, not in the guest.
LINUX = [
    slug
    for slug, cls in remediations.registry().items()
    if cls.os in ("linux", "any") and getattr(cls, "connection", None) != "azure-arm"
]


@pytest.mark.parametrize("slug", LINUX)
def test_every_linux_check_is_one_ssh_channel(lab, tmp_path, slug: str) -> None:
    lab.add_linux("lin01")
    lab.start()
    _dry_run(lab, "lin01", slug, tmp_path)
    served = lab.counters("lin01")
    assert served["connections"] == 1 and served["execs"] == 1, (slug, served)


def test_fs_freeze_check_of_an_unclean_host_is_one_channel(lab, tmp_path) -> None:
    lab.add_linux("lin01", "linux-fs-unclean")
    lab.start()
    result = _dry_run(lab, "lin01", "fs-freeze", tmp_path)
    assert result.status in ("changed", "pending"), result.reason
    assert lab.counters("lin01")["execs"] == 1


def test_the_list_index_is_the_classes() -> None:
    """``remediate list`` reads remediations/index.json instead of importing every remediation (start-up)."""
    expected = [{**cls.describe(), "module": cls.__module__} for cls in remediations.registry().values()]
    assert remediations.index() == json.loads(json.dumps(expected, default=str)), (
        "remediations/index.json is stale: run "
        "python -c 'from remediate import remediations; remediations.write_index()'"
    )


def test_running_one_remediation_imports_only_its_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from remediate import remediations; cls = remediations.get('vss-copy-backup'); "
        "print(sorted(m for m in sys.modules if m.startswith('remediate.remediations.') and m.count('.') == 2))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['remediate.remediations.common', 'remediate.remediations.vss_copy_backup']"
