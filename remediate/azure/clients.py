"""The Azure SDK clients of one subscription, built the way the SDKs are meant to be built.

``Clients(config)`` gives ``compute``, ``network``, ``backup``, ``vaults``, ``locks`` and ``keyvault``, each
``azure-mgmt-*``'s own client with a credential, the subscription and, for the lab or a sovereign cloud,
``base_url``. In real use the credential is ``azure.identity.DefaultAzureCredential`` (a managed identity in
Azure Automation, ``az login`` on a laptop). An :class:`AzureConfig` file (the lab writes ``DIR/azure.json``)
names another endpoint, its CA bundle and a file holding a bearer token::

    {"endpoint": "https://127.0.0.1:PORT", "subscription": "...", "ca_bundle": "ca.pem", "token_file": "arm-token"}

The SDK retries 408/429/5xx (with the Retry-After they carry) and polls long-running operations; nothing of
that is rewritten here.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from remediate.errors import ConfigError

ENV_CONFIG = "REMEDIATE_AZURE_CONFIG"
ARM_SCOPE = "https://management.azure.com/.default"


@dataclass
class AzureConfig:
    subscription: str | None = None
    endpoint: str | None = None  # None: the public cloud
    ca_bundle: str | None = None
    token_file: str | None = None
    polling_interval: float | None = None  # None: the SDK's (30 s without Retry-After)
    retry_total: int | None = None
    path: str | None = None  # the file it was read from (hosts carry it as azure_config, for undo and resume)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> AzureConfig:
        """From ``path``, else ``$REMEDIATE_AZURE_CONFIG``, else the public cloud; ``overrides`` win."""
        source = path or os.environ.get(ENV_CONFIG)
        data: dict[str, Any] = {}
        if source:
            try:
                data = json.loads(Path(source).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read the Azure config {source}: {exc}", step="azure") from None
        fields = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data and k != "path"}
        fields.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**fields, path=str(source) if source else None)


class TokenFileCredential:
    """A bearer token read from a file (the lab's endpoint): the ``get_token`` the SDKs call."""

    def __init__(self, path: str) -> None:
        self.path = path

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        token = Path(self.path).read_text(encoding="utf-8").strip()
        return AccessToken(token, int(time.time()) + 3600)

    def close(self) -> None:  # the SDK clients close their credential's transport
        pass


def _require(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"the Azure SDK ({module}) is not installed",
            step="azure",
            hint="pip install 'remediate[azure]'",
        )


class Clients:
    """Lazily built SDK clients for ``config.subscription``."""

    def __init__(self, config: AzureConfig, subscription: str | None = None) -> None:
        self.config = config
        self.subscription = subscription or config.subscription
        if not self.subscription:
            raise ConfigError(
                "no Azure subscription given", step="azure", hint="azure://SUBSCRIPTION or --subscription"
            )

    @cached_property
    def credential(self) -> Any:
        if self.config.token_file:
            return TokenFileCredential(self.config.token_file)
        _require("azure.identity")
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.config.endpoint:
            out["base_url"] = self.config.endpoint
            out["credential_scopes"] = [ARM_SCOPE]
        if self.config.ca_bundle:
            out["connection_verify"] = self.config.ca_bundle
        if self.config.polling_interval is not None:
            out["polling_interval"] = self.config.polling_interval
        if self.config.retry_total is not None:
            out["retry_total"] = self.config.retry_total
        return out

    def _make(self, module: str, cls: str) -> Any:
        _require(module)
        import importlib

        return getattr(importlib.import_module(module), cls)(self.credential, self.subscription, **self.kwargs())

    @cached_property
    def compute(self) -> Any:
        return self._make("azure.mgmt.compute", "ComputeManagementClient")

    @cached_property
    def network(self) -> Any:
        return self._make("azure.mgmt.network", "NetworkManagementClient")

    @cached_property
    def backup(self) -> Any:
        return self._make("azure.mgmt.recoveryservicesbackup", "RecoveryServicesBackupClient")

    @cached_property
    def vaults(self) -> Any:
        return self._make("azure.mgmt.recoveryservices", "RecoveryServicesClient")

    @cached_property
    def locks(self) -> Any:
        return self._make("azure.mgmt.resource.locks", "ManagementLockClient")

    @cached_property
    def keyvault(self) -> Any:
        return self._make("azure.mgmt.keyvault", "KeyVaultManagementClient")


def resource_group_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    for i, part in enumerate(parts):
        if part.lower() == "resourcegroups" and i + 1 < len(parts):
            return parts[i + 1]
    return ""


def status_of(statuses: Any, prefix: str) -> str | None:
    """The part after ``PREFIX/`` of the first instance-view status with that prefix (``PowerState/running``)."""
    for s in statuses or []:
        code = str(getattr(s, "code", "") or "")
        if code.startswith(prefix + "/"):
            return code.split("/", 1)[1]
    return None
