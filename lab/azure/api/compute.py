"""Microsoft.Compute: virtual machines with instance view, extensions, restore point collections.

Bodies follow azure-rest-api-specs ``specification/compute/.../examples`` (VirtualMachine_Get,
VirtualMachine_Get_InstanceView, VirtualMachineExtension_Get, RestorePointCollection_Get).
"""

from __future__ import annotations

from typing import Any

from remediate.lab.azure.model import ARM, SNAPSHOT_PUBLISHER, VM, iso
from remediate.lab.azure.routes import ARMError, Reply, Request, route

RG = "/subscriptions/{sub}/resourceGroups/{rg}"
VMS = RG + "/providers/Microsoft.Compute/virtualMachines"


def vm_resource(vm: VM) -> dict[str, Any]:
    facts = vm.facts
    windows = vm.os == "windows"
    return {
        "id": vm.id,
        "name": vm.name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.arm.location,
        "tags": dict(facts.get("tags") or {}),
        "properties": {
            "vmId": vm.vm_id,
            "hardwareProfile": {"vmSize": "Standard_D2s_v3"},
            "storageProfile": {
                "imageReference": {
                    "publisher": "MicrosoftWindowsServer" if windows else "Canonical",
                    "offer": "WindowsServer" if windows else "0001-com-ubuntu-server-jammy",
                    "sku": "2022-datacenter" if windows else "22_04-lts-gen2",
                    "version": "latest",
                },
                "osDisk": {
                    "osType": "Windows" if windows else "Linux",
                    "name": f"{vm.name}_OsDisk_1",
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": {"storageAccountType": "Premium_LRS"},
                    "diskSizeGB": 127 if windows else 30,
                    "encryptionSettings": _encryption(vm),
                },
                "dataDisks": [],
            },
            "osProfile": {
                "computerName": vm.name,
                "adminUsername": vm.data.get("user"),
                "windowsConfiguration": {"provisionVMAgent": True, "enableAutomaticUpdates": True} if windows else None,
                "linuxConfiguration": None
                if windows
                else {"disablePasswordAuthentication": False, "provisionVMAgent": True},
            },
            "networkProfile": {"networkInterfaces": [{"id": vm.nic_id, "properties": {"primary": True}}]},
            "provisioningState": facts.get("provisioning_state", "Succeeded"),
        },
    }


def _encryption(vm: VM) -> dict[str, Any] | None:
    name = vm.facts.get("key_vault")
    if not name:
        return None
    kv = next((k for k in vm.arm.settings().get("key_vaults") or [] if k["name"].lower() == str(name).lower()), None)
    rg = kv["resource_group"] if kv else vm.resource_group
    vault_id = f"/subscriptions/{vm.arm.subscription}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
    return {
        "enabled": True,
        "diskEncryptionKey": {
            "secretUrl": f"https://{name}.vault.azure.net/secrets/bek/1",
            "sourceVault": {"id": vault_id},
        },
        "keyEncryptionKey": {"keyUrl": f"https://{name}.vault.azure.net/keys/kek/1", "sourceVault": {"id": vault_id}},
    }


def _status(code: str, display: str, level: str = "Info", message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "level": level, "displayStatus": display}
    if message:
        out["message"] = message
    return out


def extension_type(vm: VM, ext: dict[str, Any]) -> str:
    return str(ext.get("type") or ext["name"])


