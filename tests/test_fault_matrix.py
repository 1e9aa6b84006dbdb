"""Every fault the lab can inject, on each transport, through the runner over the real protocols.

Each case runs a faulty host beside a broken-but-healthy companion in one parallel run, and checks the faulty
host's status and reason, the attempts of its operations (retries only for the transient, stopping at the
configured count), that the companion was fixed all the same, and that the journal holds every change sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from remediate import journal as journal_mod
from remediate import playbook
from remediate.connection import ConnectOptions
from remediate.retry import RetryPolicy

ATTEMPTS = 3
RETRY = RetryPolicy(attempts=ATTEMPTS, initial=0.02, maximum=0.05, jitter=0.01)
BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
WRONG_TYPE = {"registry": {BCDR: {"USEVSSCOPYBACKUP": {"type": "REG_DWORD", "data": 1}}}}
REG_GET, REG_SET = "common/registry_get.ps1", "common/registry_set.ps1"
STATUS_SH, SET_CONF = "linux_agent/status.sh", "linux_agent/set_conf.sh"
AGENT_WONT_START = {
    "services": {"walinuxagent": {"load": "loaded", "active": "inactive", "sub": "dead", "start_fails": True}}
}


@dataclass(frozen=True)
class Case:
    id: str
    os: str
    faults: dict[str, Any]
    status: str
    reason: str  # words of the faulty host's reason (lower case)
    first_attempts: int | None = 1  # attempts of the host's first operation
    retried: bool = False  # whether any operation may take more than one attempt
    machine: Any = None
    slug: str | None = None
    runs: tuple[str, int] | None = None  # a script and how many times the lab executed it on the host
    host_timeout: float | None = None
    command_timeout: float = 20.0
    companion: Any = None  # the companion's machine: broken in the way the remediation fixes

    @property
    def remediation(self) -> str:
        return self.slug or ("vss-copy-backup" if self.os == "windows" else "linux-agent")


CASES = [
    # -- WinRM -----------------------------------------------------------------------------------------------------
    Case("winrm-latency", "windows", {"latency_ms": 100}, "changed", "applied and verified"),
    Case("winrm-refused", "windows", {"refuse_connections": True}, "unreachable", "no answer",
         ATTEMPTS, retried=True, runs=(REG_SET, 0)),
    Case("winrm-dropped-before-command", "windows", {"drop_before_command": 1}, "changed", "applied and verified",
         2, retried=True, runs=(REG_SET, 1)),
    Case("winrm-dropped-before-every-command", "windows", {"drop_before_command": True}, "unreachable",
         "no answer", ATTEMPTS, retried=True, runs=(REG_SET, 0)),
    Case("winrm-dropped-after-mutating-command", "windows", {"drop_mid_command": REG_SET}, "changed",
         "found done when checked again", runs=(REG_SET, 1)),
    Case("winrm-dropped-after-every-command", "windows", {"drop_mid_command": True}, "unreachable", "no answer",
         ATTEMPTS, retried=True, runs=(REG_GET, ATTEMPTS)),
    Case("winrm-5xx-passing", "windows", {"http_5xx": 2}, "changed", "applied and verified", 3, retried=True),
    Case("winrm-5xx-lasting", "windows", {"http_5xx": 50}, "unreachable", "http 500", ATTEMPTS, retried=True),
    Case("winrm-wrong-credentials", "windows", {"reject_auth": True}, "unreachable", "rejected the credentials"),
    Case("winrm-hung-command", "windows", {"hang_script": REG_GET, "hang_seconds": 30}, "failed", "time limit",
         command_timeout=3.0, runs=(REG_SET, 0)),
    Case("winrm-host-time-limit", "windows", {"latency_ms": 400}, "failed", "time limit", None, retried=True,
         host_timeout=1.0),
    Case("winrm-writer-never-recovers", "windows", {}, "failed", "still not compliant",
         machine="windows-vss-writer-never-recovers", slug="vss-writers", companion="windows-vss-writers-failed"),
    Case("winrm-service-will-not-start", "windows", {}, "failed", "stopped while starting",
         machine="windows-comsysapp-unfixable", slug="comsysapp", companion="windows-comsysapp-stopped"),
    # -- SSH -------------------------------------------------------------------------------------------------------
    Case("ssh-latency", "linux", {"latency_ms": 100}, "changed", "applied and verified"),
    Case("ssh-refused", "linux", {"refuse_connections": True}, "unreachable", "ssh", ATTEMPTS, retried=True,
         runs=(SET_CONF, 0)),
    Case("ssh-dropped-before-command", "linux", {"drop_before_command": 1}, "changed", "applied and verified", 2,
         retried=True, runs=(SET_CONF, 1)),
    Case("ssh-dropped-after-mutating-command", "linux", {"drop_mid_command": SET_CONF}, "changed",
         "found done when checked again", runs=(SET_CONF, 1)),
    Case("ssh-dropped-after-every-command", "linux", {"drop_mid_command": True}, "unreachable", "dropped",
         ATTEMPTS, retried=True, runs=(STATUS_SH, ATTEMPTS)),
    Case("ssh-wrong-credentials", "linux", {"reject_auth": True}, "unreachable", "authentication"),
    Case("ssh-changed-host-key", "linux", {"changed_host_key": True}, "unreachable", "changed"),
    Case("ssh-hung-read", "linux", {"hang_script": STATUS_SH}, "unreachable", "did not finish", ATTEMPTS,
         retried=True, command_timeout=3.0),
    Case("ssh-hung-mutating-command", "linux", {"hang_script": SET_CONF}, "failed", "may have run",
         command_timeout=3.0),
    Case("ssh-service-will-not-start", "linux", {}, "failed", "walinuxagent.service failed",
         machine={"machine": AGENT_WONT_START}),
]  # fmt: skip


def _executions(lab: Any, host: str, script: str) -> int:
    return sum(
        1
        for e in lab.oplog.entries(host)
        if not e["op"].startswith("fault:") and script in (e["op"], e.get("script")) and not e.get("hung")
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, lab, run_options) -> None:
    add = lab.add_windows if case.os == "windows" else lab.add_linux
    default = WRONG_TYPE if case.os == "windows" else "linux-agent-config"
    extra = {"scheme": "http"} if case.os == "windows" else {}
    add("faulty", case.machine or default, faults=case.faults, **extra)
    add("companion", case.companion or default, **extra)
    lab.start()
    options = run_options(
        forks=2,
        assume_yes=True,
        retry=RETRY,
        host_timeout=case.host_timeout,
        connect=ConnectOptions(command_timeout=case.command_timeout, connect_timeout=5.0),
    )
    report = playbook.run(lab.hosts(), [case.remediation], options)
    results = {h.host: h for h in report.hosts}
    assert sorted(results) == ["companion", "faulty"]  # every host once
    faulty = results["faulty"]

    assert faulty.status == case.status, faulty.reason
    assert case.reason in faulty.reason.lower(), faulty.reason
    assert faulty.reason.startswith(("[faulty]", case.remediation)) or "faulty" in faulty.reason
    ops = faulty.operations
    assert ops, "the host's operations are reported"
    if case.first_attempts is not None:
        assert ops[0]["attempts"] == case.first_attempts, ops
    assert all(1 <= o["attempts"] <= ATTEMPTS for o in ops), ops  # stops at the configured count
    if not case.retried:
        assert all(o["attempts"] == 1 for o in ops), ops  # nothing but the transient is retried
    assert all(o["attempts"] == 1 for o in ops if o["mutating"] and o["error"]), ops  # never re-sent blindly
    if case.runs is not None:
        script, times = case.runs
        assert _executions(lab, "faulty", script) == times

    # the other host is not affected
    assert results["companion"].status == "changed", results["companion"].reason

    # the journal holds every change sent to a host, applied or not
    entries = journal_mod.read(report.run_id, options.journal_dir)
    for h in report.hosts:
        sent = [o["script"] for o in h.operations if o["mutating"]]
        journaled = [e["operation"]["script"] for e in entries if e["event"] == "change" and e["host"] == h.host]
        # each one sent is there (one whose answer was lost: also once more when found done), nothing unsent
        assert Counter(journaled) >= Counter(sent) and set(journaled) == set(sent), h.host
        applied = [c["summary"] for s in h.steps for c in s.applied]
        ok = [e["summary"] for e in entries if e["event"] == "change" and e["host"] == h.host and e.get("ok")]
        assert sorted(ok) == sorted(applied), h.host


def test_a_refusing_winrm_host_keeps_its_port(lab) -> None:
    """Refused at the TCP level, yet the port stays the host's: no other listener of the lab is given it (with
    hundreds of hosts a freed port was soon another host's, which then answered in the refusing host's name)."""
    import errno
    import socket

    lab.add_windows("w1", scheme="http", faults={"refuse_connections": True})
    lab.start()
    port = lab.port("w1")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket() as other, pytest.raises(OSError) as info:
        other.bind(("127.0.0.1", port))
    assert info.value.errno == errno.EADDRINUSE
