"""A connection to one lab Windows host for the tests of the Windows remediations, over real WinRM:
pywinrm against the lab's WS-Management server on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediate.lab import Lab
from remediate.lab.state import HostState

from remediate.connection import Connection, ConnectOptions, connect
from remediate.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, initial=0.05, maximum=0.2, jitter=0.05)


@dataclass
class WindowsLabHost:
    lab: Lab
    name: str
    conn: Connection
    state: HostState

    def mutations(self) -> list[dict[str, Any]]:
        return self.lab.oplog.mutations(self.name)

    def machine(self) -> dict[str, Any]:
        return self.state.read()["machine"]


@contextlib.contextmanager
def windows_host(
    directory: Path,
    name: str,
    machine: str | dict[str, Any] = "healthy",
    *,
    language: str | None = None,
    dry_run: bool = False,
    faults: dict[str, Any] | None = None,
) -> Iterator[WindowsLabHost]:
    """A started lab with one Windows host, and an open connection to it."""
    lab = Lab(directory / "lab")
    lab.add_windows(name, machine, language=language, faults=faults)
    options = ConnectOptions(dry_run=dry_run, retry=FAST_RETRY, connect_timeout=5.0, command_timeout=60.0)
    try:
        lab.start()
        with connect(lab.host(name), options) as conn:
            yield WindowsLabHost(lab, name, conn, lab.state(name))
    finally:
        lab.stop()