def instance_view(vm: VM) -> dict[str, Any]:
    facts = vm.facts
    ready = vm.agent_ready()
    power = str(facts.get("power_state", "running"))
    running = power == "running"
    agent_status = (
        _status("ProvisioningState/succeeded", "Ready", message="GuestAgent is running and processing the extensions.")
        if ready and running
        else _status(
            "ProvisioningState/Unavailable", "Not Ready", "Warning", "VM status blob is found but not yet populated."
        )
    )
    extensions = []
    handlers = []
    for ext in facts.get("extensions") or []:
        state = str(ext.get("state", "Succeeded"))
        level = "Error" if state == "Failed" else "Info"
        display = {"Succeeded": "Provisioning succeeded", "Failed": "Provisioning failed"}.get(state, state)
        extensions.append(
            {
                "name": ext["name"],
                "type": f"{SNAPSHOT_PUBLISHER}.{extension_type(vm, ext)}",
                "typeHandlerVersion": "1.0.9211.0",
                "statuses": [_status(f"ProvisioningState/{state.lower()}", display, level, ext.get("message"))],
            }
        )
        handlers.append(
            {
                "type": f"{SNAPSHOT_PUBLISHER}.{extension_type(vm, ext)}",
                "typeHandlerVersion": "1.0.9211.0",
                "status": _status("ProvisioningState/succeeded", "Ready"),
            }
        )
    prov = str(facts.get("provisioning_state", "Succeeded"))
    return {
        "computerName": vm.name,
        "osName": "Windows Server 2022 Datacenter" if vm.os == "windows" else "ubuntu",
        "osVersion": "10.0.20348" if vm.os == "windows" else "22.04",
        "vmAgent": {
            "vmAgentVersion": vm.agent_version() if ready else "Unknown",
            "statuses": [agent_status],
            "extensionHandlers": handlers,
        },
        "extensions": extensions,
        "statuses": [
            _status(
                f"ProvisioningState/{prov.lower()}",
                f"Provisioning {prov.lower()}",
                "Error" if prov == "Failed" else "Info",
            ),
            _status(f"PowerState/{power}", f"VM {power}"),
        ],
    }


@route("GET", "/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines")
def list_all(req: Request) -> Reply:
    return req.page([vm_resource(v) for v in req.arm.vms()])


@route("GET", VMS)
def list_rg(req: Request) -> Reply:
    return req.page([vm_resource(v) for v in req.arm.vms(req.params["rg"])])


@route("GET", VMS + "/{vm}")
def get(req: Request) -> Reply:
    vm = req.arm.vm(req.params["rg"], req.params["vm"])
    body = vm_resource(vm)
    if req.query.get("$expand") == "instanceView":
        body["properties"]["instanceView"] = instance_view(vm)
    return Reply(200, body)


@route("GET", VMS + "/{vm}/instanceView")
def get_instance_view(req: Request) -> Reply:
    return Reply(200, instance_view(req.arm.vm(req.params["rg"], req.params["vm"])))


# -- extensions -------------------------------------------------------------------------------------------------
def extension_resource(vm: VM, ext: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{vm.id}/extensions/{ext['name']}",
        "name": ext["name"],
        "type": "Microsoft.Compute/virtualMachines/extensions",
        "location": vm.arm.location,
        "properties": {
            "publisher": SNAPSHOT_PUBLISHER,
            "type": extension_type(vm, ext),
            "typeHandlerVersion": "1.0",
            "autoUpgradeMinorVersion": True,
            "provisioningState": ext.get("state", "Succeeded"),
        },
    }


def _find_extension(vm: VM, name: str) -> dict[str, Any]:
    for ext in vm.facts.get("extensions") or []:
        if ext["name"].lower() == name.lower():
            return ext
    raise ARMError(404, "NotFound", f"The entity was not found in this Azure location. Extension '{name}'.")


@route("GET", VMS + "/{vm}/extensions")
def list_extensions(req: Request) -> Reply:
    vm = req.arm.vm(req.params["rg"], req.params["vm"])
    return Reply(200, {"value": [extension_resource(vm, e) for e in vm.facts.get("extensions") or []]})


@route("GET", VMS + "/{vm}/extensions/{ext}")
def get_extension(req: Request) -> Reply:
    vm = req.arm.vm(req.params["rg"], req.params["vm"])
    return Reply(200, extension_resource(vm, _find_extension(vm, req.params["ext"])))


