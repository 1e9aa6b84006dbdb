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


class LabAutomation:
    """An Automation account in the lab: the jobs API on HTTPS (the lab's CA) whose jobs run ``runbooks/``.

    ``config`` is the file to put in ``REMEDIATE_AZURE_CONFIG`` so that the runbooks' SDK clients reach it.
    """

    def __init__(
        self,
        lab_dir: str | Path,
        runbooks_dir: str | Path,
        env: dict[str, str],
        *,
        max_seconds: float = 3 * 3600,
        faults: dict[str, Any] | None = None,
    ) -> None:
        import secrets

        from lab import pki
        from lab.automation.jobs import AutomationJobs
        from lab.automation.server import AutomationServer

        self.dir = Path(lab_dir)
        if not (self.dir / "server.pem").exists():
            pki.write_lab_pki(self.dir)
        token = secrets.token_urlsafe(24)
        self.token_file = self.dir / "automation-token"
        self.token_file.touch(mode=0o600, exist_ok=True)
        self.token_file.write_text(token, encoding="utf-8")
        self.config = self.dir / "automation.json"
        self.jobs = AutomationJobs(self.dir / "jobs", runbooks_dir, env=env, max_seconds=max_seconds, faults=faults)
        tls = (str(self.dir / "server.pem"), str(self.dir / "server.key"))
        self.server = AutomationServer(self.jobs, tls=tls, token=token)
        self.config.write_text(
            json.dumps({"endpoint": self.server.url, "subscription": "00000000-0000-4000-8000-00000000a5b1",
                        "ca_bundle": str(self.dir / "ca.pem"), "token_file": str(self.token_file)}),
            encoding="utf-8",
        )  # fmt: skip
        self.jobs.env["REMEDIATE_AZURE_CONFIG"] = str(self.config)

    def start(self) -> LabAutomation:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
