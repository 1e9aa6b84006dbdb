"""The model of ``common/probe.ps1``: the host's identity, and the ``echo`` argument returned unchanged."""

from __future__ import annotations

from typing import Any

from remediate.lab.windows.model import Call, handler

# The PowerShell of each lab OS version (Windows PowerShell 5.1 builds).
PS_VERSIONS = {"10.0.14393": "5.1.14393.6343", "10.0.17763": "5.1.17763.5830", "10.0.20348": "5.1.20348.2400"}


@handler("common/probe.ps1", mutating=False)
def probe(call: Call) -> dict[str, Any]:
    m = call.machine
    os_version = str(m.get("os_version", "10.0.20348"))
    return {
        "hostname": str(m.get("hostname", call.host.get("name", "WIN01"))).upper(),
        "os_version": os_version if os_version.count(".") >= 3 else os_version + ".0",
        "ps_version": str(m.get("ps_version") or PS_VERSIONS.get(os_version, "5.1.20348.2400")),
        "codepage": int(call.console_codepage or m.get("codepage", 437)),  # the shell's, when it asked for one
        "oem_codepage": call.oem_codepage,
        "language": m.get("language", "en-US"),
        "echo": call.args.get("echo"),
    }
