"""`remediate lab break/show/log/machines`: exact machines, summaries a person reads, the raw form on request."""

from __future__ import annotations

import json
import re
from pathlib import Path

from remediate.lab import machine_spec, ready_made_machines

from remediate import cli, playbook

WRITERS_FAILED = "windows-vss-writers-failed"


def _lab_cli(lab, capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(["lab", *argv, "--dir", str(lab.dir)])
    return code, capsys.readouterr().out


def test_break_after_a_fix_leaves_exactly_the_broken_machine(lab, run_options, capsys) -> None:
    lab.add_windows("win01", machine=WRITERS_FAILED, faults={"latency_ms": 1})
    lab.start()
    fixed = playbook.run([lab.host("win01")], ["vss-writers"], run_options(assume_yes=True))
    assert fixed.hosts[0].status == "changed", fixed.hosts[0].reason
    port = lab.state("win01").read()["port"]

    code, out = _lab_cli(lab, capsys, "break", "win01", WRITERS_FAILED)
    assert code == 0 and "win01" in out
    state = lab.state("win01").read()
    assert state["faults"] == (machine_spec(WRITERS_FAILED).get("faults") or {})  # the old fault is gone
    assert state["port"] == port and state["user"]
    assert all("restarted_at" not in svc for svc in state["machine"]["services"].values())
    again = playbook.run([lab.host("win01")], ["vss-writers"], run_options(dry_run=True))
    assert again.hosts[0].status == "pending", again.hosts[0].reason


def test_break_keeps_the_hosts_language_and_refuses_another_os(lab, capsys) -> None:
    lab.add_windows("win02", language="ja-JP")
    code, _ = _lab_cli(lab, capsys, "break", "win02", WRITERS_FAILED)
    assert code == 0
    machine = lab.state("win02").read()["machine"]
    assert machine["language"] == "ja-JP" and machine["codepage"] == 932
    assert next(w for w in machine["vss_writers"] if w["name"] == "System Writer")["state"] == 8
    assert cli.main(["lab", "break", "win02", "linux-fs-unclean", "--dir", str(lab.dir)]) == 1
    assert "linux" in capsys.readouterr().err


def test_show_prints_writers_as_the_host_reports_them(lab, run_options, capsys) -> None:
    lab.add_windows("win01", machine=WRITERS_FAILED)
    lab.start()
    code, before = _lab_cli(lab, capsys, "show", "win01")
    assert code == 0
    assert re.search(r"\[8\] System Writer", before), before
    playbook.run([lab.host("win01")], ["vss-writers"], run_options(assume_yes=True))
    _, after = _lab_cli(lab, capsys, "show", "win01")
    assert re.search(r"\[1\] System Writer", after), after
    assert "[8] System Writer" not in after
    assert not re.search(r"\b1[7-9]\d{8}\.\d+", after), "epoch seconds in the summary"
    _, raw = _lab_cli(lab, capsys, "show", "win01", "--output", "json")
    assert json.loads(raw)["name"] == "win01"
    _, raw_yaml = _lab_cli(lab, capsys, "show", "win01", "--output", "yaml")
    assert raw_yaml.startswith("name: win01")


def test_log_is_a_table_by_default_and_json_lines_on_request(lab, run_options, capsys) -> None:
    lab.add_windows("win01", machine=WRITERS_FAILED)
    lab.start()
    playbook.run([lab.host("win01")], ["vss-writers"], run_options(assume_yes=True))
    code, table = _lab_cli(lab, capsys, "log")
    assert code == 0
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["TIME", "HOST", "KIND", "OPERATION"]
    assert any(" CHANGE " in line and "service_control" in line for line in lines[1:]), table
    assert not re.search(r"\b1[7-9]\d{8}\.\d+", table)
    _, raw = _lab_cli(lab, capsys, "log", "--output", "json")
    entries = [json.loads(line) for line in raw.splitlines()]
    assert len(entries) == len(lines) - 1 and all("ts" in e for e in entries)


def test_machines_have_a_description(capsys, tmp_path: Path) -> None:
    assert cli.main(["lab", "machines"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(ready_made_machines()) + 1
    for line in lines[1:]:
        name, os_name, *description = line.split()
        assert name in ready_made_machines() and os_name in ("windows", "linux")
        assert len(description) >= 3, line
