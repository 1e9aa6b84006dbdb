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
