"""What the operator reads: one honest status per host, pending changes named as such, every step in the text."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import structlog
from test_runner import WRONG_TYPE

from remediate import cli, playbook
from remediate import log as remediate_log
from remediate.report import render_text


@pytest.fixture
def mixed(lab):
    lab.add_windows("healthy")
    lab.add_windows("broken", machine=WRONG_TYPE)
    lab.add_linux("penguin")
    lab.start()
    return lab


def test_a_step_for_another_os_does_not_make_the_host_skipped(mixed, run_options) -> None:
    report = playbook.run(mixed.hosts(), ["vss-copy-backup", "linux-agent"], run_options(dry_run=True))
    by_host = {h.host: h for h in report.hosts}
    assert by_host["healthy"].status == "ok", by_host["healthy"].reason
    assert by_host["penguin"].status == "ok", by_host["penguin"].reason
    assert by_host["broken"].status == "pending", by_host["broken"].reason
    # the step that does not apply is recorded as such, beside the one that ran
    steps = {s.remediation: s for s in by_host["healthy"].steps}
    assert steps["linux-agent"].applicable is False and steps["linux-agent"].status == "skipped"
    assert steps["vss-copy-backup"].applicable is True and steps["vss-copy-backup"].status == "ok"
    assert report.counts() == {"ok": 2, "changed": 0, "pending": 1, "failed": 0, "unreachable": 0, "skipped": 0}


def test_a_host_no_remediation_applies_to_is_skipped(mixed, run_options) -> None:
    report = playbook.run([mixed.host("penguin")], ["vss-copy-backup"], run_options(dry_run=True))
    (host,) = report.hosts
    assert host.status == "skipped" and "windows" in host.reason


def test_dry_run_pending_has_its_own_word_in_table_summary_and_json(mixed, tmp_path: Path, capsys) -> None:
    inv = mixed.write_inventory(tmp_path / "lab.yml")
    base = ["-i", str(inv), "--limit", "healthy,broken", "vss-copy-backup", "--dry-run", "--no-progress"]
    assert cli.main(base) == cli.EXIT_OK
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:3]}
    assert rows == {"healthy": "ok", "broken": "pending"}
    assert "changed" not in out.replace("nothing was changed", "")
    summary = next(line for line in out.splitlines() if "run " in line and "dry-run" in line)
    assert "pending=1" in summary and "ok=1" in summary
    assert cli.main([*base, "--detailed-exitcode"]) == cli.EXIT_PENDING
    capsys.readouterr()
    assert cli.main([*base, "--output", "json"]) == cli.EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["pending"] == 1 and data["summary"]["changed"] == 0
    assert {h["host"]: h["status"] for h in data["hosts"]} == {"healthy": "ok", "broken": "pending"}


def test_every_step_appears_in_the_text_held_back_ones_too(lab, tmp_path: Path, capsys) -> None:
    lab.add_windows("com", machine="windows-msdtc-broken")
    lab.start()
    inv = lab.write_inventory(tmp_path / "lab.yml")
    code = cli.main(["-i", str(inv), "--for", "ExtensionSnapshotFailedCOM", "--no-progress"])
    assert code == cli.EXIT_FAILED
    out = capsys.readouterr().out
    lines = out.splitlines()
    com = [line for line in lines if line.startswith("  com / comsysapp: ")]
    dtc = [line for line in lines if line.startswith("  com / msdtc: ")]
    assert len(com) == 1 and "FAILED" in com[0]
    assert len(dtc) == 1 and "held back" in dtc[0] and "--yes" in dtc[0]
    assert "would:" in out  # the held-back plan is shown


def test_a_single_compliant_step_is_said_once_in_the_table() -> None:
    compliant = "compliant: nothing to change"
    ok = playbook.HostResult("vm1", "ok", compliant, steps=[playbook.StepResult("vss-copy-backup", "ok", compliant)])
    other = playbook.StepResult("fs-freeze", "skipped", "fs-freeze is for linux; host is windows", applicable=False)
    two = playbook.HostResult("vm2", "ok", compliant, steps=[*ok.steps, other])
    report = playbook.RunReport("r1", False, ["vss-copy-backup", "fs-freeze"], [ok, two], 0.0, 1.0, "j")
    text = render_text(report)
    assert "vm1 / " not in text
    assert "  vm2 / vss-copy-backup: ok: compliant" in text
    assert "  vm2 / fs-freeze: not applicable: fs-freeze is for linux" in text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "coloured"), [("1", False), ("", True)])
def test_console_log_lines_are_coloured_only_on_a_terminal_without_no_color(monkeypatch, no_color, coloured) -> None:
    monkeypatch.setenv("NO_COLOR", no_color)
    monkeypatch.delenv("TERM", raising=False)
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        remediate_log.configure(level="warning", stream=stream)
        structlog.get_logger("remediate.test").warning("ssh_host_key_accepted", host="vm1")
    assert ("\x1b[" in terminal.getvalue()) is coloured
    assert "\x1b[" not in pipe.getvalue() and "ssh_host_key_accepted" in pipe.getvalue()


def test_failures_are_in_the_table_and_the_log_file_not_repeated_on_stderr(lab, tmp_path: Path, capsys) -> None:
    lab.add_windows("down", faults={"refuse_connections": True})
    lab.start()
    inv = lab.write_inventory(tmp_path / "lab.yml")
    log_file = tmp_path / "run.jsonl"
    argv = ["-i", str(inv), "vss-copy-backup", "--retries", "2", "--retry-wait", "0", "--log-file", str(log_file)]
    assert cli.main(argv) == cli.EXIT_UNREACHABLE
    captured = capsys.readouterr()
    assert "UNREACHABLE" in captured.out
    assert "remote_op" not in captured.err, captured.err
    events = [json.loads(line)["event"] for line in log_file.read_text().splitlines()]
    assert "remote_op_retry" in events and "remote_op" in events
