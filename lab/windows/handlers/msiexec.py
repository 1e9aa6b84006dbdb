"""The model of Windows Installer and the Visual C++ redistributables the backup extension needs.

Sections: ``msiexec: {registered, fail_register}``, ``vcredist: {2012_x64, 2013_x64, fail_exit_code}``,
``snapshot_extension_versions: [{name, files}]`` (the folders under
``C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot``), and the service ``msiserver``: while the
Service Control Manager has it Disabled no installer can run (1601). Its registry ``Start`` value alone does not
matter until a reboot (see :mod:`lab.windows.handlers.common`).
"""

from __future__ import annotations

import re
from typing import Any

from remediate.lab.windows.handlers.common import find_service
from remediate.lab.windows.model import Call, ScriptFailure, handler

ROOT = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
INSTALLERS = ("vcredist2013_x64.exe", "vcredist2012_x64.exe")
MSISERVER_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Msiserver"
VERSION = re.compile(r"^\d+(\.\d+){1,3}$")  # what [version]::TryParse accepts, digits only
WIN32_TEXT = {
    1601: "The Windows Installer Service could not be accessed. This can occur if the Windows Installer is not "
    "correctly installed. Contact your support personnel for assistance.",
    1603: "Fatal error during installation.",
    1618: "Another installation is already in progress. Complete that installation before proceeding with this "
    "install.",
}


def _registered(call: Call) -> bool:
    return (
        bool((call.machine.get("msiexec") or {}).get("registered", True))
        and find_service(call, "msiserver") is not None
    )


def _disabled(call: Call) -> bool:
    """The SCM's running configuration (never the registry value, which it reads at boot only)."""
    found = find_service(call, "msiserver")
    return found is not None and found[1].get("start_type") == "Disabled"


def _folders(call: Call) -> list[dict[str, Any]]:
    out = []
    for folder in call.machine.get("snapshot_extension_versions") or []:
        name = str(folder.get("name", ""))
        if VERSION.match(name):
            files = {str(f).lower() for f in folder.get("files") or []}
            out.append({"name": name, "installers": [i for i in INSTALLERS if i in files]})
    return out


@handler("msiexec/status.ps1", mutating=False)
def status(call: Call) -> dict[str, Any]:
    vcredist = call.machine.get("vcredist") or {}
    folders = _folders(call)
    return {
        "service_exists": find_service(call, "msiserver") is not None,
        "installer_registered": _registered(call),
        "redist": {"2012_x64": bool(vcredist.get("2012_x64")), "2013_x64": bool(vcredist.get("2013_x64"))},
        "root": ROOT,
        "root_exists": bool(call.machine.get("snapshot_extension_versions")),
        "folders": folders,
    }


@handler("msiexec/reregister.ps1", mutating=True)
def reregister(call: Call) -> dict[str, Any]:
    state = call.machine.setdefault("msiexec", {})
    state["registered"] = False  # /unregister ran
    failure = state.get("fail_register")
    if failure:
        raise ScriptFailure(f"msiexec /regserver exited with 1601: {failure}")
    state["registered"] = True
    return {"exit_codes": {"unregister": 0, "regserver": 0}, "registered": _registered(call)}


@handler("msiexec/install_vcredist.ps1", mutating=True)
def install_vcredist(call: Call) -> dict[str, Any]:
    version = str(call.args.get("version", ""))
    installer = str(call.args.get("installer", ""))
    if not VERSION.match(version):
        raise ScriptFailure(f"'{version}' is not a VMSnapshot extension version folder")
    if installer not in INSTALLERS:
        raise ScriptFailure(f"'{installer}' is not a redistributable installer this step runs")
    path = f"{ROOT}\\{version}\\{installer}"
    folder = next((f for f in _folders(call) if f["name"] == version), None)
    if folder is None or installer not in folder["installers"]:
        raise ScriptFailure(f"the installer {path} does not exist")
    vcredist = call.machine.setdefault("vcredist", {})
    code = 0
    if _disabled(call) or not _registered(call):
        code = 1601
    elif vcredist.get("fail_exit_code"):
        code = int(vcredist["fail_exit_code"])
    if code not in (0, 3010, 1638):
        raise ScriptFailure(f"{installer} exited with {code}: {WIN32_TEXT.get(code, 'Unknown error')}")
    if not vcredist.get("fail_exit_code"):  # a forced exit code installs nothing, even a "successful" 1638
        vcredist[installer[len("vcredist") : -len(".exe")]] = True  # vcredist2013_x64.exe -> 2013_x64
    return {"path": path, "exit_code": code, "restart_needed": False}
