"""The lab's Azure Automation: a stand-in for the sandbox's ``automationassets`` module and a jobs service.

``lab/automation/assets/`` holds only ``automationassets.py``; put that directory on ``PYTHONPATH`` (what
:func:`assets_path` returns) and a runbook reads its variables and credentials from the JSON file named by
``AUTOMATION_ASSET_FILE``, as it would read the account's assets inside Azure Automation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def assets_path() -> str:
    """The directory to put on ``PYTHONPATH`` so that ``import automationassets`` finds the stand-in."""
    return str(ASSETS_DIR)


def write_assets(
    path: str | Path,
    *,
    variables: dict[str, Any] | None = None,
    credentials: dict[str, tuple[str, str]] | None = None,
    connections: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """An asset file in the emulated-assets format (mode 0600: it holds passwords)."""
    data = {
        "Variable": [{"Name": k, "Value": v} for k, v in (variables or {}).items()],
        "Credential": [{"Name": k, "Username": u, "Password": p} for k, (u, p) in (credentials or {}).items()],
        "Connection": [{"Name": k, "ValueFields": v} for k, v in (connections or {}).items()],
        "Certificate": [],
    }
    out = Path(path)
    out.touch(mode=0o600, exist_ok=True)
    out.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return out
