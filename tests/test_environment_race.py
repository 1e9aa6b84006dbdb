"""No worker thread touches the process environment: 100 WinRM hosts in parallel, five times over.

With ``proxy=None`` pywinrm made requests set and delete ``no_proxy`` in ``os.environ`` around every request
(psf/requests#4997); with parallel hosts that raised ``KeyError: 'no_proxy'`` now and then (a host wrongly
"unreachable") or left ``no_proxy=*`` behind. The race itself is probabilistic, so ``os.environ`` is wrapped
here and every write is recorded: on the old code each request wrote it twice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from remediate import playbook


class RecordingEnviron(MutableMapping[str, str]):
    """``os.environ`` that forwards everything and records each write with the thread that made it."""

    def __init__(self, real: MutableMapping[str, str]) -> None:
        self.real = real
        self.writes: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def _note(self, what: str, key: str) -> None:
        with self._lock:
            self.writes.append((what, key, threading.current_thread().name))

    def __getitem__(self, key: str) -> str:
        return self.real[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._note("set", key)
        self.real[key] = value

    def __delitem__(self, key: str) -> None:
        self._note("delete", key)
        del self.real[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.real)

    def __len__(self) -> int:
        return len(self.real)

    def copy(self) -> dict[str, str]:
        return dict(self.real)

    def __getattr__(self, name: str) -> Any:  # encodekey, decodevalue ... for the os module's own helpers
        return getattr(self.real, name)


@pytest.mark.slow
def test_hundred_parallel_winrm_hosts_never_write_the_environment(lab, run_options, monkeypatch) -> None:
    for i in range(100):
        lab.add_windows(f"w{i:03d}", scheme="http")
    lab.start()
    hosts = lab.hosts()
    before = dict(os.environ)
    recorder = RecordingEnviron(os.environ)
    monkeypatch.setattr(os, "environ", recorder)
    for _ in range(5):
        report = playbook.run(hosts, ["vss-copy-backup"], run_options(forks=100, dry_run=True))
        counts = report.counts()
        assert counts["unreachable"] == 0, [h.reason for h in report.hosts if h.status == "unreachable"][:3]
        assert counts["ok"] == 100
    assert recorder.writes == []
    assert dict(recorder.real) == before
