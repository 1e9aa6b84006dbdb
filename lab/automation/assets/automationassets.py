"""Stand-in for Azure Automation's ``automationassets`` module, outside Azure Automation.

Same functions and return shapes as the module a Python runbook imports inside an Automation job (documented
by azureautomation/python_emulated_assets): ``get_automation_variable``, ``set_automation_variable``,
``get_automation_credential`` (``{"username", "password"}``), ``get_automation_connection`` (its fields) and
``get_automation_certificate``. The assets come from the JSON file named by ``AUTOMATION_ASSET_FILE``, shaped
``{"Variable": [{"Name", "Value"}], "Credential": [{"Name", "Username", "Password"}],
"Connection": [{"Name", "ValueFields"}], "Certificate": [{"Name", "CertPath", "Password"}]}``.
An unknown asset raises ``LookupError``, as the emulated module does.
"""

from __future__ import annotations

import json
import os
from typing import Any

_FILE_ENV = "AUTOMATION_ASSET_FILE"


def _file() -> str:
    path = os.environ.get(_FILE_ENV)
    if not path:
        raise LookupError(f"no asset file: set {_FILE_ENV}")
    return path


def _load() -> dict[str, list[dict[str, Any]]]:
    with open(_file(), encoding="utf-8") as fh:
        return json.load(fh)


def _find(data: dict[str, list[dict[str, Any]]], kind: str, name: str) -> dict[str, Any]:
    for item in data.get(kind) or []:
        if item.get("Name") == name:
            return item
    raise LookupError(f"asset:{name} not found")


def get_automation_variable(name: str) -> Any:
    return _find(_load(), "Variable", name)["Value"]


def set_automation_variable(name: str, value: Any) -> None:
    data = _load()
    _find(data, "Variable", name)["Value"] = value
    with open(_file(), "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)


def get_automation_credential(name: str) -> dict[str, str]:
    item = _find(_load(), "Credential", name)
    return {"username": item["Username"], "password": item["Password"]}


def get_automation_connection(name: str) -> dict[str, Any]:
    return dict(_find(_load(), "Connection", name)["ValueFields"])


def get_automation_certificate(name: str) -> bytes:
    item = _find(_load(), "Certificate", name)
    with open(item["CertPath"], "rb") as fh:
        return fh.read()
