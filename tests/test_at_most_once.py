"""At most once: a mutating command whose answer is lost is never sent again blindly, on either transport.

Over the real protocols (pywinrm against the lab's WS-Management listener, paramiko against the lab's SSH
server), the lab drops the connection after a mutating command was accepted and lets the command finish. The
lab's operation log shows it executed exactly once; the runner reads the state again and the host still ends
right. Read-only operations and failures that certainly came before the command are retried as before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from remediate import journal as journal_mod
from remediate import playbook
from remediate.connection import ConnectOptions, connect
from remediate.errors import OutcomeUnknown, TransientError
from remediate.operation import Operation, mutate, read
from remediate.retry import RetryPolicy

TINY = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0.0)
BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
WRONG_TYPE = {"registry": {BCDR: {"USEVSSCOPYBACKUP": {"type": "REG_DWORD", "data": 1}}}}
REG_SET = "common/registry_set.ps1"
SET_CONF = "linux_agent/set_conf.sh"


def _registry_set() -> Operation:
    return mutate(REG_SET, path=BCDR, name="USEVSSCOPYBACKUP", type="REG_SZ", data="TRUE")


def _set_conf(lab: Any, host: Any, **kw: Any) -> Operation:
    """set_conf.sh as linux-agent sends it: turn extensions on in the lab host's waagent.conf as it is now."""
    from remediate.lab.linux.host import materialize
    from remediate.remediations.linux_agent.conf import edits_for, render_edits

    state = lab.state(host.name)
    materialize(state, state.read())  # the host's files, as its first command would find them
    conf = host.vars["waagent_conf"]
    data = Path(conf).read_bytes()
    edits = render_edits(edits_for(data.decode("utf-8"), {"Extensions.Enabled": "y"}))
    sha256 = hashlib.sha256(data).hexdigest()
    return mutate(SET_CONF, conf=conf, backup=conf + ".bak", sha256=sha256, edits=edits, **kw)


def _ran(lab: Any, host: str, script: str) -> list[dict[str, Any]]:
    """The lab's record of every execution of a script on a host (WinRM: by script; SSH: the exec's stdin)."""
    entries = lab.oplog.entries(host)
    return [e for e in entries if not e["op"].startswith("fault:") and script in (e["op"], e.get("script"))]


def test_winrm_mutating_command_dropped_after_it_ran_is_not_sent_again(lab) -> None:
    lab.add_windows("w1", machine=WRONG_TYPE, scheme="http", faults={"drop_mid_command": REG_SET})
    lab.start()
    with connect(lab.host("w1"), ConnectOptions(retry=TINY)) as conn:
        with pytest.raises(OutcomeUnknown) as info:
            conn.run(_registry_set())
        assert conn.records[-1].attempts == 1  # not retried
        assert info.value.host == "w1" and info.value.step == REG_SET
        assert not isinstance(info.value, TransientError)
        server = next(s.handle for s in lab._servers if s.name == "w1")
        # over a new connection: Signal terminate to the lost command, Delete of its shell
        assert server.stats["signals"] == 1 and server.stats["shells_deleted"] == 1
        # the connection is usable again: the next operation reconnects
        state = conn.run(read("common/registry_get.ps1", path=BCDR, names=["USEVSSCOPYBACKUP"]))
        assert state.ok
    assert len(_ran(lab, "w1", REG_SET)) == 1
    assert len([e for e in lab.oplog.entries("w1") if e["op"] == "fault:drop_mid_command"]) == 1
    value = lab.state("w1").read()["machine"]["registry"][BCDR]["USEVSSCOPYBACKUP"]
    assert value == {"type": "REG_SZ", "data": "TRUE"}  # it ran to its end, only the answer was lost


def test_winrm_read_only_command_dropped_is_retried(lab) -> None:
    lab.add_windows("w1", scheme="http", faults={"drop_mid_command": "common/probe.ps1"})
    lab.start()
    with connect(lab.host("w1"), ConnectOptions(retry=TINY)) as conn, pytest.raises(TransientError):
        conn.run(read("common/probe.ps1", echo="x"))
    assert conn.records[-1].attempts == 3
    assert len(_ran(lab, "w1", "common/probe.ps1")) == 3


