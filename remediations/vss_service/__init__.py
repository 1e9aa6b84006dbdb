"""vss-service: the Volume Shadow Copy service in a bad state.

Answers ExtensionFailedVssServiceInBadState.

Check: service ``VSS`` (exists, status, start type) and whether ``vssadmin list writers`` lists writers (the
same read as ``vss-writers``). VSS is a Manual service that runs on demand, so Stopped is healthy; a VSS that is
Disabled, stuck in a pending state, or that lists no writer is not.

Change: a Disabled VSS is set back to Manual (its default; undone by setting Disabled again), then VSS is
restarted (a restart cannot be undone; it interrupts a backup that is running at that moment).

Verify: VSS running and writers listed.

Example::

    remediate --host vm1 vss-service --dry-run
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from remediate.remediations.common.windows import ServiceState
from remediate.remediations.vss_writers import VssWritersState, read_writers

from remediate.contract import Finding, Plan, Remediation, Risk, Verdict

if TYPE_CHECKING:
    from remediate.connection import Connection

SERVICE = "VSS"
SETTLED = ("Running", "Stopped")


@dataclass
class VssServiceState:
    service: ServiceState
    writers: VssWritersState


class VssService(Remediation[VssServiceState]):
    """Restart the VSS service (and set it back to Manual when Disabled) when it lists no writers."""

    slug = "vss-service"
    title = "VSS service in a bad state"
    os = "windows"
    risk = Risk.DISRUPTIVE
    answers = ("ExtensionFailedVssServiceInBadState",)
    example = "remediate --host vm1 vss-service --dry-run"
    order = 11
    verify_attempts = 3
    verify_delay = 5.0

    def check(self, conn: Connection) -> VssServiceState:
        writers = read_writers(conn, [SERVICE])
        return VssServiceState(writers.service(SERVICE), writers)

    def findings(self, state: VssServiceState) -> list[Finding]:
        svc = state.service
        listed = state.writers.listed
        return [
            Finding(
                "service VSS",
                f"{svc.status}, {svc.start_type}" if svc.exists else "not installed",
                svc.exists and not svc.disabled and svc.status in SETTLED,
            ),
            Finding(
                "vssadmin list writers",
                f"{len(state.writers.writers)} writer(s)" if listed else f"exit code {state.writers.exit_code}",
                listed,
                "" if listed else state.writers.text.strip()[-500:],
            ),
        ]

    def plan(self, state: VssServiceState) -> Plan:
        svc = state.service
        if not svc.exists:
            return Plan(notes=["the VSS service is not installed: Windows itself needs repair (sfc /scannow)"])
        changes = []
        if svc.disabled:
            changes.append(
                svc.configure("set the VSS service back to its default start type Manual", start_type="Manual")
            )
        if svc.disabled or svc.status not in SETTLED or not state.writers.listed:
            why = []
            if svc.status not in SETTLED:
                why.append(f"it is {svc.status}")
            if not state.writers.listed:
                said = [line.strip() for line in state.writers.text.splitlines() if line.strip()]
                why.append(f"vssadmin lists no writer ({' '.join(said[-2:]) or 'no output'})")
            summary = "restart the VSS service" + (": " + "; ".join(why) if why else "")
            changes.append(svc.restart(summary))
        return Plan(changes)

    def verdict(self, state: VssServiceState) -> Verdict:
        reasons = []
        svc = state.service
        if not svc.exists:
            return Verdict(False, ["the VSS service is not installed"], final=True)
        if svc.disabled:
            reasons.append("VSS is Disabled")
        if svc.status not in SETTLED:
            reasons.append(f"VSS is {svc.status}")
        if not state.writers.listed:
            reasons.append(
                f"vssadmin list writers failed (exit code {state.writers.exit_code}): "
                + (state.writers.text.strip()[-300:] or "no output")
            )
        return Verdict(not reasons, reasons)
