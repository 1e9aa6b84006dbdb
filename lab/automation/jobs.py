"""The lab's Azure Automation jobs: each job runs its runbook file as a local process, as a sandbox would.

A job is created with ``PUT .../automationAccounts/{a}/jobs/{name}`` (``{"properties": {"runbook": {"name"},
"parameters": {...}, "runOn": ""}}``), answered 201 with ``status: "New"`` as in Microsoft's ``createJob``
example; it then goes Running, and Completed, Failed (the process raised or exited non-zero) or Stopped (it
ran past ``max_seconds``, the lab's stand-in for the 3-hour limit of cloud jobs). ``GET .../jobs/{name}/output``
answers the Output stream as text.

The runbook ``NAME`` is the file ``NAME.py`` of ``runbooks_dir``. Its parameters become its ``sys.argv[1:]``,
the values in the order given: how Azure Automation maps named parameters onto a Python runbook's argv is not
documented, which is why our parent runbook passes one parameter (a JSON array of arguments) and nothing else.

Faults (``faults=`` or :meth:`AutomationJobs.set_faults`): ``crash_jobs: [i, ...]`` (the i-th job created,
from 1, dies before its runbook does anything), ``hang_jobs: [i, ...]`` (it never ends by itself: only a stop
request or ``max_seconds`` end it), ``limit_jobs: [i, ...]`` (it is Stopped after ``limit_seconds``, default 1,
as a cloud job is at the 3-hour limit, whatever its runbook was doing).
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

TERMINAL = ("Completed", "Failed", "Stopped", "Suspended")
CRASH = "raise SystemExit('lab: the job sandbox died before the runbook started')"
HANG = "import time; print('lab: hanging'); time.sleep(3600)"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class JobError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Job:
    def __init__(self, name: str, resource_id: str, body: dict[str, Any], index: int) -> None:
        props = body.get("properties") or {}
        self.name = name
        self.id = resource_id
        self.index = index
        self.runbook = str((props.get("runbook") or {}).get("name") or "")
        self.parameters = {str(k): str(v) for k, v in (props.get("parameters") or {}).items()}
        self.run_on = str(props.get("runOn") or "")
        self.job_id = str(uuid.uuid4())
        self.status = "New"
        self.exception: str | None = None
        self.created = self.modified = _now()
        self.start: str | None = None
        self.end: str | None = None
        self.output_path: Path | None = None
        self.stop_requested = False

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Automation/AutomationAccounts/Jobs",
            "properties": {
                "jobId": self.job_id,
                "runbook": {"name": self.runbook},
                "provisioningState": "Succeeded" if self.status in TERMINAL else "Processing",
                "creationTime": self.created,
                "startTime": self.start,
                "endTime": self.end,
                "exception": self.exception,
                "lastModifiedTime": self.modified,
                "lastStatusModifiedTime": self.modified,
                "status": self.status,
                "statusDetails": "None",
                "parameters": self.parameters,
                "runOn": self.run_on,
            },
        }


class AutomationJobs:
    """Every Automation account's jobs in one lab; ``env`` is the environment each job's process gets."""

    def __init__(
        self,
        directory: str | Path,
        runbooks_dir: str | Path,
        *,
        env: dict[str, str] | None = None,
        max_seconds: float = 3 * 3600,
        faults: dict[str, Any] | None = None,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.runbooks_dir = Path(runbooks_dir)
        self.env = dict(os.environ if env is None else env)
        self.max_seconds = max_seconds
        self.faults: dict[str, Any] = dict(faults or {})
        self._jobs: dict[str, _Job] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self.log: list[dict[str, Any]] = []  # one entry per job created: name, runbook, parameters

    def set_faults(self, **faults: Any) -> None:
        self.faults.update(faults)

    def _key(self, account: str, name: str) -> str:
        return f"{account.lower()}/{name.lower()}"

    def create(self, resource_id: str, account: str, name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise JobError(400, "BadRequest", "The request body must have properties.runbook.")
        with self._lock:
            key = self._key(account, name)
            if key in self._jobs:
                raise JobError(409, "Conflict", f"A job named {name} already exists.")
            job = _Job(name, resource_id, body, len(self._jobs) + 1)
            script = self.runbooks_dir / f"{job.runbook}.py"
            if not job.runbook or not script.is_file():
                raise JobError(404, "NotFound", f"The runbook {job.runbook!r} was not found.")
            self._jobs[key] = job
            self.log.append({"name": name, "runbook": job.runbook, "parameters": dict(job.parameters),
                             "run_on": job.run_on})  # fmt: skip
        threading.Thread(target=self._run, args=(job, script), name=f"lab-job-{name}", daemon=True).start()
        return job.resource()

    def _argv(self, job: _Job, script: Path) -> list[str]:
        if job.index in (self.faults.get("crash_jobs") or []):
            return [sys.executable, "-c", CRASH]
        if job.index in (self.faults.get("hang_jobs") or []) or job.index in (self.faults.get("limit_jobs") or []):
            return [sys.executable, "-c", HANG]
        return [sys.executable, str(script), *job.parameters.values()]

    def _run(self, job: _Job, script: Path) -> None:
        job.output_path = self.dir / f"{job.name}.out"
        err_path = self.dir / f"{job.name}.err"
        with open(job.output_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(self._argv(job, script), stdout=out, stderr=err, env=self.env,
                                    cwd=str(self.dir), stdin=subprocess.DEVNULL)  # fmt: skip
            self._procs[job.name] = proc
            job.status, job.start, job.modified = "Running", _now(), _now()
            limit = self.max_seconds
            if job.index in (self.faults.get("limit_jobs") or []):
                limit = float(self.faults.get("limit_seconds", 1.0))
            try:
                code: int | None = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                code = None
            if code is None:
                proc.kill()
                proc.wait()
                job.status = "Stopped"
                job.exception = "The job was stopped: it ran longer than the sandbox allows."
            elif job.stop_requested:
                job.status = "Stopped"
                job.exception = "The job was stopped by a request."
            elif code == 0:
                job.status = "Completed"
            else:
                job.status = "Failed"
                tail = [ln for ln in err_path.read_text(errors="replace").splitlines() if ln.strip()]
                job.exception = tail[-1] if tail else f"exit code {code}"
        job.end = job.modified = _now()

    def get(self, account: str, name: str) -> dict[str, Any]:
        return self._job(account, name).resource()

    def output(self, account: str, name: str) -> str:
        job = self._job(account, name)
        if job.output_path is None or not job.output_path.exists():
            return ""
        return job.output_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, account: str, name: str) -> None:
        job = self._job(account, name)
        proc = self._procs.get(job.name)
        if proc is not None and proc.poll() is None:
            job.stop_requested = True
            proc.kill()

    def _job(self, account: str, name: str) -> _Job:
        job = self._jobs.get(self._key(account, name))
        if job is None:
            raise JobError(404, "NotFound", f"The job {name} was not found.")
        return job

    def close(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
