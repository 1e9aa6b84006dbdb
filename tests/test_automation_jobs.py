"""The parent runbook shards a lab fleet across Automation child jobs (azure-mgmt-automation against the lab's
jobs API over HTTPS); every host ends in the merged report, also when a child dies or hangs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from remediate.lab.automation import enable_automation, write_assets
from runbook_env import ROOT, run_runbook, runbook_env, without_password_files

from remediate.automation.output import parse_summary

pytest.importorskip("azure.mgmt.automation")

BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
WRONG_TYPE = {"registry": {BCDR: {"USEVSSCOPYBACKUP": {"type": "REG_DWORD", "data": 1}}}}
ACCOUNT = ["--account", "lab-automation", "--resource-group", "lab-rg", "--poll", "0.2"]


def _setup(lab, tmp_path: Path, hosts: int, broken_every: int, **jobs_kwargs):
    for i in range(hosts):
        lab.add_windows(f"vm{i:03d}", machine=WRONG_TYPE if i % broken_every == 0 else "healthy")
    lab.enable_azure(seeded=True)  # no nightly backup history: these tests read none, and it costs ~1 s per VM
    lab.start()
    inv = without_password_files(lab.write_inventory(tmp_path / "fleet.yml"))
    assets = write_assets(tmp_path / "assets.json", credentials={"remediate-vm-admin": ("labadmin", lab.password)})
    env = runbook_env(tmp_path, assets, REMEDIATE_AZURE_CONFIG=str(lab.azure_config))
    jobs = enable_automation(lab, ROOT / "runbooks", env, **jobs_kwargs)
    return inv, env, jobs


def _requests(lab, method: str, suffix: str = "") -> list[dict]:
    return [r for r in lab.azure.requests() if r["method"] == method and "/jobs/" in r["path"]
            and r["path"].endswith(suffix)]  # fmt: skip


def test_two_hundred_hosts_across_child_jobs_none_lost(lab, tmp_path: Path) -> None:
    inv, env, jobs = _setup(lab, tmp_path, 200, broken_every=10)
    args = ["-i", str(inv), "vss-copy-backup", "--shard-size", "50", "--max-running", "2", "--forks", "25"]
    try:
        proc = run_runbook("remediate_sharded.py", [*args, *ACCOUNT], env, 600)
    finally:
        jobs.close()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = parse_summary(proc.stdout)
    assert summary["summary"] == {"changed": 20, "ok": 180}  # 200: none lost
    assert len([ln for ln in proc.stdout.splitlines() if ln.startswith("vm")]) == 200  # one line per host
    assert summary["hosts"] == {f"vm{i:03d}": "changed" for i in range(0, 200, 10)}
    # four child jobs of the named-VMs runbook, each with its shard, all Completed, started through the API
    assert sorted(summary["jobs"].values()) == ["Completed"] * 4
    log = jobs.log
    assert [e["runbook"] for e in log] == ["remediate_backup_failures"] * 4
    shards = sorted(json.loads(e["parameters"]["args"])[-1] for e in log)
    assert shards == ["1/4", "2/4", "3/4", "4/4"]
    assert [r["status"] for r in _requests(lab, "PUT")] == [201] * 4
    assert lab.password not in proc.stdout + proc.stderr
    assert lab.password not in json.dumps(log)


def test_a_dead_and_a_stopped_child_are_reported_with_their_hosts(lab, tmp_path: Path) -> None:
    inv, env, jobs = _setup(lab, tmp_path, 12, broken_every=1, faults={"crash_jobs": [2], "limit_jobs": [3]})
    with lab.azure.edit() as data:
        data["faults"] = {"throttle": 2, "http_5xx": 1}  # the first job creations are refused: the SDK retries
    args = ["-i", str(inv), "vss-copy-backup", "--shard-size", "4", "--run-on", "lab-workers"]
    try:
        proc = run_runbook("remediate_sharded.py", [*args, *ACCOUNT], env, 300)
    finally:
        jobs.close()
    assert proc.returncode != 0
    assert "RunbookFailed" in proc.stderr
    summary = parse_summary(proc.stdout)
    assert len(summary["hosts"]) == 12  # none lost (none ok either: every host was broken)
    assert summary["summary"] == {"changed": 4, "failed": 8}
    assert sorted(summary["jobs"].values()) == ["Completed", "Failed", "Stopped"]
    failed = [h for h, s in summary["hosts"].items() if s == "failed"]
    assert all("not reported by child job" in summary["reasons"][h] for h in failed)
    assert sum("Failed" in summary["reasons"][h] and "sandbox died" in summary["reasons"][h] for h in failed) == 4
    assert sum("Stopped" in summary["reasons"][h] for h in failed) == 4
    assert [e["run_on"] for e in jobs.log] == ["lab-workers"] * 3  # one job per shard, none created twice
    assert [r["status"] for r in _requests(lab, "PUT")][:3] == [429, 429, 500]


def test_a_child_past_the_timeout_is_stopped_and_reported(lab, tmp_path: Path, monkeypatch) -> None:
    """The parent's own deadline, on a clock that jumps an hour per reading: no test waits for it."""
    from remediate.automation.children import JobTarget, merge, run_children
    from remediate.automation.entry import automation_client

    jobs = _setup(lab, tmp_path, 1, broken_every=1, faults={"hang_jobs": [1]})[2]
    monkeypatch.setenv("REMEDIATE_AZURE_CONFIG", str(lab.azure_config))
    ticks = iter(range(0, 10**6, 3600))
    try:
        client = automation_client(None)
        target = JobTarget("lab-rg", "lab-automation", "remediate_backup_failures")
        (child,) = run_children(client, target, [["vm000"]], lambda k, n: ["vss-copy-backup", "--shard", f"{k}/{n}"],
                                timeout=1800, poll=0, sleep=lambda s: None, clock=lambda: next(ticks))  # fmt: skip
    finally:
        jobs.close()
    assert child.status == "TimedOut" and "stop requested" in (child.exception or "")
    assert [r["status"] for r in _requests(lab, "POST", "/stop")] == [200]
    hosts, reasons = merge([child])
    assert hosts == {"vm000": "failed"} and "TimedOut" in reasons["vm000"]


