"""Secrets never reach a log line, on the console or in the JSON log file."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import structlog

from remediate import log


def test_registered_secret_and_secret_keys_are_masked(tmp_path: Path) -> None:
    stream = io.StringIO()
    logfile = tmp_path / "run.jsonl"
    log.configure(level="debug", json_file=str(logfile), stream=stream)
    secret = "S3cr3t-Value-42"
    log.register_secret(secret)
    logger = structlog.get_logger("remediate.test").bind(host="vm1")
    logger.info("connect", password="hunter2-not-registered", detail=f"auth with {secret} failed", user="admin")
    logger.warning("nested", vars={"ansible_password": "p4ss", "port": 5986}, argv=["-p", secret])
    logging.getLogger("remediate").handlers[-1].flush()
    console = stream.getvalue()
    text = logfile.read_text()
    for out in (console, text):
        assert secret not in out
        assert "hunter2-not-registered" not in out
        assert "p4ss" not in out
        assert "admin" in out and "vm1" in out
    events = [json.loads(line) for line in text.splitlines()]
    assert events[0]["password"] == log.MASK
    assert events[1]["vars"] == {"ansible_password": log.MASK, "port": 5986}


def test_scrub_replaces_inside_strings() -> None:
    log.register_secret("pa55word!")
    assert log.scrub("login pa55word! failed") == f"login {log.MASK} failed"


def test_references_to_secrets_are_kept_but_secrets_masked() -> None:
    event = log.redact(
        None,
        "info",
        {"event": "x", "vars": {"password_file": "/run/pw", "password_env": "VM_PW", "password": "p", "ssh_pass": "q"}},
    )
    assert event["vars"] == {
        "password_file": "/run/pw",
        "password_env": "VM_PW",
        "password": log.MASK,
        "ssh_pass": log.MASK,
    }


def _cli_imports_structlog(argv: list[str]) -> tuple[bool, str]:
    """Run the CLI in a fresh interpreter; whether it imported structlog by the end, and its stdout."""
    import subprocess
    import sys

    code = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('STRUCTLOG', 'structlog' in sys.modules, file=sys.stderr))\n"
        f"sys.argv = ['remediate', *{argv!r}]\n"
        "runpy.run_module('remediate.cli', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return "STRUCTLOG True" in proc.stderr, proc.stdout


def test_a_run_that_logs_nothing_never_imports_structlog(lab, tmp_path: Path) -> None:
    """At the default level a clean run writes no log line, so it never pays for structlog's import; with a log
    file every event is written, through structlog, secrets masked."""
    lab.add_windows("win01")
    lab.start()
    inventory = str(lab.write_inventory())
    imported, out = _cli_imports_structlog(["-i", inventory, "vss-writers", "--dry-run"])
    assert "ok=1" in out
    assert not imported
    logfile = tmp_path / "run.jsonl"
    imported, out = _cli_imports_structlog(["-i", inventory, "vss-writers", "--dry-run", "--log-file", str(logfile)])
    assert imported and "ok=1" in out
    events = [json.loads(line) for line in logfile.read_text().splitlines()]
    names = {e["event"] for e in events}
    assert {"run_start", "winrm_shell_opened", "remote_op", "host_done", "run_end"} <= names
    assert all(e.get("timestamp") and e.get("level") for e in events)
    password = Path(lab.secret_file).read_text().strip()
    assert password not in logfile.read_text()


def test_an_event_below_every_level_is_dropped_before_structlog_is_needed() -> None:
    import subprocess
    import sys

    code = (
        "import io, sys\n"
        "from remediate import log\n"
        "err = io.StringIO()\n"
        "log.configure('warning', stream=err)\n"
        "logger = log.get_logger('remediate.test', host='vm1')\n"
        "logger.debug('quiet'); logger.info('quiet')\n"
        "print('structlog' in sys.modules)\n"
        "log.register_secret('S3cr3t-Value-42')\n"
        "logger.bind(step='x').warning('loud', detail='auth S3cr3t-Value-42')\n"
        "print('structlog' in sys.modules)\n"
        "print(err.getvalue())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    before, after, rendered = out.split("\n", 2)
    assert (before, after) == ("False", "True")
    assert "loud" in rendered and "host=vm1" in rendered and "step=x" in rendered and "quiet" not in rendered
    assert "S3cr3t-Value-42" not in rendered and log.MASK in rendered
