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


_SERVICES: dict[Path, Any] = {}


def enable_automation(
    lab: Any,
    runbooks_dir: str | Path,
    env: dict[str, str],
    *,
    max_seconds: float = 3 * 3600,
    faults: dict[str, Any] | None = None,
) -> Any:
    """Give the lab's ARM endpoint (``lab.enable_azure()``) an Automation account whose jobs run the runbooks of
    ``runbooks_dir`` as local processes with ``env`` (plus ``REMEDIATE_AZURE_CONFIG``, so that a job's own SDK
    clients reach the lab too). Returns the :class:`lab.automation.jobs.AutomationJobs`: its ``log`` lists the
    jobs created, ``set_faults`` breaks the next ones."""
    from remediate.lab.automation.jobs import AutomationJobs

    env = {**env, "REMEDIATE_AZURE_CONFIG": str(lab.azure_config)}
    jobs = AutomationJobs(Path(lab.dir) / "jobs", runbooks_dir, env=env, max_seconds=max_seconds, faults=faults)
    previous = _SERVICES.get(Path(lab.dir).resolve())
    if previous is not None:
        previous.close()
    _SERVICES[Path(lab.dir).resolve()] = jobs
    return jobs


def jobs_of(lab_dir: str | Path) -> Any:
    """The jobs service registered for this lab directory, or None."""
    return _SERVICES.get(Path(lab_dir).resolve())
