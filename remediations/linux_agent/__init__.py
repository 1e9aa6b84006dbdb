"""linux-agent: the Azure Linux agent (WALinuxAgent) stopped, too old, or configured without extensions.

Answers UserErrorGuestAgentStatusUnavailable and GuestAgentSnapshotTaskStatusError on Linux VMs.

Check: the ``walinuxagent`` (Debian, Ubuntu) or ``waagent`` (elsewhere) service is running (``systemctl show``);
``waagent --version`` is at least 2.2.53.1 (the ``Goal state agent`` line when there is one: that is the agent
that runs; else the ``WALinuxAgent-X`` package version); ``/etc/waagent.conf`` has ``Extensions.Enabled=y``
and ``Provisioning.Agent=auto``. The page writes the first key ``Extensions.Enable``; the agent reads
``Extensions.Enabled`` (WALinuxAgent ``conf.get_extensions_enabled``), so that is the line checked and set.
A key missing from the file takes the agent's default (``y``, ``auto``), which is compliant.

Change: set those lines (the first uncommented line of the key is replaced, every other byte of the file is kept;
a copy ``waagent.conf.remediate-<hash>`` is kept beside it), then restart the service; a stopped service is
restarted. An agent below the floor is reported; with ``update_agent=true`` it is updated with the distribution's
package manager only (apt-get, dnf, yum or zypper), never from a download of ours.

Paths: ``waagent_conf`` defaults to ``/etc/waagent.conf``; the lab's inventory gives its lab path.
Undo: the configuration is restored from its copy; a restart or a package update cannot be undone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk, Verdict, parse_bool
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

WAAGENT_CONF = "/etc/waagent.conf"
VERSION_FLOOR = (2, 2, 53, 1)
REQUIRED = {"Extensions.Enabled": "y", "Provisioning.Agent": "auto"}
DEFAULTS = {"Extensions.Enabled": "y", "Provisioning.Agent": "auto"}
UNITS = ("walinuxagent", "waagent")


def parse_version(text: str) -> dict[str, tuple[int, ...] | None]:
    """``{"package": (2, 2, 45), "goal_state": (2, 8, 0, 11)}`` from ``waagent --version`` output."""
    package = re.search(r"WALinuxAgent-(\d+(?:\.\d+)+)", text)
    goal = re.search(r"^\s*Goal state agent:\s*(\d+(?:\.\d+)+)", text, re.MULTILINE)
    return {
        "package": tuple(int(p) for p in package.group(1).split(".")) if package else None,
        "goal_state": tuple(int(p) for p in goal.group(1).split(".")) if goal else None,
    }


def effective_version(text: str) -> tuple[int, ...] | None:
    """The agent version that runs: the goal state agent where there is one, else the package's."""
    parsed = parse_version(text)
    return parsed["goal_state"] or parsed["package"]


