"""VSS writers in a bad state: restart the service that hosts each failed writer.

Answers ExtensionFailedVssWriterInBadState and the seed row "VSS ライターの状態が正しくない".

Check: ``vssadmin list writers`` (parsed by structure with :func:`parse_vss_writers`, so a Japanese, German
or French host reads the same) and the state of the services that host writers. A writer is failing when its
state code is neither ``[1]`` stable nor ``[5]`` waiting for completion (normal after a backup).

Change: restart the service of each failing writer, found by writer id (by English name only as a fallback),
once per service, ``VSS`` last. A writer with no known service is reported in the plan, never guessed.
Restarting NTDS, Exchange, SQL or Hyper-V services interrupts workloads: the plan names them.

Verify: every writer stable within ``verify_attempts`` x ``verify_delay``. If not, the documented next step is
``HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys`` ``SnapshotWithoutThreads`` = ``True`` (REG_SZ), applied
only with ``--param snapshot_without_threads=true`` (undone by restoring or removing the value).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.remediations.common.windows import RegistryValue, ServiceState, service_change
from remediate.remediations.vss_writers.parse import VssWriter, decode_output, parse_vss_writers
from remediate.remediations.vss_writers.services import LAST, WORKLOAD_SERVICES, candidate_services, service_for

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk, Verdict, parse_bool
from remediate.operation import read

if TYPE_CHECKING:
    from remediate.connection import Connection

__all__ = ["VssWriter", "VssWriters", "VssWritersState", "parse_vss_writers"]

CHECK = "vss_writers/check.ps1"
BCDR_KEY = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
SNAPSHOT_WITHOUT_THREADS = "SnapshotWithoutThreads"
NEXT_STEP = (
    f"the documented next step is {SNAPSHOT_WITHOUT_THREADS}=True (REG_SZ) in {BCDR_KEY}: "
    "run again with --param snapshot_without_threads=true"
)


@dataclass
class VssWritersState:
    """What the check read: vssadmin's own text and exit code, the writers in it, and their services."""

    text: str
    exit_code: int
    writers: list[VssWriter]
    services: dict[str, ServiceState] = field(default_factory=dict)
    snapshot_without_threads: RegistryValue | None = None

    @property
    def listed(self) -> bool:
        return self.exit_code == 0 and bool(self.writers)

    @property
    def failing(self) -> list[VssWriter]:
        return [w for w in self.writers if not w.healthy]

    def service(self, name: str) -> ServiceState:
        for key, value in self.services.items():
            if key.lower() == name.lower():
                return value
        return ServiceState(name=name, exists=False)


def read_writers(conn: Connection, services: Sequence[str]) -> VssWritersState:
    """Run the check script and parse its text (shared with ``vss-service``)."""
    return writers_from(conn.run(read(CHECK, services=list(services))).data)


def writers_from(data: Any) -> VssWritersState:
    """The check script's result, parsed."""
    data = data or {}
    # vssadmin's bytes, in the host's OEM code page (not what the shell asked for): decoded here.
    oem = data.get("oem_codepage")
    text = decode_output(base64.b64decode(data.get("stdout_base64") or ""), oem)
    said = str(data.get("stderr") or "")  # Invoke-Native decodes stderr on the host (vssadmin writes it rarely)
    if said.strip():
        text = f"{text}\n{said}" if text.strip() else said
    if data.get("error"):  # vssadmin could not be started at all
        text = f"{text}\n{data['error']}" if text.strip() else str(data["error"])
    found = {}
    for item in data.get("services") or []:
        svc = ServiceState.from_data(str(item.get("name")), item)
        found[svc.name] = svc
    return VssWritersState(
        text=text, exit_code=int(data.get("exit_code") or 0), writers=parse_vss_writers(text), services=found
    )


def describe(writer: VssWriter) -> str:
    error = writer.last_error or "?"
    return f"'{writer.name}' {writer.writer_id} [{writer.state}] {writer.state_text}, last error: {error}"


