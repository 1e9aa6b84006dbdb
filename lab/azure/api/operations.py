"""Polling of long-running operations: Azure-AsyncOperation (status) and Location (result) URLs."""

from __future__ import annotations

from remediate.lab.azure.model import iso
from remediate.lab.azure.routes import Reply, Request, route

_BASE = "/subscriptions/{sub}/providers/Microsoft.Lab/locations/{loc}"


@route("GET", _BASE + "/operationStatuses/{op}")
def operation_status(req: Request) -> Reply:
    record = req.arm.poll_operation(req.params["op"])
    body = {"id": req.path, "name": req.params["op"], "status": record["status"], "startTime": iso(0)}
    if record["error"]:
        body["error"] = record["error"]
    headers = {"Retry-After": str(req.arm.retry_after())} if record["status"] == "InProgress" else {}
    return Reply(200, body, headers)


@route("GET", _BASE + "/operationResults/{op}")
def operation_result(req: Request) -> Reply:
    record = req.arm.poll_operation(req.params["op"])
    if record["status"] == "InProgress":
        return Reply(202, None, {"Location": req.url(req.path), "Retry-After": str(req.arm.retry_after())})
    if record["status"] == "Failed":
        return Reply(200, {"status": "Failed", "error": record["error"]})
    if record["result"] is None:
        return Reply(204)
    return Reply(200, record["result"])
