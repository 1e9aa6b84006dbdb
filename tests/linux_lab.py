"""Run Linux remediations against one lab Linux host.

Over real SSH: fabric/paramiko against the lab's SSH server on 127.0.0.1, which runs our sh scripts in a real
``/bin/sh`` with the lab host's command shims first on PATH.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediate.inventory.host import Host
from remediate.lab import Lab
from remediate.lab.linux.host import exec_environment

from remediate import playbook
from remediate.connection import Connection, ConnectOptions, connect
from remediate.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, initial=0.05, maximum=0.2, jitter=0.05)


@dataclass
class LinuxLab:
    lab: Lab
    name: str
    tmp: Path

    @property
    def host(self) -> Host:
        return self.lab.host(self.name)

    @property
    def root(self) -> Path:
        return self.lab.host_dir(self.name) / "root"

    def machine(self) -> dict[str, Any]:
        return self.lab.state(self.name).read()["machine"]

    def edit(self):
        return self.lab.state(self.name).edit()

    def mutations(self) -> list[dict[str, Any]]:
        return self.lab.oplog.mutations(self.name)

    def connection(self, dry_run: bool = False) -> Connection:
        options = ConnectOptions(dry_run=dry_run, retry=FAST_RETRY, connect_timeout=5.0, command_timeout=60.0)
        return connect(self.host, options)

    def options(self, **kwargs: Any) -> playbook.RunOptions:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("journal_dir", str(self.tmp / "journal"))
        kwargs.setdefault("sleep", lambda s: None)
        return playbook.RunOptions(**kwargs)

    def run(self, slug: str, **kwargs: Any) -> tuple[Any, Any]:
        """``playbook.run`` on this host: ``(the host's result, its one step)``."""
        report = playbook.run([self.host], [slug], self.options(**kwargs))
        (result,) = report.hosts
        return result, result.steps[0] if result.steps else None

    def undo(self, run_id: str, **kwargs: Any) -> Any:
        return playbook.undo(run_id, [self.host], self.options(**kwargs))

    def snapshot(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The model and every file under the host's root, to prove nothing changed."""
        files = {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()}
        return self.machine(), files


@contextlib.contextmanager
def linux_lab(
    tmp_path: Path,
    machine: str | dict[str, Any] = "healthy",
    *,
    name: str = "lin01",
) -> Iterator[LinuxLab]:
    lab = Lab(tmp_path / "lab")
    lab.add_linux(name, machine)
    lab.start()
    handle = LinuxLab(lab, name, tmp_path)
    # Write the host's files now, so that a first snapshot sees them.
    exec_environment(lab.state(name), lab.oplog)
    try:
        yield handle
    finally:
        lab.stop()
