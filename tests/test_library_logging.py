"""The libraries' own logging goes through ours; the lab's operation log shows no secret."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from remediate.lab.state import OpLog

from remediate import log as remediate_log

RECOVERY = "135795-258016-380237-502458-624679-660000-013574-720885"


@pytest.fixture
def restore_logging():
    saved = {name: (lg.handlers[:], lg.level, lg.propagate) for name in remediate_log.LIBRARY_LOGGERS
             for lg in [logging.getLogger(name)]}  # fmt: skip
    yield
    for name, (handlers, level, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate
    remediate_log.configure(level="warning")


def _paramiko_traceback() -> None:
    """What paramiko's transport thread logs for a refused connection: ERROR lines of a traceback."""
    logger = logging.getLogger("paramiko.transport")
    logger.error("Exception (client): Error reading SSH protocol banner[Errno 104] Connection reset by peer")
    logger.error("Traceback (most recent call last):")
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        logger.error("socket failed", exc_info=True)


def test_library_errors_and_tracebacks_are_debug_lines_of_ours(restore_logging, tmp_path: Path) -> None:
    console = io.StringIO()
    json_file = tmp_path / "log.jsonl"
    remediate_log.configure(level="warning", json_file=str(json_file), stream=console)
    _paramiko_traceback()
    logging.getLogger("urllib3.connectionpool").warning("Connection pool is full, discarding connection")
    assert console.getvalue() == ""  # nothing on the terminal at the default level
    events = [json.loads(line) for line in json_file.read_text().splitlines()]
    library = [e for e in events if e["event"] == "library_log"]
    assert [e["level"] for e in library] == ["debug", "debug", "debug", "info"]
    assert library[0]["library"] == "paramiko.transport"
    assert "ConnectionResetError" in library[2]["exception"]


def test_library_warnings_show_at_info(restore_logging) -> None:
    console = io.StringIO()
    remediate_log.configure(level="info", stream=console)
    logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
    _paramiko_traceback()
    text = console.getvalue()
    assert "Connection pool is full" in text and "library_log" in text
    assert "Traceback" not in text


def test_refused_ssh_hosts_print_no_traceback(tmp_path: Path) -> None:
    """The whole CLI in a subprocess: refused and reset SSH connections, a clean terminal."""
    code = f"""
import sys
from remediate.lab import Lab
lab = Lab({str(tmp_path / "lab")!r})
lab.add_linux("l1", faults={{"refuse_connections": True}})
lab.add_linux("l2", faults={{"drop_mid_command": True}})
lab.start()
from remediate.cli import main
try:
    code = main(["-i", str(lab.inventory_path), "--retries", "2", "--retry-wait", "0.01", "ping"])
finally:
    lab.stop()
sys.exit(code)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path.cwd())
    assert done.returncode == 4, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert "paramiko" not in done.stderr


def test_operation_log_masks_secrets(tmp_path: Path, capsys) -> None:
    oplog = OpLog(tmp_path / "oplog.jsonl")
    oplog.record("w1", "bitlocker/unlock.ps1", True, args={"mount_point": "F:", "recovery_password": RECOVERY})
    oplog.record("w1", "exec", False, command=f"echo {RECOVERY.replace('-', '')}", password_file="/lab/secret")
    text = oplog.path.read_text(encoding="utf-8")
    assert RECOVERY not in text and RECOVERY.replace("-", "") not in text
    first, second = oplog.entries("w1")
    assert first["args"] == {"mount_point": "F:", "recovery_password": "********"}
    assert second["password_file"] == "/lab/secret"  # a reference, not a secret
    # `remediate lab log` masks a log written before masking existed, too
    with open(oplog.path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"ts": 0, "host": "w1", "op": "x", "mutating": True, "args": {"key": RECOVERY}}) + "\n")
    from remediate.cli import main

    assert main(["lab", "log", "--dir", str(tmp_path), "--output", "json"]) == 0  # the raw entries
    out = capsys.readouterr().out
    assert RECOVERY not in out and out.count("********") == 3
    assert main(["lab", "log", "--dir", str(tmp_path)]) == 0  # the summary
    out = capsys.readouterr().out
    assert RECOVERY not in out and RECOVERY.replace("-", "") not in out
