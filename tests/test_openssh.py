"""The SSH connection against a real OpenSSH sshd on 127.0.0.1 (the server real VMs run)."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from remediate.inventory.host import Host
from remediate.lab.linux.openssh import OpenSSHServer, sshd_missing_reason
from remediate.lab.state import HostState, OpLog

from remediate.connection import ConnectOptions
from remediate.connection.ssh import SSHConnection
from remediate.errors import DryRunRefused, HostKeyError
from remediate.operation import Operation, mutate, read
from remediate.retry import RetryPolicy

pytestmark = pytest.mark.sshd

ONCE = RetryPolicy(attempts=1)
B64_TOKEN = re.compile(r"^[A-Za-z0-9+/=]+$")
HOSTILE = [
    "x'; rm -rf / #",
    "$(reboot)",
    "`reboot`",
    'say "hi" \\ there',
    "two\nlines\n",
    "; Remove-Item C:\\ #",
    "Ünïcødé 日本語 🚀",
]


@dataclass
class RealSSHHost:
    server: OpenSSHServer
    state: HostState
    client_key: Path
    known_hosts: Path

    def host(self, **vars_: Any) -> Host:
        base: dict[str, Any] = {"ssh_key_file": str(self.client_key), "known_hosts": str(self.known_hosts)}
        base.update(vars_)
        return Host(self.state.name, "127.0.0.1", self.server.port, "linux", "ssh", self.server.user, [], base)


@pytest.fixture
def openssh(tmp_path: Path) -> Iterator[RealSSHHost]:
    reason = sshd_missing_reason()
    if reason:
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    state = HostState(hosts / "lin01.yml")
    state.write({"name": "lin01", "os": "linux", "faults": {}, "machine": {}})
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    server = OpenSSHServer(
        state,
        OpLog(tmp_path / "oplog.jsonl"),
        directory=tmp_path / "sshd",
        authorized_keys=[Path(str(key) + ".pub").read_text()],
    )
    server.start()
    known = tmp_path / "known_hosts"
    known.write_text(server.known_hosts_line, encoding="ascii")
    try:
        yield RealSSHHost(server, state, key, known)
    finally:
        server.stop()


def probe(value: str = "pong") -> Operation:
    return read("common/probe.sh", echo=value)


def test_probe_round_trip_over_openssh(openssh: RealSSHHost) -> None:
    with SSHConnection(openssh.host(), ConnectOptions(retry=ONCE)) as conn:
        result = conn.run(probe())
    assert result.data["echo"] == ["pong"]
    assert result.data["hostname"][0] and result.data["kernel"][0]
    assert openssh.server.commands() == ["/bin/sh -s -- cG9uZw=="]


def test_hostile_values_over_openssh_come_back_identical(openssh: RealSSHHost) -> None:
    with SSHConnection(openssh.host(), ConnectOptions(retry=ONCE)) as conn:
        for value in HOSTILE:
            assert conn.run(probe(value)).data["echo"] == [value], value
    commands = openssh.server.commands()
    assert len(commands) == len(HOSTILE)
    for value, command in zip(HOSTILE, commands, strict=True):
        words = command.split(" ")
        assert words[:3] == ["/bin/sh", "-s", "--"]
        assert all(B64_TOKEN.match(w) for w in words[3:]), command
        assert base64.b64decode(words[3]).decode("utf-8") == value


def test_one_login_serves_every_operation(openssh: RealSSHHost) -> None:
    with SSHConnection(openssh.host(), ConnectOptions(retry=ONCE)) as conn:
        for i in range(3):
            assert conn.run(probe(str(i))).data["echo"] == [str(i)]
    assert len(openssh.server.commands()) == 3
    assert openssh.server.accepted_logins() == 1


def test_unknown_openssh_host_key_is_refused_then_accepted_when_asked(openssh: RealSSHHost) -> None:
    openssh.known_hosts.write_text("", encoding="ascii")
    with SSHConnection(openssh.host(), ConnectOptions(retry=ONCE)) as conn, pytest.raises(HostKeyError):
        conn.run(probe())
    assert openssh.server.commands() == []
    with SSHConnection(openssh.host(), ConnectOptions(retry=ONCE, accept_new_host_keys=True)) as conn:
        assert conn.run(probe()).ok
    assert openssh.known_hosts.read_text().split() == openssh.server.known_hosts_line.split()


def test_dry_run_sends_nothing_to_openssh(openssh: RealSSHHost) -> None:
    with SSHConnection(openssh.host(), ConnectOptions(dry_run=True, retry=ONCE)) as conn, pytest.raises(DryRunRefused):
        conn.run(mutate("common/probe.sh", echo="change"))
    assert openssh.server.commands() == []
    assert openssh.server.accepted_logins() == 0


def test_commands_run_in_the_lab_hosts_environment(openssh: RealSSHHost) -> None:
    with SSHConnection(openssh.host(), ConnectOptions(retry=ONCE)) as conn:
        conn.run(probe())
    env = (openssh.server.dir / "environment.sh").read_text()
    assert f"REMEDIATE_LAB_HOST={openssh.state.name}" in env
    assert "LC_ALL=C" in env


def test_a_command_killed_by_a_signal_is_a_failure_not_a_dropped_connection(openssh: RealSSHHost) -> None:
    with SSHConnection(openssh.host(), ConnectOptions(retry=ONCE)) as conn:
        exited, _out, err = conn._exec(conn._open(), "kill -9 $$", b"", 10)
        assert exited == 255
        assert b"without an exit status" in err
        assert conn.run(probe("still connected")).data["echo"] == ["still connected"]
    assert openssh.server.accepted_logins() == 1
