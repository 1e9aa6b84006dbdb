"""Microsoft.Authorization/locks at resource-group level (ManagementLockClient, api 2020-05-01)."""

from __future__ import annotations

from typing import Any

from remediate.lab.azure.model import ARM
from remediate.lab.azure.routes import ARMError, Reply, Request, route

LOCKS = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/locks"


def locked(arm: ARM, rg: str) -> dict[str, Any] | None:
    for lock in arm.settings().get("locks") or []:
        if str(lock["resource_group"]).lower() == rg.lower():
            return lock
    return None


def lock_resource(arm: ARM, lock: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{arm.subscription}/resourceGroups/{lock['resource_group']}"
        f"/providers/Microsoft.Authorization/locks/{lock['name']}",
        "name": lock["name"],
        "type": "Microsoft.Authorization/locks",
        "properties": {"level": lock.get("level", "CanNotDelete"), "notes": lock.get("notes", "")},
    }


@route("GET", LOCKS)
def list_locks(req: Request) -> Reply:
    rg = req.params["rg"]
    items = [
        lock_resource(req.arm, x)
        for x in req.arm.settings().get("locks") or []
        if str(x["resource_group"]).lower() == rg.lower()
    ]
    return req.page(items)


@route("GET", LOCKS + "/{name}")
def get_lock(req: Request) -> Reply:
    for x in req.arm.settings().get("locks") or []:
        same_rg = str(x["resource_group"]).lower() == req.params["rg"].lower()
        if same_rg and x["name"].lower() == req.params["name"].lower():
            return Reply(200, lock_resource(req.arm, x))
    raise ARMError(404, "LockNotFound", f"The lock '{req.params['name']}' could not be found.")


@route("PUT", LOCKS + "/{name}")
def put_lock(req: Request) -> Reply:
    props = (req.body or {}).get("properties") or {}
    level = props.get("level")
    if level not in ("CanNotDelete", "ReadOnly", "NotSpecified"):
        raise ARMError(400, "InvalidLockLevel", f"The lock level '{level}' is invalid.")
    lock = {
        "resource_group": req.params["rg"],
        "name": req.params["name"],
        "level": level,
        "notes": props.get("notes", ""),
    }
    with req.arm.edit() as data:
        others = [
            x
            for x in data.get("locks") or []
            if not (str(x["resource_group"]).lower() == lock["resource_group"].lower() and x["name"] == lock["name"])
        ]
        data["locks"] = [*others, lock]
    return Reply(201 if len(others) == len(data["locks"]) - 1 else 200, lock_resource(req.arm, lock))


@route("DELETE", LOCKS + "/{name}")
def delete_lock(req: Request) -> Reply:
    with req.arm.edit() as data:
        before = data.get("locks") or []
        data["locks"] = [
            x
            for x in before
            if not (
                str(x["resource_group"]).lower() == req.params["rg"].lower()
                and x["name"].lower() == req.params["name"].lower()
            )
        ]
        gone = len(before) != len(data["locks"])
    return Reply(200 if gone else 204)