def test_winrm_failure_before_the_command_is_retried_for_a_mutating_operation(lab) -> None:
    lab.add_windows("w1", machine=WRONG_TYPE, scheme="http", faults={"http_5xx": 2})
    lab.start()
    with connect(lab.host("w1"), ConnectOptions(retry=TINY)) as conn:
        result = conn.run(_registry_set())
    assert result.ok and result.attempts == 3  # the shell could not be created twice: certainly not sent
    assert len(_ran(lab, "w1", REG_SET)) == 1


def test_winrm_drop_when_the_command_is_sent_is_an_unknown_outcome(lab) -> None:
    lab.add_windows("w1", machine=WRONG_TYPE, scheme="http", faults={"drop_before_command": 1})
    lab.start()
    with connect(lab.host("w1"), ConnectOptions(retry=TINY)) as conn:
        with pytest.raises(OutcomeUnknown):
            conn.run(_registry_set())  # the client cannot know the Command did not arrive
        assert conn.records[-1].attempts == 1
        assert conn.run(_registry_set()).ok
    assert len(_ran(lab, "w1", REG_SET)) == 1


def test_ssh_mutating_command_dropped_after_it_ran_is_not_sent_again(lab) -> None:
    lab.add_linux("l1", machine="linux-agent-config", faults={"drop_mid_command": SET_CONF})
    lab.start()
    host = lab.host("l1")
    op = _set_conf(lab, host)
    with connect(host, ConnectOptions(retry=TINY)) as conn:
        with pytest.raises(OutcomeUnknown) as info:
            conn.run(op)
        assert conn.records[-1].attempts == 1
        assert info.value.cause == "TransientError"
        assert conn.run(read("common/probe.sh", echo="again")).ok  # reconnects
    runs = _ran(lab, "l1", SET_CONF)
    assert len(runs) == 1 and runs[0]["dropped"] is True


def test_ssh_hung_mutating_command_is_stopped_and_not_sent_again(lab) -> None:
    lab.add_linux("l1", machine="linux-agent-config", faults={"hang_script": SET_CONF})
    lab.start()
    host = lab.host("l1")
    op = _set_conf(lab, host, timeout=1)
    with connect(host, ConnectOptions(retry=TINY)) as conn, pytest.raises(OutcomeUnknown):
        conn.run(op)
    assert conn.records[-1].attempts == 1
    assert len([e for e in lab.oplog.entries("l1") if e.get("hung")]) == 1


def test_ssh_refused_before_a_mutating_command_is_retried(lab) -> None:
    lab.add_linux("l1", machine="linux-agent-config", faults={"refuse_connections": 2})
    lab.start()
    host = lab.host("l1")
    op = _set_conf(lab, host)
    with connect(host, ConnectOptions(retry=TINY)) as conn:
        assert conn.run(op).attempts == 3
    assert len(_ran(lab, "l1", SET_CONF)) == 1