def parse_conf(text: str) -> dict[str, str]:
    """``Key=value`` settings of waagent.conf (the first uncommented line of each key)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        values.setdefault(key.strip(), value.strip())
    return values


def _vstr(version: tuple[int, ...] | None) -> str | None:
    return ".".join(map(str, version)) if version else None


@dataclass
class AgentState:
    unit: str | None  # the loaded service unit, None when neither is installed
    active: str | None
    sub: str | None
    version_text: str
    version: tuple[int, ...] | None
    conf_path: str
    conf_text: str | None
    settings: dict[str, str] = field(default_factory=dict)

    def wrong_settings(self) -> dict[str, str]:
        """Keys whose effective value differs from the required one: ``{key: current value}``."""
        wrong = {}
        for key, want in REQUIRED.items():
            have = self.settings.get(key, DEFAULTS[key])
            if have.strip().lower() != want:
                wrong[key] = have
        return wrong


class LinuxAgent(Remediation[AgentState]):
    """Starts the Azure Linux agent and puts its extension settings back."""

    slug = "linux-agent"
    title = "Azure Linux agent running, recent enough, extensions enabled"
    os = "linux"
    risk = Risk.DISRUPTIVE
    answers = ("UserErrorGuestAgentStatusUnavailable", "GuestAgentSnapshotTaskStatusError")
    params = (
        Param("waagent_conf", "path of the agent's configuration file", default=WAAGENT_CONF),
        Param(
            "update_agent",
            "update an agent below 2.2.53.1 with the distribution's package manager",
            parse=parse_bool,
            default=False,
            example="true",
        ),
    )
    example = "remediate --host vm1 linux-agent --yes"
    order = 310
    verify_attempts = 3
    verify_delay = 5.0

    def check(self, conn: Connection) -> AgentState:
        conf = self.values["waagent_conf"]
        data = conn.run(read("linux_agent/status.sh", waagent_conf=conf)).data or {}
        unit = active = sub = None
        for line in data.get("service", []):
            name, load, act, sb = ([*line.split("\t"), "", "", ""])[:4]
            if load == "loaded" and unit is None:
                unit, active, sub = name, act, sb
        text = (data.get("version") or [""])[0]
        conf_text = None
        if (data.get("conf") or ["absent"])[0] == "present":
            conf_text = (data.get("conf_text") or ["x"])[0][:-1]
        return AgentState(
            unit, active, sub, text, effective_version(text), conf, conf_text, parse_conf(conf_text or "")
        )

    def plan(self, state: AgentState) -> Plan:
        plan = Plan()
        if state.unit is None:
            plan.notes.append(
                "the Azure Linux agent is not installed (no walinuxagent or waagent service): install the "
                "distribution's WALinuxAgent package"
            )
            return plan
        restart = state.active != "active"
        wrong = state.wrong_settings()
        if wrong and state.conf_text is None:
            plan.notes.append(f"{state.conf_path} does not exist: the agent runs with its defaults")
        elif wrong:
            digest = hashlib.sha256(state.conf_text.encode("utf-8")).hexdigest()[:12]  # type: ignore[union-attr]
            backup = f"{state.conf_path}.remediate-{digest}"
            settings = [f"{k}={REQUIRED[k]}" for k in wrong]
            plan.changes.append(
                Change(
                    f"set {', '.join(settings)} in {state.conf_path} (a copy is kept as {backup})",
                    mutate("linux_agent/set_conf.sh", conf=state.conf_path, backup=backup, settings=settings),
                    before={"path": state.conf_path, **wrong},
                    after={"path": state.conf_path, **{k: REQUIRED[k] for k in wrong}},
                    undo=mutate("common/file_restore.sh", path=state.conf_path, backup=backup),
                )
            )
            restart = True
        old = state.version is None or state.version < VERSION_FLOOR
        if old and self.values["update_agent"]:
            plan.changes.append(
                Change(
                    f"update the agent ({_vstr(state.version) or 'unknown version'}) with the package manager",
                    mutate("linux_agent/update.sh", unit=state.unit),
                    before={"version": _vstr(state.version)},
                    after={"version": ">= " + _vstr(VERSION_FLOOR)},  # type: ignore[operator]
                    undo_note="a package update cannot be undone here; the package manager's history can",
                )
            )
            restart = False  # update.sh restarts the service
        elif old:
            plan.notes.append(
                f"the agent is {_vstr(state.version) or 'of unknown version'}, below {_vstr(VERSION_FLOOR)}: update "
                "the distribution's WALinuxAgent package (or run again with update_agent=true)"
            )
        if restart:
            plan.changes.append(
                Change(
                    f"restart {state.unit}.service (now {state.active}/{state.sub})",
                    mutate("linux_agent/restart.sh", unit=state.unit),
                    before={"unit": state.unit, "active": state.active},
                    after={"unit": state.unit, "active": "active"},
                    undo_note="a service restart cannot be undone",
                )
            )
        return plan

    def verdict(self, state: AgentState) -> Verdict:
        reasons = []
        if state.unit is None:
            return Verdict(False, ["the Azure Linux agent is not installed"], final=True)
        if state.active != "active":
            reasons.append(f"{state.unit}.service is {state.active}/{state.sub}")
        if state.version is None or state.version < VERSION_FLOOR:
            reasons.append(f"agent version {_vstr(state.version)} is below {_vstr(VERSION_FLOOR)}")
        for key, have in state.wrong_settings().items():
            reasons.append(f"{key}={have} in {state.conf_path}")
        return Verdict(not reasons, reasons)

    def findings(self, state: AgentState) -> list[Finding]:
        if state.unit is None:
            return [Finding("walinuxagent/waagent", "not installed", False)]
        found = [
            Finding(f"{state.unit}.service", f"{state.active}/{state.sub}", state.active == "active"),
            Finding(
                "agent version",
                _vstr(state.version) or "unknown",
                state.version is not None and state.version >= VERSION_FLOOR,
                detail=state.version_text.strip().splitlines()[0] if state.version_text.strip() else "",
            ),
        ]
        wrong = state.wrong_settings()
        for key, want in REQUIRED.items():
            have = state.settings.get(key)
            found.append(
                Finding(
                    f"{state.conf_path}: {key}",
                    have if have is not None else f"(default {DEFAULTS[key]})",
                    key not in wrong,
                    detail=f"required {want}",
                )
            )
        return found


__all__ = ["LinuxAgent", "effective_version", "parse_conf", "parse_version"]
