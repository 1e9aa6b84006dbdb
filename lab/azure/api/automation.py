"""Microsoft.Automation jobs (AutomationClient, api 2024-10-23): create, get, output, stop.

Each job runs its runbook as a local process of the lab (:mod:`lab.automation.jobs`). The jobs service of a lab
is registered with :func:`lab.automation.enable_automation`; without it every job call answers 404, as for an
account that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remediate.lab.automation import jobs_of
from remediate.lab.automation.jobs import AutomationJobs, JobError
from remediate.lab.azure.routes import ARMError, Reply, Request, route

JOB = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Automation/automationAccounts/{account}/jobs/{job}"


def _jobs(req: Request) -> AutomationJobs:
    jobs = jobs_of(req.arm.dir)
    if jobs is None:
        raise ARMError(404, "ResourceNotFound", f"The Automation account {req.params['account']} was not found.")
    return jobs


def _call(func: Callable[..., Any], *args: Any) -> Any:
    try:
        return func(*args)
    except JobError as exc:
        raise ARMError(exc.status, exc.code, exc.message) from None


@route("PUT", JOB)
def create_job(req: Request) -> Reply:
    jobs = _jobs(req)
    return Reply(201, _call(jobs.create, req.path, req.params["account"], req.params["job"], req.body))


@route("GET", JOB)
def get_job(req: Request) -> Reply:
    return Reply(200, _call(_jobs(req).get, req.params["account"], req.params["job"]))


@route("GET", JOB + "/output")
def job_output(req: Request) -> Reply:
    text = _call(_jobs(req).output, req.params["account"], req.params["job"])
    return Reply(200, text.encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8"})


@route("POST", JOB + "/stop")
def stop_job(req: Request) -> Reply:
    _call(_jobs(req).stop, req.params["account"], req.params["job"])
    return Reply(200, None)
