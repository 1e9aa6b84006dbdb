"""Remote operations and their results.

An :class:`Operation` names a script file shipped in the ``remediations`` package and the arguments it is
given, as data. It is declared read-only or mutating; a connection in dry-run refuses a mutating one before
anything is sent. A :class:`Result` has one shape whatever the transport (after invoke/fabric's ``Result``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Operation:
    """One remote script run: ``script`` is its path under ``remediations/`` (e.g. ``common/service_get.ps1``)."""

    script: str
    args: Mapping[str, Any] = field(default_factory=dict)
    mutating: bool = False
    timeout: float | None = None
    batch: tuple[Operation, ...] = ()  # several read-only operations sent as one remote command (see batch())

    @property
    def shell(self) -> str:
        """``powershell`` for ``.ps1`` scripts, ``sh`` for ``.sh`` scripts."""
        if self.batch:
            return self.batch[0].shell
        if self.script.endswith(".ps1"):
            return "powershell"
        if self.script.endswith(".sh"):
            return "sh"
        raise ValueError(f"unknown script type: {self.script}")

    def describe(self) -> str:
        """The exact operation, as shown in a plan: the script and its JSON arguments."""
        kind = "mutating" if self.mutating else "read-only"
        return f"{self.script} {json.dumps(dict(self.args), sort_keys=True, ensure_ascii=False)} ({kind})"

    def to_dict(self) -> dict[str, Any]:
        return {"script": self.script, "args": dict(self.args), "mutating": self.mutating}

    @property
    def parts(self) -> tuple[Operation, ...]:
        """The operations this one carries: its batch, or itself."""
        return self.batch or (self,)


def read(script: str, timeout: float | None = None, **args: Any) -> Operation:
    """A read-only operation."""
    return Operation(script, args, mutating=False, timeout=timeout)


def batch(ops: Sequence[Operation]) -> Operation:
    """Read-only operations of one shell as one remote command: one round trip instead of one each.

    Its result carries one :class:`Result` per operation in ``parts``, in order. Mutating operations are never
    batched: each one is journaled before it is sent, and runs at most once on its own.
    """
    if any(op.mutating or op.batch for op in ops) or len({op.shell for op in ops}) > 1:
        raise ValueError("only read-only operations of one shell can be batched")
    timeouts = [op.timeout for op in ops]
    timeout = None if None in timeouts else sum(t for t in timeouts if t is not None)
    return Operation("+".join(op.script for op in ops), mutating=False, timeout=timeout, batch=tuple(ops))


def mutate(script: str, timeout: float | None = None, **args: Any) -> Operation:
    """A mutating operation: refused by a connection in dry-run."""
    return Operation(script, args, mutating=True, timeout=timeout)


@dataclass
class Result:
    """What a remote operation returned.

    ``data`` is the JSON value the script reported (PowerShell scripts always report one; ``sh`` scripts
    may), ``stdout`` and ``stderr`` the decoded text streams around it.
    """

    stdout: str = ""
    stderr: str = ""
    exited: int = 0
    data: Any = None
    error: str | None = None  # the remote side's own error message, where the script reported one
    duration: float = 0.0
    attempts: int = 1
    parts: list[Result] = field(default_factory=list)  # a batch's results, one per operation, in order

    @property
    def ok(self) -> bool:
        return self.exited == 0

    @property
    def failed(self) -> bool:
        return not self.ok
