"""A parent runbook's child jobs: the hosts split into shards, one Automation job per shard, reports merged.

Each child is the named-VMs runbook given the parent's host sources and ``--shard K/N``: it selects its own
hosts with the same split (:mod:`inventory.shard`), so the job parameters stay a few hundred bytes whatever the
fleet (Automation takes at most 512 KB of parameters). The parent starts at most ``max_running`` children at
a time (Automation accepts 100 new jobs per 30 s and runs 200 at once per account), polls each until it ends,
reads its Output stream and takes the JSON summary from its last line. A host the parent expected but no
child reported (the child failed, was stopped at the 3-hour limit, or timed out here) is reported ``failed``
with the child's name and status: never lost.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from remediate.automation.output import parse_summary

TERMINAL = ("Completed", "Failed", "Stopped", "Suspended")


@dataclass
class Child:
    shard: int
    count: int
    hosts: list[str]
    name: str = ""
    status: str = "NotStarted"
    exception: str | None = None
    summary: dict[str, Any] | None = None
    started: float = 0.0
    args: list[str] = field(default_factory=list)


@dataclass
class JobTarget:
    """Where the children run: the Automation account and the worker group (``""``: the cloud sandbox)."""

    resource_group: str
    account: str
    runbook: str
    run_on: str = ""


def run_children(
    client: Any,
    target: JobTarget,
    shards: Sequence[Sequence[str]],
    child_args: Callable[[int, int], list[str]],
    *,
    max_running: int = 20,
    timeout: float = 3 * 3600,
    poll: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_done: Callable[[Child], None] | None = None,
) -> list[Child]:
    """Start one child job per shard (at most ``max_running`` at once), wait for all, read their summaries."""
    count = len(shards)
    children = [Child(i + 1, count, list(hosts)) for i, hosts in enumerate(shards)]
    waiting = [c for c in children if c.hosts]
    running: list[Child] = []
    for c in children:
        if not c.hosts:
            c.status, c.summary = "Skipped", {"hosts": {}}
    while waiting or running:
        while waiting and len(running) < max_running:
            child = waiting.pop(0)
            _start(client, target, child, child_args(child.shard, count), clock)
            running.append(child)
            if child.status in TERMINAL:  # could not even be created
                running.remove(child)
                if on_done:
                    on_done(child)
        still: list[Child] = []
        for child in running:
            if _finished(client, target, child, timeout, clock):
                if on_done:
                    on_done(child)
            else:
                still.append(child)
        running = still
        if running:
            sleep(poll)
    return children


def _start(client: Any, target: JobTarget, child: Child, args: list[str], clock: Callable[[], float]) -> None:
    from azure.core.exceptions import HttpResponseError

    child.name = f"remediate-{uuid.uuid4()}"
    child.args = args
    body = {
        "properties": {
            "runbook": {"name": target.runbook},
            "parameters": {"args": json.dumps(args)},
            "runOn": target.run_on,
        }
    }
    try:
        job = client.job.create(target.resource_group, target.account, child.name, body)
    except HttpResponseError as exc:
        # The name is new: a 409 means a retried PUT found the job its first attempt created. Never a second job.
        try:
            if exc.status_code != 409:
                raise
            job = client.job.get(target.resource_group, target.account, child.name)
        except HttpResponseError:
            child.status, child.exception = "Failed", f"could not create the job: {exc.message}"
            return
    child.status = _status(job)
    child.started = clock()


def _finished(client: Any, target: JobTarget, child: Child, timeout: float, clock: Callable[[], float]) -> bool:
    from azure.core.exceptions import HttpResponseError

    try:
        job = client.job.get(target.resource_group, target.account, child.name)
    except HttpResponseError as exc:
        if exc.status_code is not None and exc.status_code < 500 and exc.status_code != 429:
            child.status, child.exception = "Failed", f"cannot read the job: {exc.message}"
            return True
        return False  # transient: ask again at the next poll
    child.status = _status(job)
    child.exception = job.exception
    if child.status not in TERMINAL:
        if clock() - child.started <= timeout:
            return False
        with contextlib.suppress(HttpResponseError):
            client.job.stop(target.resource_group, target.account, child.name)
        child.status, child.exception = "TimedOut", f"still {child.status} after {int(timeout)} s; stop requested"
    try:
        child.summary = parse_summary(client.job.get_output(target.resource_group, target.account, child.name))
    except HttpResponseError as exc:
        child.exception = (child.exception or "") + f" (output unreadable: {exc.message})"
    return True


def _status(job: Any) -> str:
    """The job's status as the API spells it (the SDK gives an enum member whose str() is its Python name)."""
    status = getattr(job, "status", None) or "New"
    return str(getattr(status, "value", status))


def merge(children: Sequence[Child]) -> tuple[dict[str, str], dict[str, str]]:
    """Every host's status and, for the bad ones, the reason; a host no child reported is ``failed``."""
    hosts: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for child in children:
        reported = (child.summary or {}).get("hosts") or {}
        child_reasons = (child.summary or {}).get("reasons") or {}
        # A summary names every host that is not ok and counts the ok ones: the hosts it does not name are the
        # ok ones exactly when their number is the count of ok hosts. Otherwise none of them is taken as ok.
        unnamed = [h for h in child.hosts if h not in reported]
        ok_count = ((child.summary or {}).get("summary") or {}).get("ok", 0)
        all_ok = child.summary is not None and ok_count == len(unnamed)
        for name in child.hosts:
            if name in reported:
                hosts[name] = reported[name]
                if name in child_reasons:
                    reasons[name] = child_reasons[name]
            elif all_ok:
                hosts[name] = "ok"
            else:
                hosts[name] = "failed"
                why = f": {child.exception}" if child.exception else ""
                if child.summary is not None:
                    why += f"; it counted {ok_count} ok hosts where {len(unnamed)} were expected"
                    why += ": did the inventory change?"
                reasons[name] = f"not reported by child job {child.name or '-'} (shard {child.shard}/{child.count}, "
                reasons[name] += f"{child.status}{why})"
        for name, status in reported.items():  # a host the parent did not expect (the inventory changed)
            if name not in hosts:
                hosts[name] = status
                if name in child_reasons:
                    reasons[name] = child_reasons[name]
    return hosts, reasons
