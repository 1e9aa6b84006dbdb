"""The run journal: one JSON-lines file per run, written ahead of every change, so that a kill loses nothing.

``RUN_ID.jsonl`` holds, in order:

- ``{"event": "run", ...}`` once at the start: the remediations, their parameters, the run's options and the
  hosts' public connection settings, so that ``remediate undo`` can reconnect and ``remediate --resume`` can
  run the same thing again;
- ``{"event": "intent", "id": ..., ...}`` before a mutating change is sent (host, remediation, summary,
  operation, before, after, undo, undo_note), flushed and fsync'ed before the operation leaves;
- ``{"event": "change", "id": ..., "ok": true|false, ...}`` once the change's outcome is known: the same fields,
  plus ``error``, and ``maybe_applied`` when a failure leaves open whether the host applied it. An intent with no
  ``change`` line is "maybe applied": ``undo`` and ``--resume`` read the host to decide. (Journals written before
  intents existed have ``change`` lines only; they undo as before.)
- ``{"event": "resume", "hosts": [...]}`` when ``--resume`` continues the run;
- ``{"event": "end", "status": "complete"|"interrupted", "counts": {...}}`` when the run ends.

``RUN_ID.results.ndjson`` beside it has one line per host, written as the host ends, and
``RUN_ID.report.json`` the whole report, written at the end. A line cut short by a kill is reported and
skipped by every reader here, never a traceback. Everything written passes the log redactor first: no
registered secret reaches these files.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from remediate.errors import ConfigError
from remediate.log import _clean

DEFAULT_DIR_ENV = "REMEDIATE_JOURNAL_DIR"
RESULTS_SUFFIX = ".results.ndjson"
REPORT_SUFFIX = ".report.json"

# What ``run`` and ``undo`` make (``20261128T134952Z-1c497b``, ``undo-20261128T134952Z-1c497b-a1b2c3``) and
# what a caller may choose: letters, digits, '.', '_' and '-'; never a path.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,159}")


def default_dir() -> Path:
    env = os.environ.get(DEFAULT_DIR_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "remediate" / "runs"


def check_run_id(run_id: str) -> str:
    """The run id itself, or a ConfigError: a run id is an id, never a path."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ConfigError(
            f"{run_id!r} is not a run id",
            hint="give the id printed at the end of the run (like 20261128T134952Z-1c497b), not a path; "
            "--journal-dir says where the journals are",
        )
    return run_id


def _directory(directory: str | Path | None) -> Path:
    return Path(directory) if directory else default_dir()


def _fsync_append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _end_cut_line(path: Path) -> None:
    """A file that a kill left with half a last line: end that line, so that what is appended stays whole."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return
            fh.seek(-1, os.SEEK_END)
            cut = fh.read(1) != b"\n"
    except FileNotFoundError:
        return
    if cut:
        _fsync_append(path, "\n")


class Journal:
    """Append-only journal of one run (and the results file beside it). Safe to share between threads."""

    def __init__(self, directory: str | Path | None, run_id: str) -> None:
        self.dir = _directory(directory)
        self.run_id = check_run_id(run_id)
        self.path = self.dir / f"{run_id}.jsonl"
        self.results_path = self.dir / f"{run_id}{RESULTS_SUFFIX}"
        self.report_path = self.dir / f"{run_id}{REPORT_SUFFIX}"
        self._lock = threading.Lock()
        self._opened = False

    def _ensure_dir(self) -> None:
        if not self._opened:
            self.dir.mkdir(parents=True, exist_ok=True)
            _end_cut_line(self.path)  # appending to the journal of a run that was killed (--resume)
            _end_cut_line(self.results_path)
            self._opened = True

    def write(self, event: str, **fields: Any) -> None:
        """Append one entry and make it durable (flush and fsync) before returning."""
        entry = _clean({"event": event, "run_id": self.run_id, "ts": time.time(), **fields})
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self._ensure_dir()
            _fsync_append(self.path, line)

    def write_result(self, result: dict[str, Any]) -> None:
        """One host's final result, durable as the host ends."""
        line = json.dumps(_clean(result), ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self._ensure_dir()
            _fsync_append(self.results_path, line)

    def write_report(self, text: str) -> None:
        """The final report document, replaced atomically."""
        with self._lock:
            self._ensure_dir()
            atomic_write(self.report_path, text)


def atomic_write(path: str | Path, text: str) -> None:
    """Write a file so that a reader sees the old content or the whole new one, never half of it."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


Warn = Callable[[str], None]


def read_lines(path: Path, warn: Warn | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file; a line cut short (or otherwise unreadable) is reported and skipped."""
    data = path.read_bytes()
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    last = len(lines) - 1 if lines[-1] else len(lines) - 2  # index of the last line that has text
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            out.append(entry)
            continue
        if warn:
            which = f"the last line (line {i + 1})" if i == last else f"line {i + 1}"
            warn(f"{path}: {which} is cut short or damaged, probably by a kill while it was written; skipped")
    return out


def path_of(run_id: str, directory: str | Path | None = None) -> Path:
    return _directory(directory) / f"{check_run_id(run_id)}.jsonl"


def read(run_id: str, directory: str | Path | None = None, warn: Warn | None = None) -> list[dict[str, Any]]:
    """The entries of a run's journal, by run id (looked up in ``directory``)."""
    path = path_of(run_id, directory)
    if not path.is_file():
        raise ConfigError(
            f"no journal for run {run_id!r} at {path}",
            hint="give the run id printed at the end of the run, and --journal-dir if it was not the default",
        )
    try:
        return read_lines(path, warn)
    except OSError as exc:
        raise ConfigError(f"cannot read the journal {path}: {exc.strerror or exc}") from None


def read_results(run_id: str, directory: str | Path | None = None, warn: Warn | None = None) -> list[dict[str, Any]]:
    """The host results written so far for a run (none when the file does not exist)."""
    path = _directory(directory) / f"{check_run_id(run_id)}{RESULTS_SUFFIX}"
    if not path.is_file():
        return []
    try:
        return [r for r in read_lines(path, warn) if isinstance(r.get("host"), str)]
    except OSError as exc:
        raise ConfigError(f"cannot read the results {path}: {exc.strerror or exc}") from None


def changes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every change of a journal in the order it was sent, each with ``state``: ``applied``, ``failed`` or
    ``unknown`` (an intent with no outcome, or a failure that may have been applied)."""
    out: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for e in entries:
        kind = e.get("event")
        if kind == "intent" and e.get("id"):
            record = {**e, "state": "unknown"}
            by_id[str(e["id"])] = record
            out.append(record)
        elif kind == "change":
            record = by_id.get(str(e.get("id"))) if e.get("id") else None
            state = "applied" if e.get("ok") else "unknown" if e.get("maybe_applied") else "failed"
            if record is None:  # an outcome without an intent: a journal from before intents
                out.append({**e, "state": state})
            else:
                record.update({k: v for k, v in e.items() if k != "event"})
                record["state"] = state
    return out
