"""Settings and credentials of a runbook: the Automation account's assets inside Azure Automation, the
environment anywhere else.

Inside an Automation job the sandbox provides the ``automationassets`` module: a variable asset
``remediate-apply`` is read with ``get_automation_variable`` and a credential asset with
``get_automation_credential``. Run elsewhere (a laptop, CI, a container), the same setting comes from the
environment variable named after it (``remediate-apply`` -> ``REMEDIATE_APPLY``) and the credential from
``REMEDIATE_USER`` / ``REMEDIATE_PASSWORD``. A password read from an asset is registered with the log redactor
at once and put in ``REMEDIATE_PASSWORD`` of this process only, where the transports look for it.
Azure calls go through :mod:`remediate.azure.clients` (``DefaultAzureCredential``: the account's managed
identity in Automation, ``az login`` or a service principal's environment variables elsewhere).
"""

from __future__ import annotations

import importlib
import os
import re
from types import ModuleType
from typing import Any


def env_name(asset: str) -> str:
    """``remediate-apply`` -> ``REMEDIATE_APPLY``."""
    return re.sub(r"[^A-Za-z0-9]", "_", asset).upper()


def as_bool(value: Any, what: str = "value") -> bool:
    """A yes/no setting, read as remediation parameters are (:func:`remediate.contract.parse_bool`)."""
    from remediate.contract import parse_bool
    from remediate.errors import ConfigError

    try:
        return parse_bool(value)
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not true or false") from None


class Settings:
    """Where a runbook reads its settings. ``assets`` is the ``automationassets`` module, or None outside
    Azure Automation (found by import unless given)."""

    def __init__(self, assets: ModuleType | bool | None = True) -> None:
        if assets is True:
            try:
                assets = importlib.import_module("automationassets")
            except ImportError:
                assets = None
        self.assets: ModuleType | None = assets or None

    @property
    def in_automation(self) -> bool:
        return self.assets is not None

    def variable(self, name: str, default: Any = None) -> Any:
        """The variable asset ``name``; else the environment variable named after it; else ``default``."""
        if self.assets is not None:
            try:
                return self.assets.get_automation_variable(name)
            except LookupError:
                pass
        return os.environ.get(env_name(name), default)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.variable(name, None)
        return default if value is None else as_bool(value, f"setting {name}")

    def credential(self, name: str) -> tuple[str | None, str | None]:
        """(user, password) of the credential asset ``name``; elsewhere ``REMEDIATE_USER`` / ``REMEDIATE_PASSWORD``.

        The password is registered with the log redactor and exported to this process's ``REMEDIATE_PASSWORD``.
        """
        from remediate.log import register_secret

        user, password = os.environ.get("REMEDIATE_USER"), os.environ.get("REMEDIATE_PASSWORD")
        if self.assets is not None:
            try:
                cred = self.assets.get_automation_credential(name)
            except LookupError:
                cred = None
            if cred is not None:
                user, password = cred.get("username") or user, cred.get("password")
        if password:
            register_secret(password)
            os.environ["REMEDIATE_PASSWORD"] = password
        return user, password
