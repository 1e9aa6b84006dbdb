"""Microsoft.KeyVault vaults and their access policies (KeyVaultManagementClient)."""

from __future__ import annotations

from typing import Any

from remediate.lab.azure.model import ARM
from remediate.lab.azure.routes import ARMError, Reply, Request, route

KV = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults"


def kv_resource(arm: ARM, kv: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{arm.subscription}/resourceGroups/{kv['resource_group']}"
        f"/providers/Microsoft.KeyVault/vaults/{kv['name']}",
        "name": kv["name"],
        "type": "Microsoft.KeyVault/vaults",
        "location": arm.location,
        "tags": {},
        "properties": {
            "tenantId": arm.tenant,
            "sku": {"family": "A", "name": "standard"},
            "accessPolicies": kv.get("access_policies") or [],
            "enabledForDiskEncryption": True,
            "enableRbacAuthorization": bool(kv.get("rbac")),
            "vaultUri": f"https://{kv['name']}.vault.azure.net/",
            "provisioningState": "Succeeded",
        },
    }


def _find(arm: ARM, data: dict[str, Any], rg: str, name: str) -> dict[str, Any]:
    for kv in data.get("key_vaults") or []:
        if kv["name"].lower() == name.lower() and str(kv["resource_group"]).lower() == rg.lower():
            return kv
    raise ARMError(404, "ResourceNotFound", f"The Resource 'Microsoft.KeyVault/vaults/{name}' was not found.")


@route("GET", KV + "/{name}")
def get_vault(req: Request) -> Reply:
    return Reply(200, kv_resource(req.arm, _find(req.arm, req.arm.settings(), req.params["rg"], req.params["name"])))


@route("PUT", KV + "/{name}/accessPolicies/{kind}")
def update_access_policy(req: Request) -> Reply:
    kind = req.params["kind"].lower()
    if kind not in ("add", "replace", "remove"):
        raise ARMError(400, "InvalidOperationKind", f"Unknown access policy operation {kind!r}.")
    given = ((req.body or {}).get("properties") or {}).get("accessPolicies") or []
    with req.arm.edit() as data:
        kv = _find(req.arm, data, req.params["rg"], req.params["name"])
        policies = kv.setdefault("access_policies", [])
        for new in given:
            same = [p for p in policies if p.get("objectId") == new.get("objectId")]
            if kind == "remove":
                kv["access_policies"] = policies = [p for p in policies if p not in same]
            elif same and kind == "add":
                for key, perms in (new.get("permissions") or {}).items():
                    have = same[0].setdefault("permissions", {}).setdefault(key, [])
                    have.extend(p for p in perms if p not in have)
            else:
                kv["access_policies"] = policies = [p for p in policies if p not in same] + [new]
        answer = {
            "id": kv_resource(req.arm, kv)["id"] + f"/accessPolicies/{kind}",
            "type": "Microsoft.KeyVault/vaults/accessPolicies",
            "properties": {"accessPolicies": kv["access_policies"]},
        }
    return Reply(200, answer)