@pytest.mark.parametrize("transport", ["winrm", "ssh"])
def test_runner_reads_the_state_again_and_ends_right(lab, run_options, transport: str) -> None:
    if transport == "winrm":
        lab.add_windows("h1", machine=WRONG_TYPE, scheme="http", faults={"drop_mid_command": REG_SET})
        slug, script = "vss-copy-backup", REG_SET
    else:
        lab.add_linux("h1", machine="linux-agent-config", faults={"drop_mid_command": SET_CONF})
        slug, script = "linux-agent", SET_CONF
    lab.add_windows("calm", machine=WRONG_TYPE, scheme="http")
    lab.start()
    report = playbook.run(lab.hosts(), [slug], run_options(assume_yes=True, forks=2))
    results = {h.host: h for h in report.hosts}
    h1 = results["h1"]
    assert h1.status == "changed", h1.reason
    assert "found done when checked again" in h1.reason
    assert any("answer was lost" in n for n in h1.steps[0].notes)
    assert len(_ran(lab, "h1", script)) == 1  # executed exactly once
    assert [o["attempts"] for o in h1.operations if o["script"] == script] == [1]
    # the change ran: it is reported and journaled as applied (undo can restore it), once
    (lost,) = [c for c in h1.steps[0].applied if c["operation"]["script"] == script]
    assert "found done" in lost["outcome"]
    entries = journal_mod.read(report.run_id, report.journal and Path(report.journal).parent)
    ok = [e for e in entries if e["event"] == "change" and e["host"] == "h1" and e.get("ok")]
    assert [e["operation"]["script"] for e in ok].count(script) == 1
    settled = [c for c in journal_mod.changes(entries) if c["host"] == "h1" and c["operation"]["script"] == script]
    assert [c["state"] for c in settled] == ["applied"]  # the intent, settled by what the state showed
    assert results["calm"].status in ("changed", "skipped")
    again = playbook.run([lab.host("h1")], [slug], run_options(assume_yes=True))
    assert again.hosts[0].status == "ok" and again.hosts[0].changes == 0
    assert len(_ran(lab, "h1", script)) == 1
    if transport == "winrm":  # undo knows the change whose answer was lost
        with lab.state("h1").edit() as data:
            data["faults"] = {}  # (the undo is a registry_set.ps1 too)
        undone = playbook.undo(report.run_id, options=run_options(assume_yes=True), only_host="h1")
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        value = lab.state("h1").read()["machine"]["registry"][BCDR]["USEVSSCOPYBACKUP"]
        assert value == WRONG_TYPE["registry"][BCDR]["USEVSSCOPYBACKUP"]


def test_an_answer_lost_every_time_fails_the_step_after_one_new_plan(lab, run_options) -> None:
    lab.add_linux("h1", machine="linux-agent-config", faults={"hang_script": SET_CONF})
    lab.start()
    opts = run_options(assume_yes=True, connect=ConnectOptions(command_timeout=3))
    report = playbook.run(lab.hosts(), ["linux-agent"], opts)
    h1 = report.hosts[0]
    assert h1.status == "failed", h1.reason
    assert "may have run" in h1.reason
    # sent once, the state read again, sent once more from the new plan, then given up: never re-sent blindly
    assert len([e for e in lab.oplog.entries("h1") if e.get("hung")]) == 2
    scripts = [o["script"] for o in h1.operations]
    assert scripts == ["linux_agent/status.sh", SET_CONF, "linux_agent/status.sh", SET_CONF]


@pytest.mark.sshd
def test_openssh_session_killed_after_the_mutating_command_ran(lab, run_options) -> None:
    """Against OpenSSH's real sshd: the session dies after set_conf.sh ran; it is not sent again."""
    from remediate.lab.linux.openssh import sshd_missing_reason

    reason = sshd_missing_reason()
    if reason:
        pytest.skip(reason)
    lab.add_linux("h1", machine="linux-agent-config", ssh_server="openssh")
    lab.start()
    host = lab.host("h1")
    with connect(host, ConnectOptions(retry=TINY)) as conn:
        assert conn.run(read("common/probe.sh", echo="x")).ok
        with lab.state("h1").edit() as data:
            data["faults"] = {"drop_mid_command": 1}
        with pytest.raises(OutcomeUnknown):
            conn.run(_set_conf(lab, host))
        assert conn.records[-1].attempts == 1
        assert conn.run(read("common/probe.sh", echo="y")).ok  # reconnected
    assert len([e for e in lab.oplog.entries("h1") if e["op"] == "fault:drop_mid_command"]) == 1
    conf = Path(host.vars["waagent_conf"]).read_text(encoding="utf-8")
    assert "Extensions.Enabled=y" in conf  # it ran to its end
    server = next(s.handle for s in lab._servers if s.name == "h1")
    assert len(server.commands()) == 3  # probe, set_conf once, probe
