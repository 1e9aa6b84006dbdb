"""The model of ``vss_writers/check.ps1``: vssadmin's text from ``vss_writers`` and the services' states.

The text passes through the host's console code page (cp932 on ja-JP, cp850 on de-DE/fr-FR), as native
output does when PowerShell captures it, so that what reaches the parser is what a real host sends.
"""

from __future__ import annotations

from typing import Any

from lab.windows.model import Call, handler
from lab.windows.vssadmin import render_list_writers


def _console(text: str, codepage: int) -> str:
    encoding = {65001: "utf-8"}.get(codepage, f"cp{codepage}")
    return text.encode(encoding, errors="replace").decode(encoding, errors="replace")


@handler("vss_writers/check.ps1", mutating=False)
def vss_check(call: Call) -> dict[str, Any]:
    text, code = render_list_writers(call.machine, call.now)
    text = _console(text, int(call.machine.get("codepage", 437)))
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
    return {"text": text, "exit_code": code, "services": services}
