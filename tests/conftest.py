"""Shared fixtures: a fresh lab per test, journals kept inside the test's tmp dir, fast retries."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from remediate.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, initial=0.05, maximum=0.2, jitter=0.05)


@pytest.fixture(autouse=True)
def _journal_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATE_JOURNAL_DIR", str(tmp_path / "journal"))
    monkeypatch.delenv("REMEDIATE_PASSWORD", raising=False)


@pytest.fixture
def lab(tmp_path: Path):
    """A lab in tmp: add hosts with ``lab.add_windows/add_linux``, then ``lab.start()``; stopped afterwards."""
    from remediate.lab import Lab

    instance = Lab(tmp_path / "lab")
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def run_options(tmp_path: Path):
    """A factory of RunOptions with fast retries and the journal in tmp."""
    from remediate import playbook

    def make(**kwargs):
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("journal_dir", str(tmp_path / "journal"))
        kwargs.setdefault("sleep", lambda seconds: time.sleep(min(seconds, 0.2)))
        return playbook.RunOptions(**kwargs)

    return make


def is_root() -> bool:
    return os.geteuid() == 0


def loop_devices_available() -> tuple[bool, str]:
    if not is_root():
        return False, "needs root for loop devices (CI runs as root)"
    if not Path("/dev/loop-control").exists():
        return False, "no /dev/loop-control on this machine"
    return True, ""
