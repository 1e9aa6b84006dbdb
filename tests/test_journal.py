"""The write-ahead journal, results that survive a kill, undo of what a cut run may have done, the host's time
limit: over real WinRM against lab hosts, and the command line as a real process where a kill is involved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from remediate import cli, playbook
from remediate import journal as journal_mod

BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
WRONG_TYPE = {"registry": {BCDR: {"USEVSSCOPYBACKUP": {"type": "REG_DWORD", "data": 1}}}}
FIXED = {"type": "REG_SZ", "data": "TRUE"}
BROKEN = {"type": "REG_DWORD", "data": 1}
ROOT = Path(__file__).resolve().parent.parent


def _value(lab, name: str) -> dict:
    return lab.state(name).read()["machine"]["registry"][BCDR]["USEVSSCOPYBACKUP"]


def _entries(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _set_value(lab, name: str, value: dict) -> None:
    with lab.state(name).edit() as st:
        st["machine"]["registry"][BCDR]["USEVSSCOPYBACKUP"] = dict(value)


# -- the write-ahead journal -----------------------------------------------------------------------------------------


def test_intent_is_journaled_before_the_change_and_its_outcome_after(lab, run_options) -> None:
    lab.add_windows("broken", machine=WRONG_TYPE)
    lab.start()
    report = playbook.run([lab.host("broken")], ["vss-copy-backup"], run_options())
    entries = _entries(report.journal)
    assert [e["event"] for e in entries] == ["run", "intent", "change", "end"]
    intent, outcome, end = entries[1], entries[2], entries[3]
    assert intent["id"] == outcome["id"] and len(intent["id"]) == 32
    assert intent["host"] == "broken" and intent["remediation"] == "vss-copy-backup"
    assert intent["operation"]["script"] == "common/registry_set.ps1" and intent["operation"]["mutating"]
    assert intent["before"] and intent["after"] and intent["undo"] and intent["summary"]
    assert "ok" not in intent
    assert outcome["ok"] is True and outcome["after"] == intent["after"] and "error" not in outcome
    assert end["status"] == "complete" and end["counts"]["changed"] == 1
    # the run header keeps what --resume needs, and no secret
    header = entries[0]
    assert header["options"]["assume_yes"] is False and header["options"]["retry"]["attempts"] == 3
    assert "password" not in json.dumps(header["options"]).replace("password_env", "")
    assert lab.password not in Path(report.journal).read_text()


def test_results_are_written_as_each_host_ends_and_the_report_at_the_end(lab, run_options) -> None:
    for name in ("a", "b", "c"):
        lab.add_windows(name, machine=WRONG_TYPE if name != "b" else "healthy")
    lab.start()
    seen: list[int] = []
    results_path = Path(run_options().journal_dir)

    def on_done(result: playbook.HostResult) -> None:
        # the host's result is durable before anyone is told it ended
        (path,) = results_path.glob("*.results.ndjson")
        seen.append(len(path.read_text().splitlines()))

    report = playbook.run(lab.hosts(), ["vss-copy-backup"], run_options(forks=2, on_host_done=on_done))
    assert sorted(seen) == [1, 2, 3]
    rows = journal_mod.read_results(report.run_id, results_path)
    assert sorted((r["host"], r["status"]) for r in rows) == [("a", "changed"), ("b", "ok"), ("c", "changed")]
    final = json.loads((results_path / f"{report.run_id}.report.json").read_text())
    assert final["run_id"] == report.run_id and len(final["hosts"]) == 3 and final["interrupted"] is False


def test_a_change_whose_outcome_is_unknown_is_read_from_the_host_by_undo(lab, run_options) -> None:
    # the set hangs past its time limit: sent, then nothing known; the host applies it later
    lab.add_windows("hung", machine=WRONG_TYPE, faults={"hang_script": "common/registry_set.ps1", "hang_seconds": 2})
    lab.start()
    from remediate.connection import ConnectOptions

    opts = run_options(connect=ConnectOptions(command_timeout=1))
    report = playbook.run([lab.host("hung")], ["vss-copy-backup"], opts)
    assert report.hosts[0].status == "failed"
    outcome = next(e for e in _entries(report.journal) if e["event"] == "change")
    assert outcome["ok"] is False and outcome["maybe_applied"] is True
    for _ in range(200):  # the lab finishes the hung command on its own
        if lab.oplog.mutations("hung"):
            break
        time.sleep(0.05)
    assert _value(lab, "hung") == FIXED
    with lab.state("hung").edit() as st:
        st["faults"] = {}
    undone = playbook.undo(report.run_id, None, run_options())
    assert undone.hosts[0].status == "changed", undone.hosts[0].reason
    assert _value(lab, "hung") == BROKEN


@pytest.mark.parametrize("applied", [True, False])
def test_an_intent_with_no_outcome_is_undone_only_when_the_host_shows_it_applied(lab, run_options, applied) -> None:
    lab.add_windows("vm", machine=WRONG_TYPE)
    lab.start()
    report = playbook.run([lab.host("vm")], ["vss-copy-backup"], run_options())
    path = Path(report.journal)
    lines = path.read_text().splitlines(keepends=True)
    # as a kill right after the intent leaves it: no outcome, no end
    path.write_text("".join(line for line in lines if json.loads(line)["event"] in ("run", "intent")))
    if not applied:
        _set_value(lab, "vm", BROKEN)  # the kill came before the host applied it
    mutations = len(lab.oplog.mutations("vm"))
    undone = playbook.undo(report.run_id, None, run_options())
    assert _value(lab, "vm") == BROKEN
    if applied:
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        assert len(lab.oplog.mutations("vm")) == mutations + 1
    else:
        assert undone.hosts[0].status == "ok", undone.hosts[0].reason
        assert "not applied" in undone.hosts[0].reason
        assert len(lab.oplog.mutations("vm")) == mutations  # nothing sent


def test_undo_of_an_old_journal_with_change_lines_only(lab, run_options) -> None:
    lab.add_windows("vm", machine=WRONG_TYPE)
    lab.start()
    report = playbook.run([lab.host("vm")], ["vss-copy-backup"], run_options())
    path = Path(report.journal)
    old = []
    for e in _entries(path):
        if e["event"] in ("intent", "end"):
            continue
        e.pop("id", None)
        e.pop("options", None)
        old.append(json.dumps(e) + "\n")
    path.write_text("".join(old))
    undone = playbook.undo(report.run_id, None, run_options())
    assert undone.hosts[0].status == "changed", undone.hosts[0].reason
    assert _value(lab, "vm") == BROKEN


def test_undo_of_a_journal_whose_last_line_was_cut_warns_once_and_undoes_the_rest(lab, tmp_path, capfd) -> None:
    for name in ("a", "b"):
        lab.add_windows(name, machine=WRONG_TYPE)
    lab.start()
    inv = lab.write_inventory(tmp_path / "lab.yml")
    jdir = tmp_path / "j"
    assert cli.main(["-i", str(inv), "vss-copy-backup", "--journal-dir", str(jdir), "--forks", "1"]) == 0
    run_id = capfd.readouterr().out.split(" run ")[-1].split()[0]
    path = jdir / f"{run_id}.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    last_change = max(i for i, line in enumerate(lines) if json.loads(line)["event"] == "change")
    # a kill in the middle of writing b's outcome: everything after it is gone, the line is half there
    path.write_text("".join(lines[:last_change]) + lines[last_change][: len(lines[last_change]) // 2])
    assert cli.main(["undo", run_id, "--journal-dir", str(jdir)]) == 0
    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if "cut short" in line]
    assert len(warnings) == 1 and "Traceback" not in err, err
    assert _value(lab, "a") == BROKEN and _value(lab, "b") == BROKEN


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "", "/etc/passwd", "a/b", ".."])
def test_undo_takes_a_run_id_never_a_path(run_id, tmp_path, capsys) -> None:
    assert cli.main(["undo", run_id, "--journal-dir", str(tmp_path)]) == cli.EXIT_ERROR
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "is not a run id" in err and "root:" not in err + out


def test_undo_subprocess_of_a_path_exits_1_with_one_line(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "remediate.cli", "undo", "../../etc/passwd"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# -- the host's time limit -------------------------------------------------------------------------------------------


def test_the_verify_wait_never_sleeps_past_the_hosts_time_limit(lab, run_options) -> None:
    lab.add_windows("vm", machine="windows-vss-writer-never-recovers")
    lab.start()
    slept: list[float] = []
    opts = run_options(assume_yes=True, host_timeout=5, sleep=slept.append)
    report = playbook.run([lab.host("vm")], ["vss-writers"], opts)
    (host,) = report.hosts
    assert host.status == "failed"
    # it stops at once rather than sleep past the limit (on a loaded machine the time may already run out while
    # applying: the reason names that step then)
    assert host.reason.startswith("vss-writers: the host's time limit of 5 s "), host.reason
    assert "s wait before vss-writers verifies again" in host.reason or "ran out during" in host.reason
    assert "ran longer" not in host.reason
    assert sum(slept) <= 5  # not one wait that reaches past the limit (vss-writers waits 10 s between reads)
    step = host.steps[0]
    assert step.error and step.error["type"] == "HostTimeout"


def test_an_operation_cut_by_the_hosts_time_limit_says_so(lab, run_options) -> None:
    lab.add_windows("vm", machine=WRONG_TYPE, faults={"hang_script": "common/registry_get.ps1", "hang_seconds": 3})
    lab.start()
    report = playbook.run([lab.host("vm")], ["vss-copy-backup"], run_options(host_timeout=1))
    (host,) = report.hosts
    assert host.status == "failed"
    assert "the host's time limit of 1 s ran out during vss-copy-backup check" in host.reason, host.reason
    assert "ran longer than its time limit" not in host.reason


# -- resume ----------------------------------------------------------------------------------------------------------


def _cut_after_intent(journal: Path, results: Path, host: str) -> None:
    """Leave the files as a kill right after ``host``'s intent leaves them: no outcome, no end, and its result
    line half written."""
    lines = journal.read_text().splitlines(keepends=True)
    entries = [json.loads(line) for line in lines]
    at = next(i for i, e in enumerate(entries) if e["event"] == "intent" and e["host"] == host)
    journal.write_text("".join(lines[: at + 1]))
    rows = results.read_text().splitlines(keepends=True)
    kept = [r for r in rows if json.loads(r)["host"] != host]
    cut = next(r for r in rows if json.loads(r)["host"] == host)
    results.write_text("".join(kept) + cut[: len(cut) // 2])


@pytest.mark.parametrize("applied", [True, False])
def test_resume_reads_the_host_for_a_change_left_without_outcome_and_never_sends_it_twice(
    lab, run_options, applied
) -> None:
    for name in ("a", "b"):
        lab.add_windows(name, machine=WRONG_TYPE)
    lab.start()
    report = playbook.run(lab.hosts(), ["vss-copy-backup"], run_options(forks=1))
    jdir = Path(report.journal).parent
    _cut_after_intent(Path(report.journal), jdir / f"{report.run_id}.results.ndjson", "b")
    if not applied:
        _set_value(lab, "b", BROKEN)  # the kill came before the host applied it
    sent = {n: len(lab.oplog.mutations(n)) for n in ("a", "b")}
    warned: list[str] = []
    resumed = playbook.resume(report.run_id, None, run_options(warn=warned.append))
    assert len(warned) == 1 and "cut short" in warned[0]
    assert [h.host for h in resumed.hosts] == ["a", "b"] and resumed.run_id == report.run_id
    a, b = resumed.hosts
    assert a.status == "changed" and a.changes == 1  # from before the kill, read back from the results file
    assert b.status == "changed", b.reason
    assert len(lab.oplog.mutations("a")) == sent["a"]  # a is not touched again
    assert len(lab.oplog.mutations("b")) == sent["b"] + (0 if applied else 1)
    assert _value(lab, "b") == FIXED
    entries = _entries(report.journal)
    settled = [e for e in entries if e.get("settled")]
    assert len(settled) == 1 and settled[0]["ok"] is applied and settled[0]["host"] == "b"
    assert [c for c in journal_mod.changes(entries) if "ok" not in c] == []
    assert entries[-1]["event"] == "end" and entries[-1]["status"] == "complete"
    assert [r["host"] for r in journal_mod.read_results(report.run_id, jdir)] == ["a", "b"]
    # undo restores both, each once
    undone = playbook.undo(report.run_id, None, run_options())
    assert {h.host: h.status for h in undone.hosts} == {"a": "changed", "b": "changed"}
    assert _value(lab, "a") == BROKEN and _value(lab, "b") == BROKEN


def test_resume_refuses_what_it_cannot_resume(tmp_path, capsys) -> None:
    jdir = tmp_path / "j"
    jdir.mkdir()
    (jdir / "undo-x-1.jsonl").write_text(json.dumps({"event": "run", "undo_of": "x", "hosts": []}) + "\n")
    assert cli.main(["--resume", "undo-x-1", "--journal-dir", str(jdir)]) == cli.EXIT_ERROR
    assert cli.main(["--resume", "../x", "--journal-dir", str(jdir)]) == cli.EXIT_ERROR
    assert cli.main(["--resume", "undo-x-1", "vss-writers", "--journal-dir", str(jdir)]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "cannot be resumed" in err and "is not a run id" in err and "drop SLUG" in err
    assert "Traceback" not in err


DAMAGED = {
    "binary": b"\x00\xff\xfe garbage \x80\n\x01\x02",
    "not objects": b'[1, 2]\n"text"\n42\n',
    "wrong types": b'{"event": "run", "hosts": 5, "remediations": {"a": 1}, "params": [], "options": 7}\n',
    "odd change": b'{"event": "change", "host": "x", "summary": "s", "ok": true, "undo": "nope"}\n',
    "odd intent": b'{"event": "intent", "id": 5, "host": ["x"], "summary": null}\n{"event": "change", "id": 5}\n',
    "cut header": b'{"event": "run", "remediations": ["vss-copy-b',
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_journals_give_one_line_errors_or_warnings_never_a_traceback(content, tmp_path, capfd) -> None:
    jdir = tmp_path / "j"
    jdir.mkdir()
    (jdir / "r1.jsonl").write_bytes(content)
    (jdir / "r1.results.ndjson").write_bytes(content)
    assert cli.main(["undo", "r1", "--journal-dir", str(jdir)]) in (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_ERROR)
    assert cli.main(["--resume", "r1", "--journal-dir", str(jdir)]) == cli.EXIT_ERROR
    err = capfd.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
