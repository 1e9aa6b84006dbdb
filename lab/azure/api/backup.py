"""Microsoft.RecoveryServices: vaults, protected VMs, backup jobs and the on-demand backup trigger.

Bodies follow azure-rest-api-specs ``specification/recoveryservicesbackup/.../examples`` (Common/
ListJobsWithAllSupportedFilters, AzureIaasVm/GetJobDetails, Common/TriggerBackup_Post, ProtectedItem Get).
A triggered job is InProgress when first read and ends at the next read of it, with the outcome that
:func:`lab.azure.outcome.backup_error` computes from the VM's host at that moment.
"""

from __future__ import annotations

import datetime
import re
import time
import uuid
from typing import Any

from remediate.lab.azure.model import ARM, RESTORE_POINT_LIMIT, VM, iso
from remediate.lab.azure.routes import ARMError, Reply, Request, route

RG = "/subscriptions/{sub}/resourceGroups/{rg}"
VAULT = RG + "/providers/Microsoft.RecoveryServices/vaults/{vault}"
ITEM = VAULT + "/backupFabrics/{fabric}/protectionContainers/{container}/protectedItems/{item}"


def vault_resource(arm: ARM, v: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{arm.subscription}/resourceGroups/{v['resource_group']}"
        f"/providers/Microsoft.RecoveryServices/vaults/{v['name']}",
        "name": v["name"],
        "type": "Microsoft.RecoveryServices/vaults",
        "location": arm.location,
        "tags": {},
        "sku": {"name": "Standard"},
        "properties": {"provisioningState": "Succeeded"},
    }


def _vault(arm: ARM, rg: str, name: str) -> dict[str, Any]:
    for v in arm.settings().get("vaults") or []:
        if v["name"].lower() == name.lower() and str(v["resource_group"]).lower() == rg.lower():
            return v
    raise ARMError(404, "ResourceNotFound", f"The Resource 'Microsoft.RecoveryServices/vaults/{name}' was not found.")


@route("GET", "/subscriptions/{sub}/providers/Microsoft.RecoveryServices/vaults")
def list_vaults(req: Request) -> Reply:
    return req.page([vault_resource(req.arm, v) for v in req.arm.settings().get("vaults") or []])


@route("GET", RG + "/providers/Microsoft.RecoveryServices/vaults")
def list_vaults_rg(req: Request) -> Reply:
    rg = req.params["rg"].lower()
    vaults = [v for v in req.arm.settings().get("vaults") or [] if str(v["resource_group"]).lower() == rg]
    return req.page([vault_resource(req.arm, v) for v in vaults])


@route("GET", VAULT)
def get_vault(req: Request) -> Reply:
    return Reply(200, vault_resource(req.arm, _vault(req.arm, req.params["rg"], req.params["vault"])))


# -- protected items ----------------------------------------------------------------------------------------------
def container_name(vm: VM) -> str:
    return f"iaasvmcontainerv2;{vm.resource_group.lower()};{vm.name.lower()}"


def item_name(vm: VM) -> str:
    return f"VM;{container_name(vm)}"


def item_resource(arm: ARM, vault: dict[str, Any], vm: VM) -> dict[str, Any]:
    base = vault_resource(arm, vault)["id"]
    jobs = [j for j in arm.settings().get("jobs") or [] if j["vm"] == vm.name and j["status"] != "InProgress"]
    last = jobs[-1] if jobs else None
    return {
        "id": f"{base}/backupFabrics/Azure/protectionContainers/IaasVMContainer;{container_name(vm)}"
        f"/protectedItems/{item_name(vm)}",
        "name": item_name(vm),
        "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems",
        "properties": {
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "friendlyName": vm.name,
            "virtualMachineId": vm.id,
            "sourceResourceId": vm.id,
            "workloadType": "VM",
            "backupManagementType": "AzureIaasVM",
            "containerName": container_name(vm),
            "protectionStatus": "Healthy",
            "protectionState": "Protected",
            "healthStatus": "Passed" if not last or last["status"] == "Completed" else "ActionRequired",
            "lastBackupStatus": last["status"] if last else "",
            "lastBackupTime": iso(last["end"]) if last else None,
            "policyId": f"{base}/backupPolicies/DefaultPolicy",
        },
    }


def _protected(arm: ARM) -> list[VM]:
    return [vm for vm in arm.vms() if vm.facts.get("protected", True)]


@route("GET", VAULT + "/backupProtectedItems")
def list_items(req: Request) -> Reply:
    vault = _vault(req.arm, req.params["rg"], req.params["vault"])
    return req.page([item_resource(req.arm, vault, vm) for vm in _protected(req.arm)])


def _vm_of_item(arm: ARM, container: str, item: str) -> VM:
    parts = item.split(";")
    for vm in _protected(arm):
        if len(parts) >= 4 and parts[-1].lower() == vm.name.lower() and parts[-2].lower() == vm.resource_group.lower():
            return vm
    raise ARMError(404, "BMSUserErrorItemNotFound", f"Item not found: {container}/{item}")


