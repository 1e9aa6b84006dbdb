"""linux-agent: the Azure Linux agent (WALinuxAgent) stopped, too old, or configured without extensions.

Answers UserErrorGuestAgentStatusUnavailable and GuestAgentSnapshotTaskStatusError on Linux VMs.

Check: the ``walinuxagent`` (Debian, Ubuntu) or ``waagent`` (elsewhere) service is running (``systemctl show``);
``waagent --version`` is at least 2.2.53.1 (the ``Goal state agent`` line when there is one: that is the agent
that runs; else the ``WALinuxAgent-X`` package version); the agent reads ``Extensions.Enabled`` as y and
``Provisioning.Agent`` as ``auto`` from ``/etc/waagent.conf``.

Keys: the troubleshooting page names the first key ``Extensions.Enable``; the agent reads ``Extensions.Enabled``
(WALinuxAgent ``conf.get_extensions_enabled``), so that is the key checked and set. The file is read exactly as the
agent's own parser reads it (``azurelinuxagent/common/conf.py``): a ``#`` in the first column comments a line out,
an inline ``# comment`` and surrounding double quotes and spaces are dropped, the last line of a key wins, ``None``
means unset; a missing key takes the agent's default (``y``, ``auto``), which is compliant. ``Extensions.Enabled``
is a switch: ``y``/``Y`` and ``n``/``N`` count, any other value (``yes``, ``true``) is read as the default ``y``;
``Provisioning.Agent`` is compared as written (``Auto`` is not ``auto``). An empty file, or one that is not UTF-8,
stops the agent: it is reported.

Change: the line the agent reads last for each wrong key is rewritten (``Key=value``, its line ending kept; a key
with no line gets one, with the file's line ending); every other byte is kept, a copy
``waagent.conf.remediate-<hash>`` is kept beside it, and a file changed since it was read is left alone. Then the
service is restarted; a stopped service is restarted. An agent below the floor is reported; with
``update_agent=true`` it is updated with the distribution's package manager only (apt-get, dnf, yum or zypper),
never from a download of ours.

Paths: ``waagent_conf`` defaults to ``/etc/waagent.conf``; the lab's inventory gives its lab path.
Undo: the configuration is restored from its copy; a restart or a package update cannot be undone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from remediate.remediations.linux_agent.conf import Setting, agent_values, edits_for, parse_conf, render_edits

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk, Verdict, parse_bool
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

WAAGENT_CONF = "/etc/waagent.conf"
VERSION_FLOOR = (2, 2, 53, 1)
SETTINGS = (
    Setting("Extensions.Enabled", "switch", default="y", required="y"),
    Setting("Provisioning.Agent", "string", default="auto", required="auto"),
)
REQUIRED = {s.key: s.required for s in SETTINGS}
DEFAULTS = {s.key: s.default for s in SETTINGS}
PAGE_KEYS = {"Extensions.Enabled": "Extensions.Enable"}  # the key as the troubleshooting page writes it
MAX_CONF_BYTES = 64 * 1024
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
    settings: dict[str, str | None] = field(default_factory=dict)  # as the agent reads them (None: ``None``)
    conf_sha256: str | None = None  # of the file's bytes
    problem: str | None = None  # why the agent cannot read the file at all (reported, not compliant)
    unsafe: str | None = None  # why the file cannot be edited exactly here (a change is then only reported)

    def wrong_settings(self) -> dict[str, str]:
        """Keys the agent reads with another value than the required one: ``{key: how it reads it}``."""
        wrong = {}
        for setting in SETTINGS:
            value = self.settings.get(setting.key)
            if not setting.compliant(value):
                wrong[setting.key] = setting.describe(value, setting.key in self.settings)
        if self.conf_text is not None and not self.conf_text:
            # The agent refuses an empty file ("Can't not parse empty configuration"): write the keys.
            wrong.update({s.key: "(empty file)" for s in SETTINGS if s.key not in wrong})
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
        problem = unsafe = None
        digest = (data.get("conf_sha256") or [None])[0]
        if (data.get("conf") or ["absent"])[0] == "present":
            conf_text = (data.get("conf_text") or ["x"])[0][:-1]
            if digest is None:
                unsafe = f"no sha256sum on the host to fingerprint {conf}: it is not edited"
            elif digest != hashlib.sha256(conf_text.encode("utf-8")).hexdigest():
                problem = (
                    f"{conf} is not plain UTF-8 text (invalid bytes or NUL): the agent reads it as UTF-8 and "
                    "stops on it; fix it by hand"
                )
            elif len(conf_text.encode("utf-8")) > MAX_CONF_BYTES:
                unsafe = f"{conf} is larger than {MAX_CONF_BYTES} bytes: not edited here"
        return AgentState(
            unit,
            active,
            sub,
            text,
            effective_version(text),
            conf,
            conf_text,
            agent_values(conf_text or ""),
            digest,
            problem,
            unsafe,
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
        if state.problem:
            plan.notes.append(state.problem)
        elif wrong and state.unsafe:
            plan.notes.append(state.unsafe)
        elif wrong and state.conf_text is None:
            plan.notes.append(f"{state.conf_path} does not exist: the agent runs with its defaults")
        elif wrong:
            assert state.conf_text is not None and state.conf_sha256 is not None
            backup = f"{state.conf_path}.remediate-{state.conf_sha256[:12]}"
            settings = [f"{k}={REQUIRED[k]}" for k in wrong]
            edits = render_edits(edits_for(state.conf_text, {k: REQUIRED[k] for k in wrong}))
            plan.changes.append(
                Change(
                    f"set {', '.join(settings)} in {state.conf_path} on the lines the agent reads "
                    f"(a copy is kept as {backup})",
                    mutate(
                        "linux_agent/set_conf.sh",
                        conf=state.conf_path,
                        backup=backup,
                        sha256=state.conf_sha256,
                        edits=edits,
                    ),
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
        if state.problem:
            reasons.append(state.problem)
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
        if state.problem:
            found.append(Finding(state.conf_path, "unreadable", False, detail=state.problem))
        for setting in SETTINGS:
            page = PAGE_KEYS.get(setting.key)
            found.append(
                Finding(
                    f"{state.conf_path}: {setting.key}",
                    setting.describe(state.settings.get(setting.key), setting.key in state.settings),
                    setting.key not in wrong,
                    detail=f"required {setting.required}"
                    + (f" (the page writes {page}; the agent reads {setting.key})" if page else ""),
                )
            )
        return found


__all__ = ["SETTINGS", "LinuxAgent", "agent_values", "effective_version", "parse_conf", "parse_version"]
