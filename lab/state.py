"""Lab host state files and the lab's operation log.

Each lab host keeps its whole machine in one YAML file (``.lab/hosts/NAME.yml``) that a person can edit to
break the machine in a chosen way. Every access reloads the file, so edits take effect at the next operation;
every change is written back atomically under a lock (threads of the lab process and the command shims of
Linux hosts, which are separate processes, share it).

Layout of a state file::

    name: win01
    os: windows                # or linux
    port: 55001                # given by `remediate lab up`
    user: labadmin             # the password is in the lab's secret file, never in a state file
    faults: {}                 # see lab/README.md: latency_ms, refuse_connections, drop_mid_command, ...
    machine: {...}             # the OS model: lab/windows/model.py or lab/linux/model.py

The operation log (``.lab/oplog.jsonl``) has one line per remote operation the lab executed, marked
read-only or mutating by the lab's own model, so that tests prove a dry-run mutated nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_thread_locks: dict[str, threading.RLock] = {}
_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.RLock:
    with _guard:
        return _thread_locks.setdefault(str(path), threading.RLock())


def load_yaml(path: str | Path) -> Any:
    """A lab state or machine file, read safely and with the alias budget (``remediate.yamlsafe``)."""
    from remediate.yamlsafe import load

    with open(path, encoding="utf-8") as fh:
        return load(fh, _Loader)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


class HostState:
    """One lab host's state file. ``read()`` for a snapshot; ``edit()`` to change it under the lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_suffix(self.path.suffix + ".lock")

    @property
    def name(self) -> str:
        return self.path.stem

    def read(self) -> dict[str, Any]:
        with self._locked(shared=True):
            return load_yaml(self.path)

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Yield the state for changing; it is written back (atomically) when the block ends without error."""
        with self._locked(shared=False):
            data = load_yaml(self.path)
            yield data
            self._write(data)

    def write(self, data: dict[str, Any]) -> None:
        with self._locked(shared=False):
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(dump_yaml(data), encoding="utf-8")
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def _locked(self, shared: bool) -> Iterator[None]:
        with _thread_lock(self.path), open(self.lock_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def consume_fault(state: HostState, fault: str, faults: dict[str, Any] | None = None) -> bool:
    """Whether a host's ``fault`` is on now (``true``, or a count that goes down by one each time it fires)."""
    if faults is None:
        faults = dict(state.read().get("faults") or {})
    value = faults.get(fault)
    if value is True:
        return True
    if not _fires(value):
        return False
    with state.edit() as data:
        current_faults = data.setdefault("faults", {})
        current = current_faults.get(fault)
        if not _fires(current):
            return current is True
        if current is not True:
            if current <= 1:
                current_faults.pop(fault, None)
            else:
                current_faults[fault] = current - 1
        return True


def _fires(value: Any) -> bool:
    return value is True or (isinstance(value, int) and not isinstance(value, bool) and value > 0)


MASK = "********"
# As remediate's log redactor: values under secret-looking keys; and a BitLocker recovery password anywhere.
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)?|secret|token|credential|api[_-]?key|private[_-]?key(?!_file)", re.I)
_REFERENCE = re.compile(r"(_env|_file|_path|_name)$", re.I)
_RECOVERY_PASSWORD = re.compile(r"(?<!\d)\d{6}(?:-?\d{6}){7}(?!\d)")


def redact(value: Any) -> Any:
    """A copy with secrets masked: what the operation log and ``lab log`` may show."""
    if isinstance(value, str):
        return _RECOVERY_PASSWORD.sub(MASK, value)
    if isinstance(value, dict):
        return {
            k: MASK if isinstance(k, str) and _SECRET_KEY.search(k) and not _REFERENCE.search(k) and v else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


class OpLog:
    """The lab's record of every remote operation it executed. Secrets are masked before they are written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def record(self, host: str, op: str, mutating: bool, **detail: Any) -> None:
        entry = {"ts": time.time(), "host": host, "op": op, "mutating": bool(mutating), **redact(detail)}
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line)
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)

    def entries(self, host: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                if host is None or entry["host"] == host:
                    out.append(entry)
        return out

    def mutations(self, host: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.entries(host) if e["mutating"]]
