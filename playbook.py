"""The runner: remediations on hosts, in parallel, each host ending in exactly one status with a reason.

This is the documented Python API that the CLI and the Azure Automation runbooks both call::

    from remediate import playbook
    from remediate.inventory import load_inventory

    hosts = load_inventory("inventory/lab.yml").select("windows")
    report = playbook.run(hosts, ["vss-writers"], playbook.RunOptions(dry_run=True))
    for result in report.hosts:
        print(result.host, result.status, result.reason)

For each host and each remediation: check (read-only) -> plan -> apply (each change journaled with its
before and after) -> verify (check again, with bounded waiting) -> escalate to the next documented step if
still broken. A compliant host gives an empty plan and runs nothing mutating. The runner knows no
remediation's internals and no transport's internals: it only speaks the contract of
:mod:`remediate.contract` and :class:`remediate.connection.Connection`.

Statuses: ``ok`` (compliant, nothing to do), ``changed`` (changes applied and verified), ``pending`` (dry-run:
changes planned, nothing applied), ``failed`` (a step failed or verification did not pass), ``unreachable`` (the
host could not be reached or would not let us in), ``skipped`` (no remediation is for this host's OS, or a
change needs ``--yes``). A step that is not for the host's OS is recorded (``applicable: false``) but does not
decide the host's status: that comes from the steps that apply.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.connection import ConnectOptions, connect, preload
from remediate.contract import Change, Plan, Remediation, Risk
from remediate.errors import (
    ConfigError,
    ConnectionFailure,
    DryRunRefused,
    HostTimeout,
    OutcomeUnknown,
    RemediateError,
    RemoteScriptError,
)
from remediate.journal import Journal
from remediate.log import _clean, configure, get_logger, is_configured, scrub
from remediate.retry import RetryPolicy

if TYPE_CHECKING:
    from remediate.inventory.host import Host

    from remediate.connection import Connection
    from remediate.operation import Operation, Result

OK, CHANGED, PENDING, FAILED, UNREACHABLE, SKIPPED = "ok", "changed", "pending", "failed", "unreachable", "skipped"
STATUSES = (OK, CHANGED, PENDING, FAILED, UNREACHABLE, SKIPPED)
# A change whose answer was lost (OutcomeUnknown) is never re-sent blindly: the state is checked again and a
# new plan made from it, at most this many times per step; the next unknown outcome fails the step.
OUTCOME_REPLANS = 1


class RunControl:
    """Stops a run from another thread or a signal handler (the CLI's Ctrl-C).

    :meth:`stop` lets the hosts in flight finish and starts no new one; :meth:`abandon` returns at once,
    leaving the hosts in flight behind (their journal intents tell ``undo`` and ``--resume`` what may have
    happened). ``in_flight`` is the number of hosts running now.
    """

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.abandoned = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def stop(self) -> None:
        self.stopping.set()

    def abandon(self) -> None:
        self.stopping.set()
        self.abandoned.set()

    def _started(self) -> bool:
        with self._lock:
            if self.stopping.is_set():
                return False
            self._in_flight += 1
            return True

    def _ended(self) -> None:
        with self._lock:
            self._in_flight -= 1


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
    control: RunControl | None = None  # stop or abandon the run from elsewhere (Ctrl-C)
    warn: Callable[[str], None] | None = None  # told about damaged journal or results lines, besides the report


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
    applicable: bool = True  # False: the remediation is not for this host's OS (recorded, not counted)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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
        return sum(len(s.planned) for s in self.steps if s.status == PENDING)

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HostResult:
        """A result read back from a results file (``changes`` and ``pending`` are recomputed)."""
        steps = [StepResult.from_dict(s) for s in data.get("steps") or [] if isinstance(s, Mapping)]
        return cls(
            str(data["host"]),
            str(data.get("status") or FAILED),
            str(data.get("reason") or ""),
            steps,
            list(data.get("operations") or []),
            float(data.get("duration") or 0.0),
        )


@dataclass
class RunReport:
    run_id: str
    dry_run: bool
    remediations: list[str]
    hosts: list[HostResult]
    started: float
    finished: float
    journal: str | None = None
    interrupted: bool = False  # stopped by Ctrl-C (RunControl): ``not_run`` hosts have no result
    not_run: list[str] = field(default_factory=list)  # not started, or abandoned while in flight
    warnings: list[str] = field(default_factory=list)  # damaged journal or results lines that were skipped

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
            "interrupted": self.interrupted,
            "not_run": self.not_run,
            "warnings": self.warnings,
            "hosts": [h.to_dict() for h in self.hosts],
        }


def resolve(remediations: Iterable[str | type[Remediation]]) -> list[type[Remediation]]:
    """Remediation classes from slugs or classes; an unknown slug is a ConfigError listing the known ones."""
    from remediate import remediations as registry

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


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def run(
    hosts: Sequence[Host],
    remediations: Iterable[str | type[Remediation]],
    options: RunOptions | None = None,
) -> RunReport:
    """Run the remediations on every host; one host failing never stops the others."""
    from remediate.journal import check_run_id

    options = options or RunOptions()
    _check_options(options)
    _quiet_by_default()
    classes = resolve(remediations)
    validate_params(classes, options.params)
    run_id = check_run_id(options.run_id) if options.run_id else new_run_id()
    journal = None if options.dry_run else Journal(options.journal_dir, run_id)
    if journal:
        journal.write(
            "run",
            remediations=[c.slug for c in classes],
            hosts=[h.to_dict() for h in hosts],
            params=options.params,
            options=_options_record(options),
        )
    return _run_hosts(hosts, classes, options, journal, run_id)


def resume(run_id: str, hosts: Sequence[Host] | None = None, options: RunOptions | None = None) -> RunReport:
    """Continue a run that was killed or interrupted: the same remediations, parameters and options (from the
    journal's run header) on the hosts of that run that have no final result, appending to the same journal.

    A change whose intent was journaled but whose outcome was not is settled first by reading the host: the
    remediation's check says whether it was applied, and it is never sent again blindly. ``hosts`` (e.g. from
    the inventory) replace the journal's connection settings of hosts with the same name. Of ``options`` only
    ``journal_dir``, ``connect.password_env`` and the callbacks (``on_host_done``, ``sleep``, ``control``,
    ``warn``) are used; everything else comes from the journal.
    """
    from remediate import journal as journal_mod

    given = options or RunOptions()
    _quiet_by_default()
    warnings: list[str] = []
    warn = _warner(warnings, given)
    entries = journal_mod.read(run_id, given.journal_dir, warn)
    header = next((e for e in entries if e.get("event") == "run"), None)
    slugs = header.get("remediations") if header else None
    if not slugs or not isinstance(slugs, list) or not all(isinstance(x, str) for x in slugs) or header.get("undo_of"):
        raise ConfigError(
            f"run {run_id} cannot be resumed: its journal has no run header with remediations",
            hint="resume the id printed at the end of a run (not of an undo, and not a dry-run: it has no journal)",
        )
    classes = resolve(slugs)
    params = header.get("params") if isinstance(header.get("params"), dict) else {}
    record = header.get("options") if isinstance(header.get("options"), dict) else {}
    options = _options_from_record(record, params, given)
    validate_params(classes, options.params)
    by_name = _journal_hosts(header, hosts)
    recorded = header.get("hosts") if isinstance(header.get("hosts"), list) else []
    order = [h["name"] for h in recorded if isinstance(h, dict) and isinstance(h.get("name"), str)]
    earlier: dict[str, HostResult] = {}
    for data in journal_mod.read_results(run_id, given.journal_dir, warn):
        try:
            earlier.setdefault(data["host"], HostResult.from_dict(data))
        except (KeyError, TypeError, ValueError):
            warn(f"a result of run {run_id} could not be read back; its host runs again")
    todo = [by_name[n] for n in order if n not in earlier and n in by_name]
    dangling: dict[str, list[dict[str, Any]]] = {}
    for record in journal_mod.changes(entries):
        if record["state"] == "unknown" and record.get("event") == "intent" and "ok" not in record:
            dangling.setdefault(str(record.get("host")), []).append(record)
    journal = Journal(given.journal_dir, run_id)
    journal.write("resume", hosts=[h.name for h in todo], done=len(earlier))
    return _run_hosts(
        todo, classes, options, journal, run_id, earlier=earlier, order=order, dangling=dangling, warnings=warnings
    )


def _warner(warnings: list[str], options: RunOptions) -> Callable[[str], None]:
    log = get_logger("remediate.run")

    def warn(text: str) -> None:
        warnings.append(text)
        if options.warn:
            options.warn(text)
        else:
            log.warning("damaged_line_skipped", detail=text)

    return warn


def _options_record(options: RunOptions) -> dict[str, Any]:
    """The options a run was started with, as the journal keeps them for ``--resume`` (references, no secret)."""

    def plain(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            f.name: getattr(obj, f.name)
            for f in dataclasses.fields(obj)
            if f.name not in skip and isinstance(getattr(obj, f.name), (str, int, float, bool, type(None)))
        }

    return {
        "assume_yes": options.assume_yes,
        "forks": options.forks,
        "host_timeout": options.host_timeout,
        "stop_when_healthy": options.stop_when_healthy,
        "retry": plain(options.retry),
        "connect": plain(options.connect, skip=("dry_run", "deadline")),
    }


def _options_from_record(record: Mapping[str, Any], params: Mapping[str, Any], given: RunOptions) -> RunOptions:
    def known(cls: Any, values: Any) -> dict[str, Any]:
        names = {f.name for f in dataclasses.fields(cls)}
        return {k: v for k, v in (values or {}).items() if k in names} if isinstance(values, Mapping) else {}

    # a journal from before options were recorded: the options given now stand in
    connect = dataclasses.replace(given.connect, **known(ConnectOptions, record.get("connect")))
    if given.connect.password_env:
        connect.password_env = given.connect.password_env
    timeout = record.get("host_timeout", given.host_timeout)
    forks = record.get("forks")
    return dataclasses.replace(
        given,
        dry_run=False,
        assume_yes=bool(record.get("assume_yes", given.assume_yes)),
        forks=forks if isinstance(forks, int) and forks > 0 else given.forks,
        host_timeout=float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else None,
        stop_when_healthy=bool(record.get("stop_when_healthy", given.stop_when_healthy)),
        retry=dataclasses.replace(given.retry, **known(RetryPolicy, record.get("retry"))),
        params=dict(params),
        connect=connect,
    )


def _journal_hosts(header: Mapping[str, Any], hosts: Sequence[Host] | None) -> dict[str, Host]:
    """The hosts of a journal's run header (secrets were masked there and are left out), ``hosts`` first."""
    from remediate.inventory.host import Host as HostType

    by_name = {h.name: h for h in (hosts or [])}
    recorded = header.get("hosts")
    for h in recorded if isinstance(recorded, list) else []:
        if isinstance(h, dict) and isinstance(h.get("name"), str) and h["name"] not in by_name:
            groups = h.get("groups") if isinstance(h.get("groups"), list) else []
            host_vars = h.get("vars") if isinstance(h.get("vars"), dict) else {}
            by_name[h["name"]] = HostType(
                h["name"], h.get("address"), h.get("port"), h.get("os"), h.get("connection"), h.get("user"),
                list(groups), {k: v for k, v in host_vars.items() if v != "********"},
            )  # fmt: skip
    return by_name


def _run_hosts(
    hosts: Sequence[Host],
    classes: Sequence[type[Remediation]],
    options: RunOptions,
    journal: Journal | None,
    run_id: str,
    *,
    earlier: Mapping[str, HostResult] | None = None,
    order: Sequence[str] | None = None,
    dangling: Mapping[str, list[dict[str, Any]]] | None = None,
    warnings: list[str] | None = None,
) -> RunReport:
    """Every host in worker threads; each result journaled as the host ends. Stops on ``options.control``."""
    started = time.time()
    log = get_logger("remediate.run").bind(run_id=run_id)
    log.info("run_start", hosts=len(hosts), remediations=[c.slug for c in classes], dry_run=options.dry_run)
    control = options.control or RunControl()
    results: list[HostResult | None] = [None] * len(hosts)
    lock = threading.Lock()
    pending = iter(range(len(hosts)))

    def one(index: int) -> HostResult:
        host = hosts[index]
        try:
            return _run_host(host, classes, options, journal, run_id, (dangling or {}).get(host.name, []))
        except Exception as exc:  # a bug must fail this host, never the run
            log.exception("internal_error", host=host.name)
            reason = scrub(f"internal error: {type(exc).__name__}: {exc}")
            return HostResult(host.name, FAILED, reason)

    def worker() -> None:
        while True:
            with lock:
                index = next(pending, None)
            if index is None or not control._started():
                return
            try:
                result = one(index)
                if journal:
                    try:
                        journal.write_result(result.to_dict())
                    except OSError as exc:  # the result stays in the report; --resume would run the host again
                        log.error("result_not_written", host=result.host, error=str(exc))
                with lock:
                    results[index] = result
            finally:
                control._ended()
            if options.on_host_done:
                options.on_host_done(result)

    forks = max(1, min(options.forks, len(hosts) or 1))
    preload(hosts)  # the transports' imports, once, before the workers start
    # daemon threads: a second Ctrl-C returns at once and leaves the hosts in flight behind
    threads = [threading.Thread(target=worker, name=f"remediate-{i}", daemon=True) for i in range(forks)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive() and not control.abandoned.is_set():
            t.join(0.2)
    with lock:
        finished = list(results)
    not_run = [hosts[i].name for i, r in enumerate(finished) if r is None]
    ended = [r for r in finished if r is not None]
    if earlier:  # a resumed run reports every host of the run, in the run's order
        by_name = {**earlier, **{r.host: r for r in ended}}
        listed = set(order or [])
        ended = [by_name[n] for n in (order or []) if n in by_name] + [r for n, r in by_name.items() if n not in listed]
    report = RunReport(
        run_id=run_id,
        dry_run=options.dry_run,
        remediations=[c.slug for c in classes],
        hosts=ended,
        started=started,
        finished=time.time(),
        journal=str(journal.path) if journal else None,
        interrupted=control.stopping.is_set(),
        not_run=not_run,
        warnings=list(warnings or []),
    )
    if journal:
        journal.write(
            "end",
            status="interrupted" if report.interrupted else "complete",
            counts=report.counts(),
            not_run=not_run,
            abandoned=control.in_flight if control.abandoned.is_set() else 0,
        )
        journal.write_report(json.dumps(_clean(report.to_dict()), indent=2, ensure_ascii=False, default=str) + "\n")
    log.info("run_end", interrupted=report.interrupted, **report.counts())
    return report


def _check_options(options: RunOptions) -> None:
    """Values that would silently mean something else (0 forks, a host timeout of 0 or below) are refused."""
    if not isinstance(options.forks, int) or options.forks < 1:
        raise ConfigError(f"forks must be 1 or more, not {options.forks!r}", step="options")
    if options.host_timeout is not None and not options.host_timeout > 0:
        raise ConfigError(
            f"host_timeout must be more than 0 seconds, not {options.host_timeout!r}",
            step="options",
            hint="None means no time limit",
        )


def _quiet_by_default() -> None:
    """Used as a library with structlog unconfigured, print warnings and errors only (not every event)."""
    if not is_configured():
        configure(level="warning")


def _run_host(
    host: Host,
    classes: Sequence[type[Remediation]],
    options: RunOptions,
    journal: Journal | None,
    run_id: str,
    dangling: Sequence[dict[str, Any]] = (),
) -> HostResult:
    started = time.monotonic()
    log = get_logger("remediate.run").bind(run_id=run_id, host=host.name)
    result = HostResult(host.name, OK)
    applicable = [c for c in classes if c.os == "any" or host.os is None or c.os == host.os]
    if not applicable:
        oses = ", ".join(sorted({c.os for c in classes}))
        result.status, result.reason = SKIPPED, f"the remediations are for {oses}; this host is {host.os}"
        result.steps = [StepResult(c.slug, SKIPPED, result.reason, applicable=False) for c in classes]
        return result
    deadline = time.monotonic() + options.host_timeout if options.host_timeout else None
    copts = _connect_options(options, deadline)
    conn: Connection | None = None
    try:
        conn = connect(host, copts, log)
        if dangling:
            settled = _settle_intents(conn, host, dangling, options, journal, log)
            result.steps.append(settled)
            if settled.status in (FAILED, UNREACHABLE):
                return result
        for cls in classes:
            if cls not in applicable:
                reason = f"{cls.slug} is for {cls.os}; host is {host.os}"
                result.steps.append(StepResult(cls.slug, SKIPPED, reason, applicable=False))
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


def _settle_intents(
    conn: Connection,
    host: Host,
    dangling: Sequence[dict[str, Any]],
    options: RunOptions,
    journal: Journal | None,
    log: Any,
) -> StepResult:
    """Changes journaled as intended but never as done (the run was killed): read the host to tell whether each
    was applied, and journal that outcome. Nothing is sent again here; the run's own check plans what is left."""
    step = StepResult("(resume)", OK)
    try:
        for intent in dangling:
            applied = _was_applied(conn, host, intent, options)
            fields = {k: v for k, v in intent.items() if k not in ("event", "run_id", "ts", "state")}
            if applied:
                fields.update(ok=True, settled="read from the host on resume: applied")
            else:
                fields.update(ok=False, settled="read from the host on resume: not applied", error="not applied")
            if journal:
                journal.write("change", **fields)
            if applied:
                step.applied.append({k: intent.get(k) for k in ("summary", "operation", "before", "after", "undo")})
            else:
                step.notes.append(f"not applied before the run was cut (read from the host): {intent.get('summary')}")
            log.info("intent_settled", summary=intent.get("summary"), applied=applied)
        if step.applied:
            step.status = CHANGED
            step.reason = f"{len(step.applied)} change(s) applied before the run was cut (read from the host)"
        else:
            step.reason = "nothing applied before the run was cut (read from the host)"
    except ConnectionFailure as exc:
        step.status, step.reason, step.error = UNREACHABLE, str(exc), exc.to_dict()
    except RemediateError as exc:
        step.status, step.error = FAILED, exc.to_dict()
        step.reason = f"could not read the host to settle what the cut run may have changed: {exc}"
    return step


def _op_key(op: Any) -> str:
    """An operation as the journal keeps it (secrets masked, JSON types), for comparing."""
    return json.dumps(_clean(op), sort_keys=True, ensure_ascii=False, default=str)


def _was_applied(conn: Connection, host: Host, record: Mapping[str, Any], options: RunOptions) -> bool:
    """Read the host: a change is taken as not applied when the remediation still plans exactly that operation."""
    from remediate import remediations as registry

    cls = registry.get(str(record.get("remediation")))
    rem = cls(_params_for(cls, host, options))
    plan = rem.plan(rem.check(conn))
    wanted = _op_key(record.get("operation"))
    return not any(_op_key(c.operation.to_dict()) == wanted for c in plan.changes)


def _connect_options(options: RunOptions, deadline: float | None) -> ConnectOptions:
    from dataclasses import replace

    return replace(options.connect, dry_run=options.dry_run, retry=options.retry, deadline=deadline)


def _params_for(cls: type[Remediation], host: Host, options: RunOptions) -> dict[str, Any]:
    """Inventory vars named like a parameter, overridden by run-wide --param values."""
    names = {p.name for p in cls.params}
    values = {k: v for k, v in host.vars.items() if k in names}
    values.update({k: v for k, v in options.params.items() if k in names})
    return values


def _seconds(value: float | None) -> str:
    return f"{value:g} s" if value is not None else "?"


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
    where = {"phase": f"{cls.slug} check"}
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
            step.status, step.reason = OK, rem.compliant_reason(state)
            return step
        if options.dry_run:
            step.status, step.reason = PENDING, f"dry-run: {len(plan)} change(s) pending"
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
                _apply(conn, host, rem, plan, step, journal, log, where)
            except OutcomeUnknown as exc:
                # At most once: the change may have run. Never send it again blindly; read the state, plan again.
                unknown += 1
                log.warning("outcome_unknown", operation=exc.step, time=unknown)
                if unknown > OUTCOME_REPLANS:
                    step.notes.append(f"{exc.step}: the answer was lost again ({exc.cause}); not sent again")
                    raise
                step.notes.append(f"{exc.step}: the answer was lost ({exc.cause}); the state was read again")
                applied_plans.append(plan)
                # the change being sent: the first one not applied that runs the operation that lost its answer
                lost = next(
                    (c for c in plan.changes[len(step.applied) - done_before :] if c.operation.script == exc.step), None
                )
                where["phase"] = f"{rem.slug} check after a lost answer"
                plan = _plan_after_unknown_outcome(conn, host, rem, lost, exc, step, journal)
                step.notes.extend(n for n in plan.notes if n not in step.notes)
                if not plan.empty:
                    log.info("replan_after_unknown_outcome", changes=len(plan))
                    continue
            else:
                applied_plans.append(plan)
            state, verdict = _verify(conn, rem, options, where)
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
        if _out_of_time(conn):
            step.reason += f" (the host's time limit of {_seconds(options.host_timeout)} ran out)"
    except RemediateError as exc:
        step.status, step.reason, step.error = FAILED, str(exc), exc.to_dict()
        if isinstance(exc, HostTimeout) or _out_of_time(conn):
            # the host's own limit, not the operation's: say so, with what the remote side said (if anything)
            limit = f"the host's time limit of {_seconds(options.host_timeout)}"
            timeout = HostTimeout(
                f"{limit} {where['short']}" if where.get("short") else f"{limit} ran out during {where['phase']}",
                host=host.name,
                remote=None if isinstance(exc, HostTimeout) else exc.message,
            )
            step.reason, step.error = f"{timeout.message} -- {timeout.hint}", timeout.to_dict()
    except Exception as exc:  # a bug must fail this host, never the run
        log.exception("internal_error")
        step.status = FAILED
        step.reason = scrub(f"internal error in {cls.slug}: {type(exc).__name__}: {exc}")
        step.error = {"type": type(exc).__name__, "message": scrub(str(exc))}
    finally:
        step.duration = time.monotonic() - started
    return step


def _plan_after_unknown_outcome(
    conn: Connection,
    host: Host,
    rem: Remediation,
    lost: Change | None,
    exc: OutcomeUnknown,
    step: StepResult,
    journal: Journal | None,
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
        if journal:  # settles the intent of that change (same id): applied
            change_id = getattr(exc, "journal_id", None)
            journal.write("change", id=change_id, host=host.name, remediation=rem.slug, ok=True, **entry)
    return plan


def _out_of_time(conn: Connection) -> bool:
    left = conn.remaining()
    return left is not None and left <= 0


def _maybe_applied(exc: Exception) -> bool:
    """Whether a failed mutating operation may still have changed the host (then undo reads the host first)."""
    if isinstance(exc, (DryRunRefused, ConfigError)):
        return False  # refused before anything was sent
    # the script ran to its end and reported failure itself; anything else (a drop, a timeout) leaves it open
    return not (isinstance(exc, RemoteScriptError) and exc.exit_code is not None and exc.exit_code >= 0)


def _apply(
    conn: Connection,
    host: Host,
    rem: Remediation,
    plan: Plan,
    step: StepResult,
    journal: Journal | None,
    log: Any,
    where: dict[str, str],
) -> None:
    """Each change: its intent journaled (and fsync'ed) before it is sent, its outcome after."""
    for change in plan.changes:
        where["phase"] = f"{rem.slug} apply ({change.summary})"
        if _out_of_time(conn):
            raise HostTimeout("the per-host time limit ran out", host=host.name, step=change.operation.script)
        entry = change.to_dict()
        result = _send(conn, change.operation, journal, host.name, rem.slug, entry)
        entry["result"] = result.data
        step.applied.append(entry)
        log.info("change_applied", summary=change.summary)


def _send(
    conn: Connection, op: Operation, journal: Journal | None, host: str, remediation: str | None, entry: dict[str, Any]
) -> Result:
    """Run a mutating operation, journaled ahead: the intent is durable before it is sent, the outcome after."""
    change_id = uuid.uuid4().hex
    if journal:
        journal.write("intent", id=change_id, host=host, remediation=remediation, **entry)
    try:
        result = conn.run(op)
    except RemediateError as exc:
        if journal:
            journal.write("change", id=change_id, host=host, remediation=remediation, ok=False,
                          maybe_applied=_maybe_applied(exc), error=str(exc), **entry)  # fmt: skip
        exc.journal_id = change_id  # type: ignore[attr-defined]  # an OutcomeUnknown is settled by its id later
        raise
    if journal:
        journal.write("change", id=change_id, host=host, remediation=remediation, ok=True, result=result.data, **entry)
    return result


def _verify(conn: Connection, rem: Remediation, options: RunOptions, where: dict[str, str]) -> tuple[Any, Any]:
    """Check again, waiting between reads as the remediation says, never past the host's time limit."""
    attempts = max(1, rem.verify_attempts)
    state = verdict = None
    for attempt in range(attempts):
        where["phase"] = f"{rem.slug} verify"
        state = rem.check(conn)
        verdict = rem.verdict(state)
        if verdict.compliant or verdict.final or attempt == attempts - 1:
            break
        left = conn.remaining()
        if left is not None and left <= rem.verify_delay:  # no wait past the limit: stop now and say why
            where["short"] = (f"leaves {max(0.0, left):.1f} s, less than the {rem.verify_delay:g} s wait before "
                              f"{rem.slug} verifies again")  # fmt: skip
            raise HostTimeout("the per-host time limit runs out before the next check", host=conn.host.name)
        options.sleep(rem.verify_delay)
    return state, verdict


def _host_status(steps: list[StepResult], stop_when_healthy: bool) -> tuple[str, str]:
    """The host's one status: from the steps that apply to its OS (unreachable, failed, changed, pending,
    held back for ``--yes``, ok, in that order); ``skipped`` when no step applies."""
    if not steps:
        return OK, "nothing to do"
    applying = [s for s in steps if s.applicable]
    if not applying:
        return SKIPPED, "; ".join(dict.fromkeys(s.reason for s in steps))
    for s in applying:
        if s.status == UNREACHABLE:
            return UNREACHABLE, s.reason
    if stop_when_healthy:
        last = applying[-1]
        if last.status in (OK, CHANGED):
            return last.status, f"{last.remediation}: {last.reason}"
    for s in applying:
        if s.status == FAILED:
            return FAILED, f"{s.remediation}: {s.reason}"
    for status in (CHANGED, PENDING, SKIPPED):
        chosen = [s for s in applying if s.status == status]
        if chosen:
            return status, "; ".join(f"{s.remediation}: {s.reason}" for s in chosen)
    return OK, "; ".join(dict.fromkeys(s.reason for s in applying)) or "compliant: nothing to change"


def undo(
    run_id: str,
    hosts: Sequence[Host] | None = None,
    options: RunOptions | None = None,
    only_host: str | None = None,
) -> RunReport:
    """Restore what a run changed, newest change first, where that is possible.

    Changes with an ``undo`` operation are reverted by running it; those without are reported with their
    ``undo_note`` (a service restart, a reinstall cannot be undone). A change journaled as intended but with no
    outcome (the run was killed while it was sent), or one whose failure leaves open whether it was applied, is
    "maybe applied": the host is read first (the remediation's check), and it is undone only when the
    remediation no longer plans it. ``hosts`` default to the hosts recorded in the journal. A journal line cut
    short by a kill is reported (``RunReport.warnings``) and skipped; the rest is undone.
    """
    from remediate import journal as journal_mod
    from remediate.operation import Operation

    options = options or RunOptions()
    _quiet_by_default()
    warnings: list[str] = []
    entries = journal_mod.read(run_id, options.journal_dir, _warner(warnings, options))
    header = next((e for e in entries if e.get("event") == "run"), {})
    by_name = _journal_hosts(header, hosts)
    params = header.get("params") if isinstance(header.get("params"), dict) else {}
    check_options = dataclasses.replace(options, params=dict(params))
    changes = [
        c for c in journal_mod.changes(entries)
        if c["state"] in ("applied", "unknown") and isinstance(c.get("host"), str) and c.get("summary")
    ]  # fmt: skip
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
                if e["state"] == "unknown" and not _was_applied(conn, host, e, check_options):
                    step.notes.append(f"not applied, nothing to undo (read from the host): {e['summary']}")
                    continue
                if not e.get("undo"):
                    step.notes.append(f"cannot undo: {e['summary']}: {e.get('undo_note') or 'no undo recorded'}")
                    continue
                u = e["undo"]
                op = Operation(u["script"], u.get("args") or {}, mutating=True)
                if options.dry_run:
                    step.planned.append({"summary": "undo: " + e["summary"], "command": op.describe()})
                    continue
                entry = {"summary": "undo: " + e["summary"], "operation": op.to_dict(), "before": e.get("after"),
                         "after": e.get("before")}  # fmt: skip
                _send(conn, op, journal, name, e.get("remediation"), entry)
                step.applied.append(entry)
            if step.applied:
                step.status, step.reason = CHANGED, f"{len(step.applied)} change(s) undone"
            elif step.planned:
                step.status, step.reason = PENDING, f"dry-run: {len(step.planned)} undo operation(s) pending"
            else:
                step.reason = "nothing that can be undone"
        except ConnectionFailure as exc:
            step.status, step.reason, step.error = UNREACHABLE, str(exc), exc.to_dict()
        except RemediateError as exc:
            step.status, step.reason, step.error = FAILED, str(exc), exc.to_dict()
        except Exception as exc:  # a bug (or a journal entry of an unexpected shape) fails this host only
            step.status, step.error = FAILED, {"type": type(exc).__name__, "message": scrub(str(exc))}
            step.reason = scrub(f"internal error while undoing: {type(exc).__name__}: {exc}")
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
        new_id, options.dry_run, ["undo"], results, started, time.time(), str(journal.path) if journal else None,
        warnings=warnings,
    )  # fmt: skip


__all__ = [
    "CHANGED",
    "FAILED",
    "OK",
    "PENDING",
    "SKIPPED",
    "STATUSES",
    "UNREACHABLE",
    "HostResult",
    "Risk",
    "RunControl",
    "RunOptions",
    "RunReport",
    "StepResult",
    "resolve",
    "resume",
    "run",
    "undo",
]
