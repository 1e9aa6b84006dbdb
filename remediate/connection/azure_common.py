"""What the two Azure transports share: the VM a host stands for, its SDK clients, and ARM errors as ours."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from remediate.errors import (
    AuthenticationError,
    ConfigError,
    ConnectionFailure,
    RemediateError,
    RemoteScriptError,
    TransientError,
)

if TYPE_CHECKING:
    from remediate.azure.clients import Clients
    from remediate.connection import ConnectOptions
    from remediate.inventory.host import Host

_clients: dict[tuple[str | None, str], Any] = {}
_guard = threading.Lock()


def vm_of(host: Host) -> tuple[str, str, str | None]:
    """``(resource group, VM name, subscription)`` from the host's ``azure_*`` vars (or its ``azure_id``)."""
    v = host.vars
    rg, name, sub = v.get("azure_resource_group"), v.get("azure_name") or host.name, v.get("azure_subscription")
    rid = str(v.get("azure_id") or "")
    if rid:
        parts = rid.split("/")
        low = [p.lower() for p in parts]
        if "subscriptions" in low:
            sub = sub or parts[low.index("subscriptions") + 1]
        if "resourcegroups" in low:
            rg = rg or parts[low.index("resourcegroups") + 1]
    if not rg:
        raise ConfigError(
            f"host {host.name} has no Azure resource group",
            host=host.name,
            hint="set azure_resource_group (and azure_subscription) in the inventory, or use azure://SUB/RG",
        )
    return str(rg), str(name), str(sub) if sub else None


def clients_for(host: Host, options: ConnectOptions) -> Clients:
    """The SDK clients of the host's subscription (one set per config and subscription, shared by threads)."""
    from remediate.azure.clients import AzureConfig, Clients

    path = options.extra.get("azure_config") or host.vars.get("azure_config")
    config = options.extra.get("azure") or AzureConfig.load(path)
    _rg, _name, sub = vm_of(host)
    key = (str(path or id(config)), str(sub or config.subscription))
    with _guard:
        if key not in _clients:
            _clients[key] = Clients(config, sub)
        return _clients[key]


def error_code(exc: Any) -> str:
    err = getattr(exc, "error", None)
    return str(getattr(err, "code", None) or getattr(exc, "status_code", "") or "")


def error_message(exc: Any) -> str:
    from remediate.log import scrub

    err = getattr(exc, "error", None)
    return scrub(str(getattr(err, "message", None) or exc))[:1000]


def translate(exc: Exception, host: str, step: str, *, mutating: bool) -> RemediateError:
    """An SDK exception as one of remediate's errors."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    where = {"host": host, "step": step}
    if isinstance(exc, ClientAuthenticationError):
        return AuthenticationError(
            "Azure refused the credential",
            remote=error_message(exc),
            **where,
            hint="sign in (az login) or check the managed identity's role",
        )
    if isinstance(exc, ServiceRequestError):  # nothing reached ARM
        return TransientError("Azure Resource Manager cannot be reached", remote=error_message(exc), **where)
    if isinstance(exc, ServiceResponseError):
        if mutating:  # sent, and the answer lost: it may have started; never sent again blindly
            return RemoteScriptError(
                "the answer to a change sent to Azure was lost; check the state again",
                remote=error_message(exc),
                **where,
            )
        return TransientError("the answer of Azure Resource Manager was lost", remote=error_message(exc), **where)
    if isinstance(exc, HttpResponseError):
        status = getattr(exc, "status_code", None)
        code = error_code(exc)
        if status in (401, 403):
            return AuthenticationError(
                f"Azure refused the request ({code})",
                remote=error_message(exc),
                **where,
                hint="the identity needs a role on the VM, the vault or the group",
            )
        if status == 404:
            return ConnectionFailure(f"not found in Azure ({code})", remote=error_message(exc), **where)
        return RemoteScriptError(f"Azure answered {status} {code}", remote=error_message(exc), **where)
    return RemoteScriptError(f"{type(exc).__name__}", remote=error_message(exc), **where)
