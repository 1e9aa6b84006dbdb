"""Run remediations through ``playbook.run`` / ``playbook.undo`` against one lab Windows host.

Over real WinRM: pywinrm against the lab's WS-Management server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediate.inventory.host import Host
from remediate.lab import Lab
from windows_lab import FAST_RETRY

from remediate import log as remediate_log
from remediate import playbook
from remediate.connection import ConnectOptions, connect


@dataclass
class LabRun:
    """One lab with one Windows host, and everything the operator side wrote while running against it."""

    lab: Lab
    name: str
    tmp: Path
    log_file: Path
    console: io.StringIO

    @property
    def host(self) -> Host:
        return self.lab.host(self.name)

    def machine(self) -> dict[str, Any]:
        return self.lab.state(self.name).read()["machine"]

    def edit(self):
        return self.lab.state(self.name).edit()

    def mutations(self) -> list[dict[str, Any]]:
        return self.lab.oplog.mutations(self.name)

    def options(self, **kwargs: Any) -> playbook.RunOptions:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("journal_dir", str(self.tmp / "journal"))
        kwargs.setdefault("sleep", lambda s: None)
        return playbook.RunOptions(**kwargs)

    def run(self, slugs: list[str] | str, **kwargs: Any) -> tuple[playbook.HostResult, playbook.RunReport]:
        report = playbook.run([self.host], [slugs] if isinstance(slugs, str) else slugs, self.options(**kwargs))
        (result,) = report.hosts
        return result, report

    def undo(self, run_id: str, **kwargs: Any) -> playbook.RunReport:
        return playbook.undo(run_id, [self.host], self.options(**kwargs))

    def connect(self, dry_run: bool = False):
        """A connection of our own to the host (real WinRM), for reading or changing it outside a run."""
        options = ConnectOptions(dry_run=dry_run, retry=FAST_RETRY, connect_timeout=5.0, command_timeout=60.0)
        return connect(self.host, options)

    def journal_text(self) -> str:
        folder = self.tmp / "journal"
        return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.jsonl"))) if folder.exists() else ""

    def operator_side_text(self, *reports: playbook.RunReport) -> str:
        """Every log line, journal line and result the operator side produced."""
        parts = [self.console.getvalue(), self.journal_text()]
        if self.log_file.exists():
            parts.append(self.log_file.read_text(encoding="utf-8"))
        parts.extend(json.dumps(r.to_dict(), ensure_ascii=False, default=str) for r in reports)
        return "\n".join(parts)


@contextlib.contextmanager
def lab_run(
    tmp_path: Path,
    machine: str | dict[str, Any] = "healthy",
    *,
    name: str = "win01",
    language: str | None = None,
) -> Iterator[LabRun]:
    lab = Lab(tmp_path / "lab")
    lab.add_windows(name, machine, language=language)
    console = io.StringIO()
    log_file = tmp_path / "remediate.log.jsonl"
    remediate_log.configure(level="debug", json_file=str(log_file), stream=console)
    lab.start()
    try:
        yield LabRun(lab, name, tmp_path, log_file, console)
    finally:
        lab.stop()
