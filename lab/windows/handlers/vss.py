"""The model of ``vss_writers/check.ps1``: vssadmin's output from ``vss_writers`` and the services' states.

vssadmin writes its OEM code page (cp932 on ja-JP, cp850 on de-DE/fr-FR, cp437 on en-US) whatever code page
the shell asked for; the script returns those bytes as they are (base64), with the OEM code page.
"""

from __future__ import annotations

import base64
from typing import Any

from remediate.lab.windows.model import Call, handler
from remediate.lab.windows.vssadmin import render_list_writers


@handler("vss_writers/check.ps1", mutating=False)
def vss_check(call: Call) -> dict[str, Any]:
    text, code = render_list_writers(call.machine, call.now)
    services = []
    wanted = call.args.get("services") or []
    for name in wanted if isinstance(wanted, list) else []:
        found = None
        for key, svc in (call.machine.get("services") or {}).items():
            if isinstance(name, str) and key.lower() == name.lower():
                found = (key, svc)
                break
        if found is None:
            services.append({"name": str(name), "exists": False, "status": None, "start_type": None})
        else:
            services.append(
                {
                    "name": found[0],
                    "exists": True,
                    "status": found[1].get("status", "Stopped"),
                    "start_type": found[1].get("start_type", "Manual"),
                }
            )
    return {
        "stdout_base64": base64.b64encode(call.native_output(text)).decode("ascii"),
        "stderr": "",
        "error": None,
        "exit_code": code,
        "oem_codepage": call.oem_codepage,
        "services": services,
    }