@route("DELETE", VMS + "/{vm}/extensions/{ext}")
def delete_extension(req: Request) -> Reply:
    vm = req.arm.vm(req.params["rg"], req.params["vm"])
    ext = _find_extension(vm, req.params["ext"])
    if ext.get("delete_fails"):
        raise ARMError(409, "OperationNotAllowed", ext["delete_fails"])

    def run() -> None:
        with vm.edit_facts() as facts:
            facts["extensions"] = [e for e in facts.get("extensions") or [] if e["name"] != ext["name"]]
        return None

    return req.accept(run)


# -- restore point collections ----------------------------------------------------------------------------------
def rpc_resource(arm: ARM, rpc: dict[str, Any], expand: bool) -> dict[str, Any]:
    rid = (
        f"/subscriptions/{arm.subscription}/resourceGroups/{rpc['resource_group']}"
        f"/providers/Microsoft.Compute/restorePointCollections/{rpc['name']}"
    )
    vm = arm.vm_by_any_name(rpc["vm"])
    props: dict[str, Any] = {
        "source": {"id": vm.id if vm else rpc["vm"], "location": arm.location},
        "restorePointCollectionId": rpc["name"],
        "provisioningState": "Succeeded",
    }
    if expand:
        props["restorePoints"] = [
            {
                "id": f"{rid}/restorePoints/{p['name']}",
                "name": p["name"],
                "properties": {"timeCreated": iso(float(p.get("time", 0))), "provisioningState": "Succeeded"},
            }
            for p in rpc.get("restore_points") or []
        ]
    return {
        "id": rid,
        "name": rpc["name"],
        "type": "Microsoft.Compute/restorePointCollections",
        "location": arm.location,
        "tags": {},
        "properties": props,
    }


def _rpcs(arm: ARM, rg: str | None) -> list[dict[str, Any]]:
    return [
        r
        for r in arm.settings().get("restore_point_collections") or []
        if rg is None or str(r["resource_group"]).lower() == rg.lower()
    ]


@route("GET", RG + "/providers/Microsoft.Compute/restorePointCollections")
def list_rpcs(req: Request) -> Reply:
    return req.page([rpc_resource(req.arm, r, False) for r in _rpcs(req.arm, req.params["rg"])])


@route("GET", "/subscriptions/{sub}/providers/Microsoft.Compute/restorePointCollections")
def list_all_rpcs(req: Request) -> Reply:
    return req.page([rpc_resource(req.arm, r, False) for r in _rpcs(req.arm, None)])


@route("GET", RG + "/providers/Microsoft.Compute/restorePointCollections/{name}")
def get_rpc(req: Request) -> Reply:
    for r in _rpcs(req.arm, req.params["rg"]):
        if r["name"].lower() == req.params["name"].lower():
            return Reply(200, rpc_resource(req.arm, r, req.query.get("$expand") == "restorePoints"))
    raise ARMError(404, "ResourceNotFound", f"The Resource '{req.params['name']}' was not found.")


@route("DELETE", RG + "/providers/Microsoft.Compute/restorePointCollections/{name}")
def delete_rpc(req: Request) -> Reply:
    from remediate.lab.azure.api.locks import locked

    rg, name = req.params["rg"], req.params["name"]
    if not any(r["name"].lower() == name.lower() for r in _rpcs(req.arm, rg)):
        return Reply(204)
    lock = locked(req.arm, rg)
    if lock:
        raise ARMError(
            409,
            "ScopeLocked",
            f"The scope '{req.path}' cannot perform delete operation because following scope(s) are locked: "
            f"'/subscriptions/{req.arm.subscription}/resourceGroups/{rg}'. Please remove the lock and try again.",
        )

    def run() -> None:
        with req.arm.edit() as data:
            data["restore_point_collections"] = [
                r
                for r in data.get("restore_point_collections") or []
                if not (r["name"].lower() == name.lower() and str(r["resource_group"]).lower() == rg.lower())
            ]
        return None

    return req.accept(run)