@route("GET", ITEM)
def get_item(req: Request) -> Reply:
    vault = _vault(req.arm, req.params["rg"], req.params["vault"])
    return Reply(200, item_resource(req.arm, vault, _vm_of_item(req.arm, req.params["container"], req.params["item"])))


# -- jobs -------------------------------------------------------------------------------------------------------
def _duration(seconds: float) -> str:
    """A job's duration as the service writes it ("00:20:23.0896697", MicrosoftDocs' managejobs example), not the
    ISO 8601 duration the schema declares: the SDK's hybrid models hand it over as it is."""
    whole = int(seconds)
    fraction = int((seconds - whole) * 10_000_000)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{fraction:07d}"


def job_resource(arm: ARM, vault: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    from remediate.lab.azure.outcome import message_of

    base = vault_resource(arm, vault)["id"]
    end = job.get("end")
    props: dict[str, Any] = {
        "jobType": "AzureIaaSVMJob",
        "entityFriendlyName": job["vm"],
        "backupManagementType": "AzureIaasVM",
        "operation": "Backup",
        "status": job["status"],
        "startTime": iso(job["start"]),
        "duration": _duration((end or time.time()) - job["start"]),
        "activityId": job.get("activity", job["name"]),
        "virtualMachineVersion": "Compute",
        "isUserTriggered": bool(job.get("user_triggered")),
        "actionsInfo": [1] if job["status"] == "InProgress" else [],  # 1: Cancel (an integer on the wire)
        "errorDetails": [],
        "extendedInfo": {
            "tasksList": [
                {"taskId": "Take Snapshot", "status": job.get("snapshot", job["status"])},
                {
                    "taskId": "Transfer data to vault",
                    "status": "Completed" if job["status"] == "Completed" else "NotStarted",
                },
            ],
            "propertyBag": {"VM Name": job["vm"], "Backup Size": "0 MB"},
            "progressPercentage": 100.0 if end else 0.0,
        },
    }
    if end:
        props["endTime"] = iso(end)
    if job.get("error_code"):
        message, recommendations = message_of(job["error_code"])
        props["errorDetails"] = [
            {
                "errorCode": 0,
                "errorTitle": job["error_code"],
                "errorString": message,
                "recommendations": recommendations,
            }
        ]
        props["extendedInfo"]["dynamicErrorMessage"] = message
    return {
        "id": f"{base}/backupJobs/{job['name']}",
        "name": job["name"],
        "type": "Microsoft.RecoveryServices/vaults/backupJobs",
        "properties": props,
    }


def finish_job(arm: ARM, job: dict[str, Any]) -> None:
    """End an InProgress job with the outcome its VM's state gives now (called under the state lock)."""
    from remediate.lab.azure.outcome import backup_error

    vm = arm.vm_by_any_name(job["vm"])
    code = backup_error(arm, vm) if vm is not None else "UserErrorVmNotFoundV2"
    job["end"] = time.time()
    job["status"] = "Failed" if code else "Completed"
    job["snapshot"] = "Failed" if code else "Completed"
    job["error_code"] = code
    return None


def add_restore_point(data: dict[str, Any], arm: ARM, vm: VM, when: float) -> None:
    """A successful backup keeps its snapshot as a restore point; Backup cleans old ones unless a lock forbids."""
    rg = f"AzureBackupRG_{arm.location}_1"
    collections = data.setdefault("restore_point_collections", [])
    rpc = next((r for r in collections if str(r["vm"]).lower() == vm.name.lower()), None)
    if rpc is None:
        rpc = {
            "resource_group": rg,
            "name": f"AzureBackup_{vm.name}_{abs(hash(vm.id)) % 10**12}",
            "vm": vm.name,
            "restore_points": [],
        }
        collections.append(rpc)
    points = rpc.setdefault("restore_points", [])
    locked = any(
        str(x["resource_group"]).lower() == str(rpc["resource_group"]).lower() for x in data.get("locks") or []
    )
    if not locked:
        while len(points) >= RESTORE_POINT_LIMIT - 1:
            points.pop(0)
    points.append({"name": str(uuid.uuid4()), "time": when})


_FILTER = re.compile(r"(\w+)\s+eq\s+'([^']*)'", re.IGNORECASE)


def _parse_time(text: str) -> float:
    for fmt in ("%Y-%m-%d %I:%M:%S %p", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            parsed = datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
            return parsed.timestamp()
        except ValueError:
            continue
    raise ARMError(400, "BMSUserErrorInvalidInput", f"Input for filter is invalid: {text!r}")


@route("GET", VAULT + "/backupJobs")
def list_jobs(req: Request) -> Reply:
    vault = _vault(req.arm, req.params["rg"], req.params["vault"])
    terms = {k.lower(): v for k, v in _FILTER.findall(req.query.get("$filter", ""))}
    jobs = list(req.arm.settings().get("jobs") or [])
    if "starttime" in terms:
        jobs = [j for j in jobs if j["start"] >= _parse_time(terms["starttime"])]
    if "endtime" in terms:
        jobs = [j for j in jobs if j["start"] <= _parse_time(terms["endtime"])]
    if "status" in terms:
        jobs = [j for j in jobs if j["status"].lower() == terms["status"].lower()]
    if "operation" in terms and terms["operation"].lower() != "backup":
        jobs = []
    jobs.sort(key=lambda j: -j["start"])
    return req.page([job_resource(req.arm, vault, j) for j in jobs])


@route("GET", VAULT + "/backupJobs/{job}")
def get_job(req: Request) -> Reply:
    vault = _vault(req.arm, req.params["rg"], req.params["vault"])
    with req.arm.edit() as data:
        for job in data.get("jobs") or []:
            if job["name"] == req.params["job"]:
                if job["status"] == "InProgress":
                    job["polls"] = job.get("polls", 0) + 1
                    if job["polls"] >= 2:
                        finish_job(req.arm, job)
                        vm = req.arm.vm_by_any_name(job["vm"])
                        if job["status"] == "Completed" and vm is not None:
                            add_restore_point(data, req.arm, vm, job["end"])
                return Reply(200, job_resource(req.arm, vault, job))
    raise ARMError(404, "BMSUserErrorJobNotFound", f"Job {req.params['job']} not found.")


def new_job(vm: VM, *, user_triggered: bool, start: float | None = None) -> dict[str, Any]:
    return {
        "name": str(uuid.uuid4()),
        "vm": vm.name,
        "status": "InProgress",
        "start": start or time.time(),
        "end": None,
        "user_triggered": user_triggered,
        "polls": 0,
        "error_code": None,
    }


@route("POST", ITEM + "/backup")
def trigger(req: Request) -> Reply:
    _vault(req.arm, req.params["rg"], req.params["vault"])
    vm = _vm_of_item(req.arm, req.params["container"], req.params["item"])
    props = (req.body or {}).get("properties") or {}
    if props.get("objectType") != "IaasVMBackupRequest":
        raise ARMError(400, "BMSUserErrorInvalidInput", "objectType must be IaasVMBackupRequest.")
    with req.arm.edit() as data:
        jobs = data.setdefault("jobs", [])
        if any(j["vm"] == vm.name and j["status"] == "InProgress" for j in jobs):
            raise ARMError(
                400,
                "UserErrorBackupOperationInProgress",
                "Unable to perform the operation as another operation is in progress on this item.",
            )
        job = new_job(vm, user_triggered=True)
        jobs.append(job)
        op = str(uuid.uuid4())
        data.setdefault("backup_operations", {})[op] = {"job": job["name"], "polls": 0}
    base = req.path.rsplit("/backup", 1)[0]
    headers = {
        "Azure-AsyncOperation": req.url(f"{base}/operationsStatus/{op}"),
        "Location": req.url(f"{base}/operationResults/{op}"),
        "Retry-After": str(req.arm.retry_after()),
    }
    return Reply(202, None, headers)


def _operation(req: Request) -> dict[str, Any]:
    op = req.params["op"]
    with req.arm.edit() as data:
        record = (data.get("backup_operations") or {}).get(op)
        if record is None:
            raise ARMError(404, "BMSUserErrorOperationNotFound", f"Operation {op} not found.")
        record["polls"] = record.get("polls", 0) + 1
        status = "InProgress" if record["polls"] < 2 else "Succeeded"
    body: dict[str, Any] = {"id": op, "name": op, "status": status, "startTime": iso(time.time())}
    if status == "Succeeded":
        body["endTime"] = iso(time.time())
        body["properties"] = {"objectType": "OperationStatusJobExtendedInfo", "jobId": record["job"]}
    return body


@route("GET", VAULT + "/backupOperations/{op}")
def backup_operation(req: Request) -> Reply:
    return Reply(200, _operation(req))


@route("GET", ITEM + "/operationsStatus/{op}")
def item_operation_status(req: Request) -> Reply:
    return Reply(200, _operation(req))


@route("GET", ITEM + "/operationResults/{op}")
def item_operation_result(req: Request) -> Reply:
    body = _operation(req)
    return Reply(202 if body["status"] == "InProgress" else 204, None)


def run_scheduled_backups(arm: ARM, when: float | None = None) -> list[dict[str, Any]]:
    """The vault's nightly backup of every protected VM, finished at once: the jobs a lab starts with."""
    when = when or time.time() - 3600
    out = []
    with arm.edit() as data:
        for vm in _protected(arm):
            job = new_job(vm, user_triggered=False, start=when)
            finish_job(arm, job)
            job["end"] = when + 300
            data.setdefault("jobs", []).append(job)
            if job["status"] == "Completed":
                add_restore_point(data, arm, vm, job["end"])
            out.append(job)
    return out
