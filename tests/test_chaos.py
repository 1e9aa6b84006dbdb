"""Chaos: 200 lab hosts, a fifth of them with a fault drawn with a fixed seed, through the CLI in a subprocess.

Every host is accounted for exactly once with the status its fault calls for, the counts add up, the exit code
is the README's, nothing but our own lines reach the terminal (no traceback), and a second run changes nothing
on the hosts the first one fixed. Deselect with ``-m 'not slow'``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SEED = 20261201
HOSTS = 200
FAULTY = HOSTS // 5
BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
WRONG_TYPE = {"registry": {BCDR: {"USEVSSCOPYBACKUP": {"type": "REG_DWORD", "data": 1}}}}
ROOT = Path(__file__).resolve().parent.parent

# fault -> the status it leaves a host in (None: as without the fault)
WINDOWS_FAULTS: list[tuple[dict[str, Any], str | None]] = [
    ({"refuse_connections": True}, "unreachable"),
    ({"reject_auth": True}, "unreachable"),
    ({"http_5xx": 1}, None),
    ({"http_5xx": 50}, "unreachable"),
    ({"drop_mid_command": "common/registry_set.ps1"}, None),
    ({"drop_before_command": 1}, None),
    ({"latency_ms": 150}, None),
    ({"hang_script": "common/registry_get.ps1", "hang_seconds": 30}, "failed"),
]
LINUX_FAULTS: list[tuple[dict[str, Any], str | None]] = [
    ({"refuse_connections": True}, "unreachable"),
    ({"reject_auth": True}, "unreachable"),
    ({"changed_host_key": True}, "unreachable"),
    ({"drop_mid_command": "linux_agent/set_conf.sh"}, None),
    ({"drop_before_command": 1}, None),
    ({"latency_ms": 150}, None),
]
README_EXIT = {(False, False): 0, (True, False): 2, (False, True): 4, (True, True): 6}


def _cli(lab: Any, tmp_path: Path, name: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / f"{name}.json"
    argv = [
        sys.executable, "-m", "remediate.cli", "-i", str(lab.inventory_path), "vss-copy-backup", "linux-agent",
        "--yes", "--forks", "40", "--retries", "2", "--retry-wait", "0.05", "--connect-timeout", "10",
        "--command-timeout", "10", "--journal-dir", str(tmp_path / "journal"), "--output-file", str(out),
        "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert out.exists(), done.stderr[-3000:]
    return done, json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_chaos_two_hundred_hosts(lab, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    faulty = set(rng.sample(range(HOSTS), FAULTY))
    expected: dict[str, tuple[str, bool]] = {}  # name -> (status, broken)
    for i in range(HOSTS):
        windows = i % 4 != 0
        broken = rng.random() < 0.5
        name = f"{'w' if windows else 'l'}{i:03d}"
        fault, status = rng.choice(WINDOWS_FAULTS if windows else LINUX_FAULTS) if i in faulty else ({}, None)
        if windows:
            lab.add_windows(name, WRONG_TYPE if broken else "healthy", scheme="http", faults=fault)
        else:
            lab.add_linux(name, "linux-agent-config" if broken else "healthy", faults=fault)
        hung_read = "hang_script" in fault and windows
        expected[name] = (status or ("changed" if broken else "ok"), broken and not hung_read)
    lab.start()

    done, report = _cli(lab, tmp_path, "first")
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr[-3000:]
    results = report["hosts"]
    names = [h["host"] for h in results]
    assert sorted(names) == sorted(expected) and len(set(names)) == HOSTS  # every host exactly once
    got = {h["host"]: h["status"] for h in results}
    summary = report["summary"]
    assert sum(summary.values()) == HOSTS
    assert summary == {s: list(got.values()).count(s) for s in summary}
    for name, (status, _) in expected.items():
        # a host with nothing to change under one remediation and nothing for its OS under the other: ok/skipped
        allowed = {"ok", "skipped"} if status == "ok" else {status}
        assert got[name] in allowed, (name, got[name], next(h["reason"] for h in results if h["host"] == name))
    for h in results:
        assert h["reason"], h["host"]
    assert done.returncode == README_EXIT[(summary["failed"] > 0, summary["unreachable"] > 0)]
    assert summary["unreachable"] > 0 and summary["changed"] > 0

    fixed = {n for n, s in got.items() if s == "changed"}
    assert fixed == {n for n, (s, broken) in expected.items() if s == "changed" and broken}
    before = {n: len(lab.oplog.mutations(n)) for n in fixed}
    again, second = _cli(lab, tmp_path, "second")
    assert "Traceback" not in again.stderr, again.stderr[-3000:]
    for h in second["hosts"]:
        if h["host"] in fixed:
            assert h["status"] in ("ok", "skipped") and h["changes"] == 0, h
    assert {n: len(lab.oplog.mutations(n)) for n in fixed} == before  # nothing mutated on them
