"""A run killed or interrupted for real, then resumed: the command line as a real process, real signals, real
WinRM against lab hosts, and the lab's operation log as the proof of what ran on each host."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from remediate import journal as journal_mod

BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
WRONG_TYPE = {"registry": {BCDR: {"USEVSSCOPYBACKUP": {"type": "REG_DWORD", "data": 1}}}}
FIXED = {"type": "REG_SZ", "data": "TRUE"}
BROKEN = {"type": "REG_DWORD", "data": 1}
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class Cli:
    """``remediate ...`` as a real process; stderr collected line by line while it runs."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "remediate.cli", *args, "--no-progress"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read_err, daemon=True)
        self._reader.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_until(self, condition, what: str) -> None:
        for _ in range(3000):
            if condition():
                return
            if self.proc.poll() is not None:
                pytest.fail(f"the run ended before {what}: {self.proc.returncode} {''.join(self.err)}")
            time.sleep(0.05)
        self.proc.kill()
        pytest.fail(f"never saw {what}")

    def finish(self) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()  # stderr is the reader thread's alone
        self.proc.wait(timeout=300)
        self._reader.join(30)
        return self.proc.returncode, out, "".join(self.err)


def _results(jdir: Path) -> list[str]:
    """The hosts of the results files written so far (a line cut short by a kill is not a result)."""
    hosts = []
    for path in jdir.glob("*.results.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                hosts.append(json.loads(line)["host"])
    return hosts


def _run_id(jdir: Path) -> str:
    (path,) = [p for p in jdir.glob("*.jsonl")]
    return path.stem


def _journal_is_complete(jdir: Path, run_id: str) -> list[dict]:
    entries = journal_mod.read(run_id, jdir)
    dangling = [c for c in journal_mod.changes(entries) if "ok" not in c]
    assert dangling == [], dangling  # every intent has its outcome
    assert entries[-1]["event"] == "end" and entries[-1]["status"] == "complete"
    return entries


def _value(lab, name: str) -> dict:
    return lab.state(name).read()["machine"]["registry"][BCDR]["USEVSSCOPYBACKUP"]


def test_a_50_host_run_killed_half_way_is_resumed_with_nothing_lost_and_nothing_done_twice(lab, tmp_path) -> None:
    names = [f"vm{i:02d}" for i in range(50)]
    for name in names:
        lab.add_windows(name, machine=WRONG_TYPE, faults={"latency_ms": 20})
    lab.start()
    inv = lab.write_inventory(tmp_path / "lab.yml")
    jdir = tmp_path / "journal"
    run = Cli("-i", str(inv), "vss-copy-backup", "--forks", "4", "--journal-dir", str(jdir),
              "--output-file", str(tmp_path / "out.json"))  # fmt: skip
    run.wait_until(lambda: len(_results(jdir)) >= 12, "a dozen results")
    run.proc.send_signal(signal.SIGKILL)
    code, _, _ = run.finish()
    assert code == -signal.SIGKILL
    done_before = _results(jdir)
    assert 12 <= len(done_before) < 50, "the kill came too late to cut the run"
    assert not (tmp_path / "out.json").exists()
    run_id = _run_id(jdir)
    assert all(_value(lab, n) == FIXED for n in done_before)  # what ended before the kill is in the results file

    resumed = Cli("--resume", run_id, "--journal-dir", str(jdir), "--output", "json",
                  "--output-file", str(tmp_path / "out.json"))  # fmt: skip
    code, out, err = resumed.finish()
    assert code == 0, err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["run_id"] == run_id and sorted(h["host"] for h in report["hosts"]) == names
    assert {h["status"] for h in report["hosts"]} <= {"changed", "ok"}
    assert json.loads((tmp_path / "out.json").read_text())["run_id"] == run_id

    # every host ends with exactly one final result
    assert Counter(_results(jdir)) == Counter(names)
    # no change applied twice: one registry write per host in the lab's own log, and every host fixed
    for name in names:
        assert [e["op"] for e in lab.oplog.mutations(name)] == ["common/registry_set.ps1"], name
        assert _value(lab, name) == FIXED
    entries = _journal_is_complete(jdir, run_id)
    assert [e["event"] for e in entries].count("run") == 1 and [e["event"] for e in entries].count("resume") == 1
    intents = [e for e in entries if e["event"] == "intent"]
    assert sorted(e["host"] for e in intents) == sorted({e["host"] for e in intents})  # one intent a host

    # and the whole run undoes, the hosts done before the kill and after it alike
    undo = Cli("undo", run_id, "--journal-dir", str(jdir), "--forks", "8")
    code, _, err = undo.finish()
    assert code == 0, err
    assert all(_value(lab, n) == BROKEN for n in names)


def test_ctrl_c_lets_the_hosts_in_flight_finish_prints_the_table_and_the_run_id_and_resume_finishes(
    lab, tmp_path
) -> None:
    names = [f"vm{i}" for i in range(10)]
    for name in names:
        lab.add_windows(name, machine=WRONG_TYPE, faults={"latency_ms": 100})
    lab.start()
    inv = lab.write_inventory(tmp_path / "lab.yml")
    jdir = tmp_path / "journal"
    run = Cli("-i", str(inv), "vss-copy-backup", "--forks", "2", "--journal-dir", str(jdir))
    run.wait_until(lambda: len(_results(jdir)) >= 2, "two results")
    run.proc.send_signal(signal.SIGINT)
    code, out, err = run.finish()
    assert code == 130, err
    assert "Traceback" not in err
    assert "host(s) in flight" in err and "Ctrl-C again abandons them" in err, err
    run_id = _run_id(jdir)
    done = _results(jdir)
    assert 2 <= len(done) < 10
    # the partial table and the run id, and how to go on
    assert f"run {run_id}" in out and all(name in out for name in done)
    assert f"remediate --resume {run_id}" in err and f"remediate undo {run_id}" in err
    end = journal_mod.read(run_id, jdir)[-1]
    assert end["event"] == "end" and end["status"] == "interrupted"
    assert sum(end["counts"].values()) == len(done) and len(end["not_run"]) == 10 - len(done)
    assert end["abandoned"] == 0

    code, out, err = Cli("--resume", run_id, "--journal-dir", str(jdir)).finish()
    assert code == 0, err
    assert Counter(_results(jdir)) == Counter(names)
    for name in names:
        assert len(lab.oplog.mutations(name)) == 1, name
    _journal_is_complete(jdir, run_id)


def test_a_second_ctrl_c_abandons_the_hosts_in_flight(lab, tmp_path) -> None:
    lab.add_windows("a-fast", machine=WRONG_TYPE)
    hang = {"hang_script": "common/registry_get.ps1", "hang_seconds": 120}
    for name in ("b-hung", "c-hung", "d-hung"):
        lab.add_windows(name, machine=WRONG_TYPE, faults=hang)
    lab.start()
    inv = lab.write_inventory(tmp_path / "lab.yml")
    jdir = tmp_path / "journal"
    run = Cli("-i", str(inv), "vss-copy-backup", "--forks", "2", "--journal-dir", str(jdir),
              "--command-timeout", "600")  # fmt: skip
    run.wait_until(lambda: _results(jdir) == ["a-fast"], "the fast host's result")
    run.proc.send_signal(signal.SIGINT)
    run.wait_until(lambda: any("in flight" in line for line in run.err), "the first Ctrl-C's message")
    run.proc.send_signal(signal.SIGINT)
    code, out, err = run.finish()
    assert code == 130, err
    assert "Traceback" not in err
    abandoned = int(re.search(r"abandoning the (\d+) host\(s\) in flight", err)[1])
    assert abandoned in (1, 2), err  # b-hung surely; c-hung when the fast host's worker took it before Ctrl-C
    run_id = _run_id(jdir)
    assert f"run {run_id}" in out and "a-fast" in out
    end = journal_mod.read(run_id, jdir)[-1]
    assert end["event"] == "end" and end["status"] == "interrupted" and end["abandoned"] == abandoned
    assert sorted(end["not_run"]) == ["b-hung", "c-hung", "d-hung"]
    # it did not wait for them: the hung reads have not even finished on the hosts
    for name in ("b-hung", "c-hung", "d-hung"):
        assert lab.oplog.entries(name) == [], name

    for name in ("b-hung", "c-hung", "d-hung"):
        with lab.state(name).edit() as st:
            st["faults"] = {}
    code, out, err = Cli("--resume", run_id, "--journal-dir", str(jdir)).finish()
    assert code == 0, err
    assert Counter(_results(jdir)) == Counter(["a-fast", "b-hung", "c-hung", "d-hung"])
    assert all(len(lab.oplog.mutations(n)) == 1 for n in ("a-fast", "b-hung", "c-hung", "d-hung"))
