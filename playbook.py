"""The runner: remediations on hosts, in parallel, each host ending in exactly one status with a reason.

This is the documented Python API that the CLI and the Azure Automation runbooks both call::

    import playbook
    from inventory import load_inventory

    hosts = load_inventory("inventory/lab.yml").select("windows")
    report = playbook.run(hosts, ["vss-writers"], playbook.RunOptions(dry_run=True))
    for result in report.hosts:
        print(result.host, result.status, result.reason)

For each host and each remediation: check (read-only) -> plan -> apply (each change journaled with its
before and after) -> verify (check again, with bounded waiting) -> escalate to the next documented step if
still broken. A compliant host gives an empty plan and runs nothing mutating. The runner knows no
remediation's internals and no transport's internals: it only speaks the contract of
:mod:`remediate.contract` and :class:`remediate.connection.Connection`.

Statuses: ``ok`` (compliant, nothing to do), ``changed`` (changes applied and verified; in dry-run: changes
pending), ``failed`` (a step failed or verification did not pass), ``unreachable`` (the host could not be
reached or would not let us in), ``skipped`` (the remediation is not for this host's OS, or it needs
``--yes``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from remediate.connection import ConnectOptions, connect
from remediate.contract import Change, Plan, Remediation, Risk
from remediate.errors import ConfigError, ConnectionFailure, HostTimeout, OutcomeUnknown, RemediateError
from remediate.journal import Journal
from remediate.log import scrub
from remediate.retry import RetryPolicy

if TYPE_CHECKING:
    from inventory.host import Host
    from remediate.connection import Connection

OK, CHANGED, FAILED, UNREACHABLE, SKIPPED = "ok", "changed", "failed", "unreachable", "skipped"
STATUSES = (OK, CHANGED, FAILED, UNREACHABLE, SKIPPED)
# A change whose answer was lost (OutcomeUnknown) is never re-sent blindly: the state is checked again and a
# new plan made from it, at most this many times per step; the next unknown outcome fails the step.
OUTCOME_REPLANS = 1


@dataclass
class RunOptions:
    """How a run behaves. Every field has a safe default."""

    dry_run: bool = False
    assume_yes: bool = False  # disruptive and destructive remediations need it outside dry-run
    forks: int = 10  # hosts in parallel
    host_timeout: float | None = 1800.0  # seconds per host, all steps included
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    params: dict[str, Any] = field(default_factory=dict)  # remediation parameters (--param)
    stop_when_healthy: bool = False  # for --for/--error-code: stop at the first remediation that leaves it healthy
    journal_dir: str | None = None
    run_id: str | None = None
    connect: ConnectOptions = field(default_factory=ConnectOptions)
    on_host_done: Callable[[HostResult], None] | None = None  # progress callback, called from worker threads
    sleep: Callable[[float], None] = time.sleep


@dataclass
class StepResult:
    """One remediation on one host."""

    remediation: str
    status: str
    reason: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    planned: list[dict[str, Any]] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verified: bool | None = None
    error: dict[str, Any] | None = None
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class HostResult:
    """Where a host ended: exactly one status, with the reason and every step."""

    host: str
    status: str
    reason: str = ""
    steps: list[StepResult] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0

    @property
    def changes(self) -> int:
        return sum(len(s.applied) for s in self.steps)

    @property
    def pending(self) -> int:
        return sum(len(s.planned) for s in self.steps if s.status == CHANGED and not s.applied)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "status": self.status,
            "reason": self.reason,
            "changes": self.changes,
            "pending": self.pending,
            "duration": round(self.duration, 3),
            "steps": [s.to_dict() for s in self.steps],
            "operations": self.operations,
        }


@dataclass
class RunReport:
    run_id: str
    dry_run: bool
    remediations: list[str]
    hosts: list[HostResult]
    started: float
    finished: float
    journal: str | None = None

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for h in self.hosts:
            out[h.status] += 1
        return out

    @property
    def pending(self) -> int:
        return sum(h.pending for h in self.hosts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "remediations": self.remediations,
            "started": self.started,
            "finished": self.finished,
            "duration": round(self.finished - self.started, 3),
            "summary": self.counts(),
            "pending_changes": self.pending,
            "journal": self.journal,
            "hosts": [h.to_dict() for h in self.hosts],
        }


def resolve(remediations: Iterable[str | type[Remediation]]) -> list[type[Remediation]]:
    """Remediation classes from slugs or classes; an unknown slug is a ConfigError listing the known ones."""
    import remediations as registry

    out = []
    for item in remediations:
        out.append(registry.get(item) if isinstance(item, str) else item)
    if not out:
        raise ConfigError("no remediation given", hint="see `remediate list`")
    return out


def validate_params(classes: Sequence[type[Remediation]], params: Mapping[str, Any]) -> None:
    """Every given parameter belongs to at least one of the remediations, and parses for each that takes it."""
    known = {p.name for cls in classes for p in cls.params}
    unknown = sorted(set(params) - known)
    if unknown:
        names = ", ".join(cls.slug for cls in classes)
        raise ConfigError(
            f"unknown parameter {', '.join(unknown)} for {names}",
            step="parameters",
            hint=f"parameters they take: {', '.join(sorted(known)) or 'none'}",
        )
    for cls in classes:
        cls.parse_params({k: v for k, v in params.items() if k in {p.name for p in cls.params}})


def run(
    hosts: Sequence[Host],
    remediations: Iterable[str | type[Remediation]],
    options: RunOptions | None = None,
) -> RunReport:
    """Run the remediations on every host; one host failing never stops the others."""
    options = options or RunOptions()
    _quiet_by_default()
    classes = resolve(remediations)
    validate_params(classes, options.params)
    run_id = options.run_id or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    journal = None if options.dry_run else Journal(options.journal_dir, run_id)
    started = time.time()
    log = structlog.get_logger("remediate.run").bind(run_id=run_id)
    if journal:
        journal.write(
            "run",
            remediations=[c.slug for c in classes],
            hosts=[h.to_dict() for h in hosts],
            params=options.params,
        )
    log.info("run_start", hosts=len(hosts), remediations=[c.slug for c in classes], dry_run=options.dry_run)

    results: list[HostResult | None] = [None] * len(hosts)
    lock = threading.Lock()

    def work(index: int) -> None:
        host = hosts[index]
        result = _run_host(host, classes, options, journal, run_id)
        with lock:
            results[index] = result
        if options.on_host_done:
            options.on_host_done(result)

    forks = max(1, min(options.forks, len(hosts) or 1))
    if forks == 1:
        for i in range(len(hosts)):
            work(i)
    else:
        with ThreadPoolExecutor(max_workers=forks, thread_name_prefix="remediate") as pool:
            list(pool.map(work, range(len(hosts))))
    report = RunReport(
        run_id=run_id,
        dry_run=options.dry_run,
        remediations=[c.slug for c in classes],
        hosts=[r for r in results if r is not None],
        started=started,
        finished=time.time(),
        journal=str(journal.path) if journal else None,
    )
    log.info("run_end", **report.counts())
    return report


def _quiet_by_default() -> None:
    """Used as a library with structlog unconfigured, print warnings and errors only (not every event)."""
    if not structlog.is_configured():
        from remediate.log import configure

        configure(level="warning")


def _run_host(
    host: Host,
    classes: Sequence[type[Remediation]],
    options: RunOptions,
    journal: Journal | None,
    run_id: str,
) -> HostResult:
    started = time.monotonic()
    log = structlog.get_logger("remediate.run").bind(run_id=run_id, host=host.name)
    result = HostResult(host.name, OK)
    applicable = [c for c in classes if c.os == "any" or host.os is None or c.os == host.os]
    if not applicable:
        oses = ", ".join(sorted({c.os for c in classes}))
        result.status, result.reason = SKIPPED, f"the remediations are for {oses}; this host is {host.os}"
        result.steps = [StepResult(c.slug, SKIPPED, result.reason) for c in classes]
        return result
    deadline = time.monotonic() + options.host_timeout if options.host_timeout else None
    copts = _connect_options(options, deadline)
    conn: Connection | None = None
    try:
        conn = connect(host, copts, log)
        for cls in classes:
            if cls not in applicable:
                result.steps.append(StepResult(cls.slug, SKIPPED, f"{cls.slug} is for {cls.os}; host is {host.os}"))
                continue
            step = _run_step(conn, host, cls, options, journal, log)
            result.steps.append(step)
            if step.status == UNREACHABLE:
                break
            if options.stop_when_healthy and step.status in (OK, CHANGED) and (step.applied or step.status == OK):
                break
    except ConfigError as exc:
        result.steps.append(StepResult("(connection)", FAILED, str(exc), error=exc.to_dict()))
    finally:
        if conn is not None:
            result.operations = [r.to_dict() for r in conn.records]
            try:
                conn.close()
            except Exception as exc:  # closing must never hide the host's real outcome
                log.debug("close_failed", error=str(exc))
    result.status, result.reason = _host_status(result.steps, options.stop_when_healthy)
    result.duration = time.monotonic() - started
    log.info("host_done", status=result.status, reason=result.reason)
    return result


def _connect_options(options: RunOptions, deadline: float | None) -> ConnectOptions:
    from dataclasses import replace

    return replace(options.connect, dry_run=options.dry_run, retry=options.retry, deadline=deadline)


def _params_for(cls: type[Remediation], host: Host, options: RunOptions) -> dict[str, Any]:
    """Inventory vars named like a parameter, overridden by run-wide --param values."""
    names = {p.name for p in cls.params}
    values = {k: v for k, v in host.vars.items() if k in names}
    values.update({k: v for k, v in options.params.items() if k in names})
    return values


def _run_step(
    conn: Connection,
    host: Host,
    cls: type[Remediation],
    options: RunOptions,
    journal: Journal | None,
    log: Any,
) -> StepResult:
    started = time.monotonic()
    step = StepResult(cls.slug, OK)
    log = log.bind(remediation=cls.slug)
    conn.log = conn.log.bind(remediation=cls.slug)
    try:
        rem = cls(_params_for(cls, host, options))
        state = rem.check(conn)
        step.findings = [f.to_dict() for f in rem.findings(state)]
        plan = rem.plan(state)
        step.notes = list(plan.notes)
        step.planned = [c.to_dict() for c in plan.changes]
        if plan.empty:
            verdict = rem.verdict(state)  # empty plan, yet broken: a fix that needs an operator's option
            if not verdict.compliant:
                step.status = FAILED
                step.reason = "not compliant, nothing changed: " + "; ".join(verdict.reasons or plan.notes)
                return step
            step.status, step.reason = OK, "compliant: nothing to change"
            return step
        if options.dry_run:
            step.status, step.reason = CHANGED, f"dry-run: {len(plan)} change(s) pending"
            return step
        if cls.risk.needs_confirmation and not options.assume_yes:
            step.status = SKIPPED
            step.reason = f"{cls.risk.value}: {len(plan)} change(s) planned, not applied; run again with --yes"
            return step
        applied_plans: list[Plan] = []
        verdict = None
        unknown = 0
        while True:
            done_before = len(step.applied)
            try:
                _apply(conn, host, rem, plan, step, journal, log)
            except OutcomeUnknown as exc:
                # At most once: the change may have run. Never send it again blindly; read the state, plan again.
                unknown += 1
                step.notes.append(f"{exc.step}: the answer was lost ({exc.cause}); the state was read again")
                log.warning("outcome_unknown_recheck", operation=exc.step, time=unknown)
                if unknown > OUTCOME_REPLANS:
                    raise
                applied_plans.append(plan)
                # the change being sent: the first one not applied that runs the operation that lost its answer
                lost = next(
                    (c for c in plan.changes[len(step.applied) - done_before :] if c.operation.script == exc.step), None
                )
                plan = _plan_after_unknown_outcome(conn, host, rem, lost, step, journal)
                step.notes.extend(n for n in plan.notes if n not in step.notes)
                if not plan.empty:
                    log.info("replan_after_unknown_outcome", changes=len(plan))
                    continue
            else:
                applied_plans.append(plan)
            state, verdict = _verify(conn, rem, options)
            step.verified = verdict.compliant
            if verdict.compliant:
                break
            plan = rem.escalate(state, applied_plans)
            step.notes.extend(n for n in plan.notes if n not in step.notes)
            if plan.empty or len(applied_plans) >= 5:
                break
            log.info("escalate", changes=len(plan))
        step.findings = [f.to_dict() for f in rem.findings(state)]
        if verdict.compliant:
            step.status, step.reason = CHANGED, f"{len(step.applied)} change(s) applied and verified"
            found_done = sum(1 for a in step.applied if a.get("outcome"))
            if found_done:
                step.reason += f"; {found_done} of them lost their answer and were found done when checked again"
            elif unknown:
                step.reason += f"; {unknown} answer(s) lost, planned again from the state read again"
        else:
            step.status = FAILED
            step.reason = "still not compliant after the fix: " + "; ".join(verdict.reasons or ["verification failed"])
    except ConnectionFailure as exc:
        step.status, step.reason, step.error = UNREACHABLE, str(exc), exc.to_dict()
    except HostTimeout as exc:
        step.status, step.reason, step.error = FAILED, str(exc), exc.to_dict()
    except RemediateError as exc:
        step.status, step.reason, step.error = FAILED, str(exc), exc.to_dict()
    except Exception as exc:  # a bug must fail this host, never the run
        log.exception("internal_error")
        step.status = FAILED
        step.reason = scrub(f"internal error in {cls.slug}: {type(exc).__name__}: {exc}")
        step.error = {"type": type(exc).__name__, "message": scrub(str(exc))}
    finally:
        step.duration = time.monotonic() - started
    return step


def _plan_after_unknown_outcome(
    conn: Connection, host: Host, rem: Remediation, lost: Change | None, step: StepResult, journal: Journal | None
) -> Plan:
    """Read the state again and plan from it. When the new plan no longer holds the change whose answer was
    lost, that change ran: it is recorded as applied, in the report and the journal, so that undo knows it."""
    plan = rem.plan(rem.check(conn))
    if lost is None:
        return plan
    operation = lost.operation.to_dict()
    if all(c.operation.to_dict() != operation for c in plan.changes):
        entry = lost.to_dict()
        entry["outcome"] = "the answer was lost; found done when the state was read again"
        step.applied.append(entry)
        if journal:
            journal.write("change", host=host.name, remediation=rem.slug, ok=True, **entry)
    return plan


def _apply(
    conn: Connection, host: Host, rem: Remediation, plan: Plan, step: StepResult, journal: Journal | None, log: Any
) -> None:
    for change in plan.changes:
        entry = change.to_dict()
        try:
            result = conn.run(change.operation)
        except RemediateError as exc:
            if journal:
                journal.write("change", host=host.name, remediation=rem.slug, ok=False, error=str(exc), **entry)
            raise
        entry["result"] = result.data
        step.applied.append(entry)
        if journal:
            journal.write("change", host=host.name, remediation=rem.slug, ok=True, **entry)
        log.info("change_applied", summary=change.summary)


def _verify(conn: Connection, rem: Remediation, options: RunOptions) -> tuple[Any, Any]:
    attempts = max(1, rem.verify_attempts)
    state = verdict = None
    for attempt in range(attempts):
        state = rem.check(conn)
        verdict = rem.verdict(state)
        if verdict.compliant or verdict.final or attempt == attempts - 1:
            break
        options.sleep(rem.verify_delay)
    return state, verdict


def _host_status(steps: list[StepResult], stop_when_healthy: bool) -> tuple[str, str]:
    if not steps:
        return OK, "nothing to do"
    for s in steps:
        if s.status == UNREACHABLE:
            return UNREACHABLE, s.reason
    if stop_when_healthy:
        last = steps[-1]
        if last.status in (OK, CHANGED):
            return last.status, f"{last.remediation}: {last.reason}"
    for s in steps:
        if s.status == FAILED:
            return FAILED, f"{s.remediation}: {s.reason}"
    changed = [s for s in steps if s.status == CHANGED]
    if changed:
        return CHANGED, "; ".join(f"{s.remediation}: {s.reason}" for s in changed)
    if all(s.status == SKIPPED for s in steps):
        return SKIPPED, "; ".join(f"{s.remediation}: {s.reason}" for s in steps)
    skipped = [s for s in steps if s.status == SKIPPED]
    if skipped:
        return SKIPPED, "; ".join(f"{s.remediation}: {s.reason}" for s in skipped)
    return OK, "compliant: nothing to change"


def undo(
    run_id: str,
    hosts: Sequence[Host] | None = None,
    options: RunOptions | None = None,
    only_host: str | None = None,
) -> RunReport:
    """Restore what a run changed, newest change first, where that is possible.

    Changes with an ``undo`` operation are reverted by running it; those without are reported with their
    ``undo_note`` (a service restart, a reinstall cannot be undone). ``hosts`` default to the hosts recorded
    in the journal.
    """
    from inventory.host import Host as HostType
    from remediate import journal as journal_mod
    from remediate.operation import Operation

    options = options or RunOptions()
    _quiet_by_default()
    entries = journal_mod.read(run_id, options.journal_dir)
    header = next((e for e in entries if e["event"] == "run"), {})
    by_name = {h.name: h for h in (hosts or [])}
    for h in header.get("hosts", []):
        if h["name"] not in by_name:
            by_name[h["name"]] = HostType(
                h["name"], h.get("address"), h.get("port"), h.get("os"), h.get("connection"), h.get("user"),
                list(h.get("groups", [])), {k: v for k, v in h.get("vars", {}).items() if v != "********"},
            )  # fmt: skip
    changes = [e for e in entries if e["event"] == "change" and e.get("ok")]
    names = sorted({e["host"] for e in changes if only_host in (None, e["host"])})
    new_id = f"undo-{run_id}-" + uuid.uuid4().hex[:6]
    journal = None if options.dry_run else Journal(options.journal_dir, new_id)
    if journal:
        journal.write("run", undo_of=run_id, hosts=[by_name[n].to_dict() for n in names if n in by_name])
    started = time.time()

    def work(name: str) -> HostResult:
        t0 = time.monotonic()
        result = HostResult(name, OK)
        step = StepResult("undo", OK)
        result.steps.append(step)
        host = by_name.get(name)
        if host is None:
            result.status, result.reason = SKIPPED, "host not in the journal nor in the inventory"
            return result
        deadline = time.monotonic() + options.host_timeout if options.host_timeout else None
        conn = None
        try:
            conn = connect(host, _connect_options(options, deadline))
            for e in reversed([c for c in changes if c["host"] == name]):
                if not e.get("undo"):
                    step.notes.append(f"cannot undo: {e['summary']}: {e.get('undo_note') or 'no undo recorded'}")
                    continue
                u = e["undo"]
                op = Operation(u["script"], u.get("args") or {}, mutating=True)
                if options.dry_run:
                    step.planned.append({"summary": "undo: " + e["summary"], "command": op.describe()})
                    continue
                conn.run(op)
                entry = {"summary": "undo: " + e["summary"], "operation": op.to_dict(), "before": e.get("after"),
                         "after": e.get("before")}  # fmt: skip
                step.applied.append(entry)
                if journal:
                    journal.write("change", host=name, remediation=e["remediation"], ok=True, **entry)
            if step.applied:
                step.status, step.reason = CHANGED, f"{len(step.applied)} change(s) undone"
            elif step.planned:
                step.status, step.reason = CHANGED, f"dry-run: {len(step.planned)} undo operation(s) pending"
            else:
                step.reason = "nothing that can be undone"
        except ConnectionFailure as exc:
            step.status, step.reason, step.error = UNREACHABLE, str(exc), exc.to_dict()
        except RemediateError as exc:
            step.status, step.reason, step.error = FAILED, str(exc), exc.to_dict()
        finally:
            if conn is not None:
                conn.close()
        result.status, result.reason = step.status, step.reason
        if step.notes and result.status == OK:
            result.reason = "; ".join(step.notes)
        result.duration = time.monotonic() - t0
        return result

    with ThreadPoolExecutor(max_workers=max(1, min(options.forks, len(names) or 1))) as pool:
        results = list(pool.map(work, names))
    return RunReport(
        new_id, options.dry_run, ["undo"], results, started, time.time(), str(journal.path) if journal else None
    )


__all__ = [
    "CHANGED",
    "FAILED",
    "OK",
    "SKIPPED",
    "STATUSES",
    "UNREACHABLE",
    "HostResult",
    "Risk",
    "RunOptions",
    "RunReport",
    "StepResult",
    "resolve",
    "run",
    "undo",
]