def test_merge_counts_the_unnamed_ok_hosts_and_never_guesses() -> None:
    from remediate.automation.children import Child, merge

    good = Child(1, 2, ["a", "b", "c"], name="j1", status="Completed",
                 summary={"summary": {"ok": 2, "changed": 1}, "hosts": {"b": "changed"}})  # fmt: skip
    short = Child(2, 2, ["d", "e"], name="j2", status="Completed",
                  summary={"summary": {"ok": 1}, "hosts": {}})  # fmt: skip
    hosts, reasons = merge([good, short])
    assert hosts == {"a": "ok", "b": "changed", "c": "ok", "d": "failed", "e": "failed"}
    assert "counted 1 ok hosts where 2 were expected" in reasons["d"]


def test_children_in_the_sandbox_reach_vms_through_run_command(lab, tmp_path: Path) -> None:
    """No inventory file and no worker: the children read the live inventory and use Run Command."""
    _, env, jobs = _setup(lab, tmp_path, 6, broken_every=2)
    source = "azure://-/lab-rg?connection=azure-runcommand"
    try:
        proc = run_runbook("remediate_sharded.py", ["-i", source, "vss-copy-backup", "--shard-size", "2", *ACCOUNT],
                           env, 300)  # fmt: skip
    finally:
        jobs.close()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = parse_summary(proc.stdout)
    assert summary["summary"] == {"changed": 3, "ok": 3}
    assert sorted(summary["jobs"].values()) == ["Completed"] * 3
    run_commands = [r for r in lab.azure.requests() if r["method"] == "POST" and r["path"].endswith("/runCommand")]
    assert {r["path"].split("/")[-2] for r in run_commands} == {f"vm{i:03d}" for i in range(6)}
    assert all(json.loads(e["parameters"]["args"])[:2] == ["vss-copy-backup", "-i"] for e in jobs.log)
