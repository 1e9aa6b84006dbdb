"""Azure SDK clients for the runbooks: the real ARM with ``DefaultAzureCredential``, or the lab's endpoint.

``REMEDIATE_AZURE_CONFIG`` names a JSON file ``{"endpoint", "subscription", "ca_bundle", "token_file"}`` (what
the lab writes); with it, clients go to that endpoint, validate its certificate with that CA and present the
token read from that file. Without it, clients go to ``https://management.azure.com`` with the account's
managed identity (``DefaultAzureCredential``).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

CONFIG_ENV = "REMEDIATE_AZURE_CONFIG"
ARM_SCOPE = "https://management.azure.com/.default"


class FileTokenCredential:
    """A credential whose token is read from a file (the lab's); ``get_token`` as azure-core expects."""

    def __init__(self, path: str) -> None:
        self.path = path

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        with open(self.path, encoding="utf-8") as fh:
            token = fh.read().strip()
        return AccessToken(token, int(time.time()) + 3600)


def lab_config() -> dict[str, Any] | None:
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def client(cls: type, subscription: str | None, settings: Any) -> Any:
    """``cls(credential, subscription, ...)`` for the real ARM or the lab, with polling that honours Retry-After."""
    config = lab_config()
    if config is None:
        if not subscription:
            from remediate.errors import ConfigError

            raise ConfigError("no subscription: give --subscription or the variable remediate-subscription")
        return cls(settings.azure_credential(), subscription)
    return cls(
        FileTokenCredential(config["token_file"]),
        subscription or config["subscription"],
        base_url=config["endpoint"],
        credential_scopes=[ARM_SCOPE],
        connection_verify=config["ca_bundle"],
        polling_interval=0,
    )
