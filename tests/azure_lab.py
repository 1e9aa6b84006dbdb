"""A lab with an Azure side, and the SDK clients pointed at its HTTPS endpoint (fast polling, no waits)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.recoveryservicesbackup")

from remediate.lab import Lab

from remediate.azure.clients import AzureConfig, Clients


@contextlib.contextmanager
def azure_lab(
    tmp_path: Path,
    windows: dict[str, Any] | None = None,
    linux: dict[str, Any] | None = None,
    **settings: Any,
) -> Iterator[Lab]:
    """``windows={"win01": "windows-vss-writers-failed"}``, ``linux={...}``: hosts and their machines."""
    lab = Lab(tmp_path / "lab")
    for name, machine in (windows or {}).items():
        lab.add_windows(name, machine)
    for name, machine in (linux or {}).items():
        lab.add_linux(name, machine)
    lab.enable_azure(**settings)
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


def clients(lab: Lab, **overrides: Any) -> Clients:
    overrides.setdefault("polling_interval", 0)
    return Clients(AzureConfig.load(lab.azure_config, **overrides))


def edit_machine(lab: Lab, name: str) -> Any:
    return lab.state(name).edit()
