"""The Azure VM agent (``agent`` section: path, version, packages_version, installed, installers,
recreates_certificates).

``version`` is the agent that runs: the newest ``C:\\WindowsAzure\\GuestAgent_<version>_<date>`` folder (the agent
updates itself into a new one). ``packages_version`` is the MSI's copy, ``C:\\WindowsAzure\\Packages\\WaAppAgent.exe``,
which keeps the installed version (default: ``version``); an MSI install sets both.

``installers`` maps an installer the operator may name (a path or an https URL; the lab never downloads) to
``{version, exit_code}``: installing it sets the agent's version and (re)creates its services, automatic and
running, unless a service has ``fail_start``. Anything not listed does not exist (a path) or cannot be
downloaded (a URL).
"""

from __future__ import annotations

import time
from typing import Any

from remediate.lab.windows.model import Call, ScriptFailure, handler

MSI_REASONS = {
    1603: "a fatal error during installation",
    1618: "another installation is in progress",
    1619: "the installation package could not be opened",
}
AGENT_SERVICES = ("WindowsAzureGuestAgent", "RdAgent")


def _agent(call: Call) -> dict[str, Any]:
    return call.machine.setdefault("agent", {})


ROOT = "C:\\WindowsAzure"


@handler("vm_agent/get.ps1", mutating=False)
def agent_get(call: Call) -> dict[str, Any]:
    agent = _agent(call)
    installed = bool(agent.get("installed", True) and agent.get("version"))
    packages = str(agent.get("packages_version") or agent.get("version") or "") or None
    if call.args.get("path"):  # a script that reads one file: the MSI's copy in Packages
        path = str(call.args["path"])
        here = installed and path.lower() == str(agent.get("path")).lower()
        return {"path": path, "exists": bool(here), "version": packages if here else None}
    root = str(call.args.get("root") or "")
    if not root:
        raise ScriptFailure("no root given")
    if not installed:
        return {"root": root, "exists": False, "version": None, "folder": None, "packages_version": None}
    version = str(agent["version"])
    folder = f"{ROOT}\\GuestAgent_{version}_2024-05-01_120000"
    return {
        "root": root,
        "exists": True,
        "version": version,
        "product_version": version,
        "file_version": version,
        "folder": folder,
        "packages_version": packages,
    }


@handler("vm_agent/install_msi.ps1", mutating=True)
def agent_install(call: Call) -> dict[str, Any]:
    source = str(call.args.get("source") or "")
    if not source:
        raise ScriptFailure("no installer given")
    agent = _agent(call)
    installer = (agent.get("installers") or {}).get(source)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(call.now))
    log = f"C:\\ProgramData\\remediate\\agent\\msiexec-{stamp}.log"
    if installer is None:
        if source.lower().startswith("https://"):
            raise ScriptFailure(f"could not download {source}: The remote name could not be resolved")
        raise ScriptFailure(f"the installer {source} does not exist")
    code = int(installer.get("exit_code", 0))
    if code not in (0, 3010):
        why = f" ({MSI_REASONS[code]})" if code in MSI_REASONS else ""
        raise ScriptFailure(f"msiexec exited with {code}{why}; see the log {log}")
    agent["version"] = str(installer["version"])
    agent["packages_version"] = str(installer["version"])
    agent["installed"] = True
    agent.setdefault("path", "C:\\WindowsAzure\\Packages\\WaAppAgent.exe")
    services = call.machine.setdefault("services", {})
    for name in AGENT_SERVICES:
        svc = services.setdefault(name, {"logon": "LocalSystem"})
        svc["start_type"] = "Automatic"
        svc["status"] = "Stopped" if svc.get("fail_start") else "Running"
        if not svc.get("fail_start"):
            svc["restarted_at"] = call.now
    return {"source": source, "msi": source, "exit_code": code, "reboot_required": code == 3010, "log": log}
