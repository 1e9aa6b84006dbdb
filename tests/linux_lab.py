"""Run Linux remediations against one lab Linux host.

Over real SSH when the lab's SSH server and the SSH connection are in the tree; until then the playbook's
connection is :class:`LocalShellConnection`: the exact command line and stdin an SSH exec request carries, run
by the same real ``/bin/sh`` with the lab host's environment (its shims first on PATH), behind the connection's
own dry-run guard.
"""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import playbook
from inventory.host import Host
from lab import Lab
from lab.linux.host import exec_environment, host_vars
from remediate import scripts
from remediate.connection import Connection, ConnectOptions
from remediate.operation import Operation, Result
from remediate.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, initial=0.05, maximum=0.2, jitter=0.05)


def ssh_available() -> bool:
    return (
        importlib.util.find_spec("lab.linux.sshd") is not None
        and importlib.util.find_spec("remediate.connection.ssh") is not None
    )


class LocalShellConnection(Connection):
    """``/bin/sh -c COMMAND`` with the lab host's environment: what the lab's SSH server runs per exec."""

    kind = "lab-sh"

    def __init__(self, lab: Lab, host: Host, options: ConnectOptions | None = None) -> None:
        super().__init__(host, options)
        self.lab = lab
        self.state = lab.state(host.name)

    def _execute(self, op: Operation) -> Result:
        env = exec_environment(self.state, self.lab.oplog)
        done = subprocess.run(
            ["/bin/sh", "-c", scripts.sh_argv(op)],
            input=scripts.sh_stdin(op),
            capture_output=True,
            env=env,
            timeout=self.op_timeout(op),
        )
        stdout = done.stdout.decode("utf-8", errors="replace")
        data, rest = scripts.split_kv(stdout)
        return Result(
            stdout=rest, stderr=done.stderr.decode("utf-8", errors="replace"), exited=done.returncode, data=data
        )


@dataclass
class LinuxLab:
    lab: Lab
    name: str
    tmp: Path

    @property
    def host(self) -> Host:
        if ssh_available():
            return self.lab.host(self.name)
        vars_ = host_vars(self.lab.host_dir(self.name))
        return Host(self.name, "127.0.0.1", 0, "linux", "ssh", "azureuser", ["lab", "linux"], vars_)

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
        if ssh_available():
            from remediate.connection import connect

            return connect(self.host, options)
        return LocalShellConnection(self.lab, self.host, options)

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
    monkeypatch: pytest.MonkeyPatch,
    machine: str | dict[str, Any] = "healthy",
    *,
    name: str = "lin01",
) -> Iterator[LinuxLab]:
    lab = Lab(tmp_path / "lab")
    lab.add_linux(name, machine)
    if ssh_available():
        lab.start()
    else:
        monkeypatch.setattr(
            playbook, "connect", lambda host, options=None, log=None: LocalShellConnection(lab, host, options)
        )
    handle = LinuxLab(lab, name, tmp_path)
    # Write the host's files now, so that a first snapshot sees them.
    exec_environment(lab.state(name), lab.oplog)
    try:
        yield handle
    finally:
        lab.stop()
