"""The run journal: one JSON-lines file per run, every applied change with its before and after.

Lines are ``{"event": "run", ...}`` once at the start (options, remediations, the hosts' public connection
settings, so that ``remediate undo`` can reconnect), then ``{"event": "change", ...}`` per applied change
(host, remediation, summary, operation, before, after, undo, undo_note, ok, error). Everything written passes
the log redactor first: no registered secret reaches the file.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from remediate.log import _clean

DEFAULT_DIR_ENV = "REMEDIATE_JOURNAL_DIR"


def default_dir() -> Path:
    env = os.environ.get(DEFAULT_DIR_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "remediate" / "runs"


class Journal:
    """Append-only journal of one run."""

    def __init__(self, directory: str | Path | None, run_id: str) -> None:
        self.dir = Path(directory) if directory else default_dir()
        self.run_id = run_id
        self.path = self.dir / f"{run_id}.jsonl"
        self._lock = threading.Lock()
        self._opened = False

    def write(self, event: str, **fields: Any) -> None:
        entry = _clean({"event": event, "run_id": self.run_id, "ts": time.time(), **fields})
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            if not self._opened:
                self.dir.mkdir(parents=True, exist_ok=True)
                self._opened = True
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)


def read(run_id_or_path: str | Path, directory: str | Path | None = None) -> list[dict[str, Any]]:
    """The entries of a journal, by run id (looked up in ``directory``) or by path."""
    path = Path(run_id_or_path)
    if not path.exists():
        path = (Path(directory) if directory else default_dir()) / f"{run_id_or_path}.jsonl"
    if not path.exists():
        from remediate.errors import ConfigError

        raise ConfigError(
            f"no journal for run {run_id_or_path!r} at {path}",
            hint="give the run id printed at the end of the run, and --journal-dir if it was not the default",
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
