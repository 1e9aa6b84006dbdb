"""The model of ``strong_crypto/list_versions.ps1``: the .NET Framework version keys in ``registry``.

A version key is any key directly below a listed root whose name starts with ``v`` (``v2.0.50727``,
``v4.0.30319``); a deeper key (``v4.0.30319\\SKUs``) makes its version key exist too, as in Windows.
"""

from __future__ import annotations

import copy
from typing import Any

from remediate.lab.windows.handlers.common import split_path
from remediate.lab.windows.model import Call, ScriptFailure, handler


def _value(values: dict[str, Any], name: str) -> dict[str, Any]:
    for key, value in values.items():
        if key.lower() == name.lower():
            return {"exists": True, "type": value.get("type"), "data": copy.deepcopy(value.get("data"))}
    return {"exists": False, "type": None, "data": None}


@handler("strong_crypto/list_versions.ps1", mutating=False)
def list_versions(call: Call) -> dict[str, Any]:
    names = [str(n) for n in call.args.get("names") or []]
    registry = call.machine.get("registry") or {}
    roots = []
    for raw in call.args.get("roots") or []:
        root = split_path(raw)
        if not root.upper().startswith("HKLM\\"):
            raise ScriptFailure(f"only HKLM\\... keys can be listed, not '{raw}'")
        prefix = root.lower() + "\\"
        children: dict[str, str] = {}
        exists = False
        for path in registry:
            if path.lower() == root.lower():
                exists = True
            elif path.lower().startswith(prefix):
                exists = True
                child = path[len(prefix) :].split("\\", 1)[0]
                if child.lower().startswith("v"):
                    children.setdefault(child.lower(), child)
        versions = []
        for child in sorted(children.values(), key=str.lower):
            values = call.registry_key(f"{root}\\{child}") or {}
            versions.append(
                {
                    "name": child,
                    "path": f"{str(raw).rstrip(chr(92))}\\{child}",
                    "values": {n: _value(values, n) for n in names},
                }
            )
        roots.append({"path": raw, "exists": exists, "versions": versions})
    return {"roots": roots}
