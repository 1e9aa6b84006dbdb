"""The runner end to end over real WinRM and SSH against lab hosts: statuses, journal, undo, CLI, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from remediate import cli, playbook

BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
ROOT = Path(__file__).resolve().parent.parent
WRONG_TYPE = {"registry": {BCDR: {"USEVSSCOPYBACKUP": {"type": "REG_DWORD", "data": 1}}}}


@pytest.fixture
def fleet(lab):
    """One host for each final status."""
    lab.add_windows("healthy")
    lab.add_windows("broken", machine=WRONG_TYPE)
    lab.add_windows("broken-ja", machine=WRONG_TYPE, language="ja-JP")
    lab.add_windows("down", faults={"refuse_connections": True})
    lab.add_windows("slow", machine=WRONG_TYPE, faults={"hang_script": "common/registry_get.ps1", "hang_seconds": 4})
    lab.add_linux("penguin")
    lab.start()
    return lab


def _by_host(report: playbook.RunReport) -> dict[str, playbook.HostResult]:
    return {h.host: h for h in report.hosts}


def test_every_host_ends_in_exactly_one_status(fleet, run_options) -> None:
    from remediate.connection import ConnectOptions

    opts = run_options(forks=4, connect=ConnectOptions(command_timeout=1.5))
    report = playbook.run(fleet.hosts(), ["vss-copy-backup"], opts)
    results = _by_host(report)
    assert results["healthy"].status == "ok"
    assert results["broken"].status == "changed"
    assert results["broken-ja"].status == "changed"
    assert results["down"].status == "unreachable"
    assert "refused" in results["down"].reason.lower() or "connect" in results["down"].reason.lower()
    assert results["slow"].status == "failed"
    assert results["penguin"].status == "skipped"
    assert "windows" in results["penguin"].reason
    assert sorted(report.counts().items()) == sorted(
        {"ok": 1, "changed": 2, "pending": 0, "failed": 1, "unreachable": 1, "skipped": 1}.items()
    )
    for h in report.hosts:
        assert h.reason, h.host


def test_dry_run_changes_nothing_then_apply_then_zero_changes(fleet, run_options) -> None:
    hosts = [fleet.host("broken")]
    before = fleet.state("broken").read()["machine"]["registry"][BCDR]
    dry = playbook.run(hosts, ["vss-copy-backup"], run_options(dry_run=True))
    assert dry.hosts[0].status == "pending" and dry.hosts[0].pending == 1
    assert dry.hosts[0].changes == 0
    assert fleet.oplog.mutations("broken") == []
    assert fleet.state("broken").read()["machine"]["registry"][BCDR] == before
    planned = dry.hosts[0].steps[0].planned[0]
    assert "registry_set.ps1" in planned["command"] and planned["before"] is not None

    applied = playbook.run(hosts, ["vss-copy-backup"], run_options())
    assert applied.hosts[0].status == "changed" and applied.hosts[0].changes == 1
    assert applied.hosts[0].steps[0].verified is True
    value = fleet.state("broken").read()["machine"]["registry"][BCDR]["USEVSSCOPYBACKUP"]
    assert value == {"type": "REG_SZ", "data": "TRUE"}

    mutations = len(fleet.oplog.mutations("broken"))
    again = playbook.run(hosts, ["vss-copy-backup"], run_options())
    assert again.hosts[0].status == "ok" and again.hosts[0].changes == 0
    assert len(fleet.oplog.mutations("broken")) == mutations


def test_journal_records_before_and_after_and_undo_restores(fleet, run_options, tmp_path: Path) -> None:
    hosts = [fleet.host("broken")]
    report = playbook.run(hosts, ["vss-copy-backup"], run_options())
    entries = [json.loads(x) for x in Path(report.journal).read_text().splitlines()]
    assert entries[0]["event"] == "run"
    change = next(e for e in entries if e["event"] == "change")
    assert change["host"] == "broken" and change["ok"] is True
    assert change["before"] and change["after"] and change["undo"]
    fleet_password = fleet.password
    assert fleet_password not in Path(report.journal).read_text()

    undone = playbook.undo(report.run_id, None, run_options())
    assert undone.hosts[0].status == "changed", undone.hosts[0].reason
    value = fleet.state("broken").read()["machine"]["registry"][BCDR]["USEVSSCOPYBACKUP"]
    assert value == {"type": "REG_DWORD", "data": 1}


def test_cli_json_output_and_exit_codes(fleet, tmp_path: Path, capsys) -> None:
    inv = fleet.write_inventory(tmp_path / "lab.yml")
    out_file = tmp_path / "results.json"
    code = cli.main(
        ["-i", str(inv), "--limit", "healthy,broken,down", "vss-copy-backup", "--output", "json",
         "--output-file", str(out_file), "--retries", "1", "--no-progress"]
    )  # fmt: skip
    assert code == cli.EXIT_UNREACHABLE
    data = json.loads(capsys.readouterr().out)
    assert {h["host"]: h["status"] for h in data["hosts"]} == {
        "healthy": "ok",
        "broken": "changed",
        "down": "unreachable",
    }
    assert json.loads(out_file.read_text())["run_id"] == data["run_id"]
    assert fleet.password not in out_file.read_text()
    # dry-run with pending changes: detailed exit code
    code = cli.main(["-i", str(inv), "--limit", "broken-ja", "vss-copy-backup", "--dry-run", "--detailed-exitcode"])
    assert code == cli.EXIT_PENDING
    assert "would:" in capsys.readouterr().out


def test_one_failing_host_never_stops_the_others_in_parallel(lab, run_options) -> None:
    for i in range(8):
        lab.add_windows(f"w{i}", machine=WRONG_TYPE, faults={"refuse_connections": True} if i % 2 else {})
    lab.start()
    report = playbook.run(lab.hosts(), ["vss-copy-backup"], run_options(forks=8))
    statuses = {h.host: h.status for h in report.hosts}
    assert statuses == {f"w{i}": ("unreachable" if i % 2 else "changed") for i in range(8)}


def test_disruptive_without_yes_is_planned_and_skipped(lab, run_options) -> None:
    lab.add_windows("vm", machine="windows-vss-writers-failed")
    lab.start()
    report = playbook.run([lab.host("vm")], ["vss-writers"], run_options())
    assert report.hosts[0].status == "skipped"
    assert "--yes" in report.hosts[0].reason
    assert lab.oplog.mutations("vm") == []


def test_runbook_runs_against_the_lab(fleet, tmp_path: Path) -> None:
    inv = fleet.write_inventory(tmp_path / "lab.yml")
    proc = subprocess.run(
        [sys.executable, "runbooks/remediate_backup_failures.py", "-i", str(inv), "--limit", "broken,healthy",
         "vss-copy-backup"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**__import__("os").environ, "REMEDIATE_JOURNAL_DIR": str(tmp_path / "j"),
             "PYTHONPATH": str(ROOT)},  # this checkout, not the installed one
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.splitlines()[-1])  # one line per host, then the JSON summary
    assert data["hosts"] == {"broken": "changed"} and data["summary"] == {"changed": 1, "ok": 1}


def test_for_runs_diagnosed_remediations_in_order_and_stops_when_healthy(lab, tmp_path: Path, capsys) -> None:
    lab.add_windows("com", machine="windows-msdtc-broken")
    lab.start()
    inv = lab.write_inventory(tmp_path / "lab.yml")
    args = ["-i", str(inv), "--error-code", "ExtensionSnapshotFailedCOM", "--yes", "--output", "json"]
    assert cli.main(args) == cli.EXIT_OK
    (host,) = json.loads(capsys.readouterr().out)["hosts"]
    assert host["status"] == "changed"
    assert [(s["remediation"], s["status"]) for s in host["steps"]] == [("comsysapp", "failed"), ("msdtc", "changed")]
    assert "COM+" in host["steps"][0]["reason"]
    # healthy now: the first remediation finds nothing to do, and the run stops there
    assert cli.main(args) == cli.EXIT_OK
    (host,) = json.loads(capsys.readouterr().out)["hosts"]
    assert host["status"] == "ok"
    assert [s["remediation"] for s in host["steps"]] == ["comsysapp"]
