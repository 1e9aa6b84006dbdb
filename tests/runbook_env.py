"""Running a runbook file as Azure Automation would: a process of its own, with the stand-in ``automationassets``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from remediate.lab.automation import assets_path

ROOT = Path(__file__).resolve().parent.parent


def runbook_env(tmp: Path, asset_file: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([assets_path()] if asset_file else [])])
    env["REMEDIATE_JOURNAL_DIR"] = str(tmp / "journal")
    if asset_file:
        env["AUTOMATION_ASSET_FILE"] = str(asset_file)
    env.update(extra)
    return env


def run_runbook(
    name: str, args: Sequence[str], env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "runbooks" / name), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
    )  # fmt: skip


def without_password_files(inventory: Path) -> Path:
    """The lab inventory with the password coming from REMEDIATE_PASSWORD (where a credential asset puts it)."""
    text = inventory.read_text(encoding="utf-8")
    lines = [ln.replace("password_file:", "password_env: REMEDIATE_PASSWORD #") for ln in text.splitlines()]
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return inventory
