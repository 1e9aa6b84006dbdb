"""selinux-waagent: SELinux enforcing keeps the backup extension from running out of /var/lib/waagent.

Answers UserErrorVmNotInDesirableState on Linux VMs where SELinux is enforcing.

Check: ``getenforce``; when ``Enforcing``, whether a local file-context rule labels ``/var/lib/waagent(/.*)?``
as ``bin_t`` (``semanage fcontext -l -C``) and whether the files carry that label (``restorecon -n -R -v``
relabels nothing). Permissive, Disabled or no SELinux at all is compliant.

Change (of the two documented ways, this one: the directory is labelled, SELinux stays enforcing for everything
else; the other, ``semanage permissive -a waagent_t``, would leave the agent's whole domain unconfined):
``semanage fcontext -a -t bin_t '/var/lib/waagent(/.*)?'`` then ``restorecon -R -v /var/lib/waagent``.

Undo: ``semanage fcontext -d`` of the rule and ``restorecon`` again (when the rule was ours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from remediate.contract import Change, Finding, Plan, Remediation, Risk, Verdict
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

AGENT_DIR = "/var/lib/waagent"
PATTERN = "/var/lib/waagent(/.*)?"
LABEL_TYPE = "bin_t"


def rule_type(line: str) -> str | None:
    """The type of a ``semanage fcontext -l`` line: ``system_u:object_r:bin_t:s0`` -> ``bin_t``."""
    for word in reversed(line.split()):
        parts = word.split(":")
        if len(parts) >= 3:
            return parts[2]
    return None


@dataclass
class SelinuxState:
    mode: str  # Enforcing, Permissive, Disabled, absent
    rules: list[str] = field(default_factory=list)
    relabel: list[str] = field(default_factory=list)

    @property
    def rule_ok(self) -> bool:
        return any(rule_type(r) == LABEL_TYPE for r in self.rules)

    @property
    def allowed(self) -> bool:
        return self.mode != "Enforcing" or (self.rule_ok and not self.relabel)


class SelinuxWaagent(Remediation[SelinuxState]):
    """Labels /var/lib/waagent so that the backup extension runs under SELinux enforcing."""

    slug = "selinux-waagent"
    title = "Let the backup extension run from /var/lib/waagent under SELinux"
    os = "linux"
    risk = Risk.DISRUPTIVE
    answers = ("UserErrorVmNotInDesirableState",)
    example = "remediate --host vm1 selinux-waagent --yes"
    order = 320

    def check(self, conn: Connection) -> SelinuxState:
        data = conn.run(read("selinux_waagent/status.sh", path=AGENT_DIR, pattern=PATTERN)).data or {}
        return SelinuxState((data.get("mode") or ["absent"])[0], data.get("rule", []), data.get("relabel", []))

    def plan(self, state: SelinuxState) -> Plan:
        if state.allowed:
            return Plan()
        undo = mutate("selinux_waagent/remove_exclusion.sh", pattern=PATTERN, path=AGENT_DIR)
        return Plan(
            [
                Change(
                    f"label {PATTERN} as {LABEL_TYPE} (semanage fcontext) and relabel {AGENT_DIR} (restorecon)",
                    mutate("selinux_waagent/exclude.sh", pattern=PATTERN, type=LABEL_TYPE, path=AGENT_DIR),
                    before={"mode": state.mode, "rules": state.rules, "relabel": state.relabel},
                    after={"rule": f"{PATTERN} {LABEL_TYPE}"},
                    undo=None if state.rules else undo,
                    undo_note=(
                        "the rule existed before (with another type): restorecon cannot be undone"
                        if state.rules
                        else None
                    ),
                )
            ]
        )

    def verdict(self, state: SelinuxState) -> Verdict:
        if state.allowed:
            return Verdict(True)
        reasons = []
        if not state.rule_ok:
            reasons.append(f"no local rule labels {PATTERN} as {LABEL_TYPE}")
        reasons.extend(state.relabel)
        return Verdict(False, reasons)

    def findings(self, state: SelinuxState) -> list[Finding]:
        found = [Finding("SELinux", state.mode, True)]
        if state.mode == "Enforcing":
            found.append(
                Finding(
                    AGENT_DIR,
                    "labelled" if state.allowed else "not labelled",
                    state.allowed,
                    detail="; ".join(state.rules + state.relabel),
                )
            )
        return found