class VssWriters(Remediation[VssWritersState]):
    """Restart the service of each VSS writer that is neither stable nor waiting for completion.

    Answers ExtensionFailedVssWriterInBadState. Writers map to services by writer id (names only as a
    fallback); unknown writers are reported, not guessed; VSS restarts last. If writers stay failed, the
    optional next step sets SnapshotWithoutThreads=True (REG_SZ), with ``--param snapshot_without_threads=true``.
    """

    slug = "vss-writers"
    title = "VSS writers in a failed state"
    os = "windows"
    risk = Risk.DISRUPTIVE
    answers = ("ExtensionFailedVssWriterInBadState", "VSS ライターの状態が正しくない")
    params = (
        Param(
            "snapshot_without_threads",
            "if writers stay failed after the restarts, set SnapshotWithoutThreads=True (REG_SZ) in "
            "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys",
            parse=parse_bool,
            default=False,
            example="true",
        ),
    )
    example = "remediate --host vm1 vss-writers --dry-run"
    order = 10
    verify_attempts = 6
    verify_delay = 10.0

    def check(self, conn: Connection) -> VssWritersState:
        writers, setting = conn.run_many(  # one round trip
            [
                read(CHECK, services=list(candidate_services())),
                RegistryValue.operation(BCDR_KEY, SNAPSHOT_WITHOUT_THREADS),
            ]
        )
        state = writers_from(writers.data)
        state.snapshot_without_threads = RegistryValue.from_data(BCDR_KEY, SNAPSHOT_WITHOUT_THREADS, setting.data)
        return state

    def findings(self, state: VssWritersState) -> list[Finding]:
        if not state.listed:
            return [Finding("vssadmin list writers", f"exit code {state.exit_code}", False, state.text.strip()[-500:])]
        return [
            Finding(f"writer '{w.name}'", f"[{w.state}] {w.state_text}", w.healthy, f"last error: {w.last_error}")
            for w in state.writers
        ]

    def plan(self, state: VssWritersState) -> Plan:
        plan = Plan()
        if not state.listed:
            said = state.text.strip()[-500:] or "no output"
            plan.notes.append(
                f"vssadmin list writers did not list any writer (exit code {state.exit_code}): {said}; "
                "the VSS service itself may be in a bad state: run vss-service"
            )
            return plan
        reasons: dict[str, list[VssWriter]] = {}
        for writer in state.failing:
            match = service_for(writer.writer_id, writer.name)
            if match is None:
                plan.notes.append(f"writer {describe(writer)}: no known service hosts it, so nothing is restarted")
                continue
            svc = state.service(match.service)
            if not svc.exists:
                plan.notes.append(
                    f"writer {describe(writer)}: its service {match.service} is not installed here; not restarted"
                )
                continue
            if svc.disabled:
                plan.notes.append(
                    f"writer {describe(writer)}: its service {svc.name} is Disabled; enable it before a restart"
                )
                continue
            reasons.setdefault(svc.name, []).append(writer)
        order = sorted(reasons, key=lambda name: (name.lower() == LAST.lower(), 0))
        for name in order:
            writers = reasons[name]
            svc = state.service(name)
            names = ", ".join(f"'{w.name}' [{w.state}] {w.last_error}" for w in writers)
            summary = f"restart service {name} for writer {names}"
            workload = WORKLOAD_SERVICES.get(name)
            if workload:
                summary += f" -- this interrupts {workload}"
                plan.notes.append(f"restarting {name} interrupts {workload}")
            change: Change = service_change(name, "restart", summary, before=svc.snapshot())
            change.after = {"status": "Running", "writers": [w.name for w in writers]}
            plan.changes.append(change)
        return plan

    def verdict(self, state: VssWritersState) -> Verdict:
        if not state.listed:
            said = state.text.strip()[-300:] or "no output"
            return Verdict(False, [f"vssadmin list writers failed (exit code {state.exit_code}): {said}"])
        failing = state.failing
        reasons = [f"writer {describe(w)}" for w in failing]
        value = state.snapshot_without_threads
        offer = failing and value is not None and not value.equals("True", "REG_SZ")
        if offer and not self.values.get("snapshot_without_threads"):
            reasons.append(NEXT_STEP)
        return Verdict(not failing, reasons)

    def escalate(self, state: VssWritersState, applied: Sequence[Plan]) -> Plan:
        if not state.failing:
            return Plan()
        value = state.snapshot_without_threads
        if value is None or value.equals("True", "REG_SZ"):
            return Plan()
        if not self.values.get("snapshot_without_threads"):
            return Plan(notes=[NEXT_STEP])
        if any(c.operation.script.endswith("registry_set.ps1") for p in applied for c in p.changes):
            return Plan()
        return Plan(
            [
                value.change_to(
                    "True",
                    "REG_SZ",
                    f"set {BCDR_KEY}\\{SNAPSHOT_WITHOUT_THREADS} to True (REG_SZ): the next backup takes its "
                    "snapshot without the writer threads",
                )
            ]
        )
