"""Microsoft.Network network interfaces: each lab VM has one NIC with its private IP."""

from __future__ import annotations

from typing import Any

from remediate.lab.azure.model import VM
from remediate.lab.azure.routes import ARMError, Reply, Request, route

NICS = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkInterfaces"


def nic_resource(vm: VM) -> dict[str, Any]:
    return {
        "id": vm.nic_id,
        "name": f"{vm.name}-nic",
        "type": "Microsoft.Network/networkInterfaces",
        "location": vm.arm.location,
        "properties": {
            "provisioningState": "Succeeded",
            "ipConfigurations": [
                {
                    "id": f"{vm.nic_id}/ipConfigurations/ipconfig1",
                    "name": "ipconfig1",
                    "properties": {
                        "privateIPAddress": vm.facts.get("private_ip"),
                        "privateIPAllocationMethod": "Dynamic",
                        "privateIPAddressVersion": "IPv4",
                        "primary": True,
                        "provisioningState": "Succeeded",
                    },
                }
            ],
            "virtualMachine": {"id": vm.id},
            "primary": True,
        },
    }


@route("GET", NICS)
def list_nics(req: Request) -> Reply:
    return req.page([nic_resource(v) for v in req.arm.vms(req.params["rg"])])


@route("GET", "/subscriptions/{sub}/providers/Microsoft.Network/networkInterfaces")
def list_all_nics(req: Request) -> Reply:
    return req.page([nic_resource(v) for v in req.arm.vms()])


@route("GET", NICS + "/{nic}")
def get_nic(req: Request) -> Reply:
    for vm in req.arm.vms(req.params["rg"]):
        if f"{vm.name}-nic".lower() == req.params["nic"].lower():
            return Reply(200, nic_resource(vm))
    raise ARMError(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.Network/networkInterfaces/{req.params['nic']}' was not found.",
    )
