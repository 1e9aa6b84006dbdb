"""A connection to one lab Windows host for the tests of the Windows remediations.

Over the real WinRM path (the lab's WS-Management server and ``remediate.connection.winrm``) when both are
in the tree; until then through the lab's powershell.exe entry point (``lab.windows.powershell.execute``) with
the exact command line and stdin that the WinRM connection sends, and the connection's own dry-run guard.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import Lab
from lab.state import HostState
from remediate import scripts
from remediate.connection import Connection, ConnectOptions, connect
from remediate.operation import Operation, Result
from remediate.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, initial=0.05, maximum=0.2, jitter=0.05)


def winrm_available() -> bool:
    return (
        importlib.util.find_spec("lab.windows.wsman") is not None
        and importlib.util.find_spec("remediate.connection.winrm") is not None
    )


class LabShellConnection(Connection):
    """The lab's powershell.exe called in process with the bytes a WinRM shell would carry."""

    kind = "lab-shell"

    def __init__(self, lab: Lab, name: str, options: ConnectOptions | None = None) -> None:
        from inventory.host import Host

        super().__init__(Host(name, "127.0.0.1", 0, "windows", "winrm", "labadmin"), options)
        self.lab = lab
        self.state = lab.state(name)

    def _execute(self, op: Operation) -> Result:
        from lab.windows.powershell import codepage_of, execute

        exe, args = scripts.powershell_command()
        done = execute(self.state, self.lab.oplog, exe, args, scripts.powershell_stdin(op))
        codepage = codepage_of(self.state.read())
        stdout = done.stdout.decode(codepage, errors="replace")
        result, rest = scripts.split_result(stdout)
        error = None
        data = None
        if result is not None:
            data = result.get("data")
            if not result.get("ok") and result.get("error"):
                error = result["error"].get("message")
        return Result(
            stdout=rest,
            stderr=done.stderr.decode(codepage, errors="replace"),
            exited=done.exit_code,
            data=data,
            error=error,
        )


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
        if winrm_available():
            lab.start()
            conn = connect(lab.host(name), options)
        else:
            conn = LabShellConnection(lab, name, options)
        with conn:
            yield WindowsLabHost(lab, name, conn, lab.state(name))
    finally:
        lab.stop()
