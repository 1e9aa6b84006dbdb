"""The SSH connection (fabric/paramiko) against the lab's paramiko SSH server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from remediate.inventory.host import Host
from remediate.lab.linux.sshd import SSHServer
from remediate.lab.state import HostState, OpLog

from remediate import scripts
from remediate.connection import ConnectOptions
from remediate.connection.ssh import SSHConnection, parse_jump
from remediate.errors import (
    AuthenticationError,
    ConfigError,
    DryRunRefused,
    HostKeyError,
    TransientError,
)
from remediate.operation import Operation, mutate, read
from remediate.retry import RetryPolicy

USER = "azureuser"
PASSWORD = "lab-Pa55word-not-for-logs"
FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, jitter=0.01)
ONCE = RetryPolicy(attempts=1)
B64_TOKEN = re.compile(r"^[A-Za-z0-9+/=]+$")

HOSTILE = [
    "x'; rm -rf / #",
    "$(reboot)",
    "`reboot`",
    'a "quoted" \\"value\\"',
    "line1\nline2\n\n",
    "; Remove-Item C:\\ #",
    "Ünïcødé 日本語 🚀",
    "  leading and trailing spaces  ",
    "-n",
    "*",
    "${IFS}%s\\x00",
]


def write_keypair(path: Path) -> str:
    """An Ed25519 key pair in OpenSSH format at ``path``; returns the public key line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    )
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    line = public.decode("ascii")
    Path(str(path) + ".pub").write_text(line + "\n", encoding="ascii")
    return line


@dataclass
class LinuxHost:
    """One lab Linux host served by the lab's SSH server, with the client side's files."""

    server: SSHServer
    state: HostState
    oplog: OpLog
    dir: Path
    host_public: str
    client_key: Path
    known_hosts: Path
    password_file: Path

    @property
    def known_line(self) -> str:
        return f"[127.0.0.1]:{self.server.port} {self.host_public}\n"

    def host(self, **vars_: Any) -> Host:
        """A Host with key auth and the lab's known_hosts; ``vars_`` override (a None value removes one)."""
        base: dict[str, Any] = {"ssh_key_file": str(self.client_key), "known_hosts": str(self.known_hosts)}
        base.update(vars_)
        base = {k: v for k, v in base.items() if v is not None}
        return Host(self.state.name, "127.0.0.1", self.server.port, "linux", "ssh", USER, ["lab"], base)

    def set_faults(self, **faults: Any) -> None:
        with self.state.edit() as data:
            data["faults"] = faults

    def execs(self) -> list[dict[str, Any]]:
        return [e for e in self.oplog.entries(self.state.name) if e["op"] == "exec"]


@pytest.fixture
def linux(tmp_path: Path) -> Iterator[LinuxHost]:
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    state = HostState(hosts / "lin01.yml")
    state.write({"name": "lin01", "os": "linux", "faults": {}, "machine": {}})
    oplog = OpLog(tmp_path / "oplog.jsonl")
    host_public = write_keypair(tmp_path / "ssh_host_ed25519_key")
    client_public = write_keypair(tmp_path / "id_lab")
    server = SSHServer(
        state,
        oplog,
        users={USER: PASSWORD},
        authorized_keys=[client_public],
        host_key_path=str(tmp_path / "ssh_host_ed25519_key"),
    )
    server.start()
    password_file = tmp_path / "secret"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    item = LinuxHost(
        server, state, oplog, tmp_path, host_public, tmp_path / "id_lab", tmp_path / "known_hosts", password_file
    )
    item.known_hosts.write_text(item.known_line, encoding="ascii")
    try:
        yield item
    finally:
        server.stop()


def probe(value: str = "pong", **kw: Any) -> Operation:
    return read("common/probe.sh", echo=value, **kw)


# -- round trips -----------------------------------------------------------------------------------------------------
def test_probe_round_trip_reports_the_host(linux: LinuxHost) -> None:
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn:
        result = conn.run(probe())
    assert result.ok and result.attempts == 1
    assert result.data["echo"] == ["pong"]
    assert result.data["hostname"][0]
    assert result.data["kernel"][0]
    assert set(result.data) == {"hostname", "kernel", "os_id", "echo"}
    [entry] = linux.execs()
    assert entry["script"] == "common/probe.sh"
    assert entry["exit"] == 0 and entry["mutating"] is False


def test_hostile_values_come_back_identical_and_never_reach_the_command_line(linux: LinuxHost) -> None:
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn:
        for value in HOSTILE:
            assert conn.run(probe(value)).data["echo"] == [value], value
    commands = [e["command"] for e in linux.execs()]
    assert len(commands) == len(HOSTILE)
    for value, command in zip(HOSTILE, commands, strict=True):
        words = command.split(" ")
        assert words[:3] == ["/bin/sh", "-s", "--"]
        assert all(B64_TOKEN.match(w) for w in words[3:]), command
        assert base64.b64decode(words[3]).decode("utf-8") == value
        assert value.strip() not in command


def test_one_ssh_connection_serves_every_operation(linux: LinuxHost) -> None:
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn:
        for i in range(4):
            assert conn.run(probe(str(i))).data["echo"] == [str(i)]
    assert linux.server.connections == 1
    assert linux.server.execs == 4


def test_close_releases_the_client_and_the_next_operation_reconnects(linux: LinuxHost) -> None:
    conn = SSHConnection(linux.host(), ConnectOptions(retry=ONCE))
    conn.run(probe())
    conn.close()
    assert conn._fabric is None
    conn.run(probe())
    conn.close()
    assert linux.server.connections == 2


# -- authentication --------------------------------------------------------------------------------------------------
def test_key_auth_alone(linux: LinuxHost) -> None:
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn:
        assert conn.run(probe()).ok


def test_password_auth_alone(linux: LinuxHost) -> None:
    host = linux.host(ssh_key_file=None, password_file=str(linux.password_file))
    with SSHConnection(host, ConnectOptions(retry=ONCE)) as conn:
        assert conn.run(probe()).ok


def test_wrong_password_is_an_authentication_error_after_one_attempt(linux: LinuxHost, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password-9q8w7e\n", encoding="utf-8")
    host = linux.host(ssh_key_file=None, password_file=str(wrong))
    with SSHConnection(host, ConnectOptions(retry=FAST)) as conn, pytest.raises(AuthenticationError) as info:
        conn.run(probe())
    assert linux.server.connections == 1
    assert conn.records[-1].attempts == 1
    assert linux.server.execs == 0
    text = str(info.value) + json.dumps(info.value.to_dict())
    assert "not-the-password-9q8w7e" not in text and PASSWORD not in text
    assert info.value.host == "lin01"


def test_rejected_auth_fault(linux: LinuxHost) -> None:
    linux.set_faults(reject_auth=True)
    host = linux.host(password_file=str(linux.password_file))
    with SSHConnection(host, ConnectOptions(retry=FAST)) as conn, pytest.raises(AuthenticationError):
        conn.run(probe())
    assert linux.server.connections == 1


def test_missing_key_file_is_a_config_error(linux: LinuxHost) -> None:
    host = linux.host(ssh_key_file=str(linux.dir / "no-such-key"))
    with SSHConnection(host, ConnectOptions(retry=FAST)) as conn, pytest.raises(ConfigError):
        conn.run(probe())
    assert linux.server.connections == 0


# -- host keys -------------------------------------------------------------------------------------------------------
def test_unknown_host_key_is_refused(linux: LinuxHost) -> None:
    linux.known_hosts.write_text("", encoding="ascii")
    with SSHConnection(linux.host(), ConnectOptions(retry=FAST)) as conn, pytest.raises(HostKeyError) as info:
        conn.run(probe())
    assert "not in" in str(info.value)
    assert linux.server.connections == 1  # never retried
    assert linux.server.execs == 0
    assert linux.known_hosts.read_text() == ""


def test_missing_known_hosts_file_refuses_too(linux: LinuxHost) -> None:
    linux.known_hosts.unlink()
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn, pytest.raises(HostKeyError):
        conn.run(probe())
    assert not linux.known_hosts.exists()


@pytest.mark.parametrize("how", ["option", "host var"])
def test_accept_new_saves_a_key_never_seen_before(linux: LinuxHost, how: str) -> None:
    linux.known_hosts.unlink()
    if how == "option":
        host, options = linux.host(), ConnectOptions(retry=ONCE, accept_new_host_keys=True)
    else:
        host, options = linux.host(accept_new_host_key=True), ConnectOptions(retry=ONCE)
    with SSHConnection(host, options) as conn:
        assert conn.run(probe()).ok
    saved = linux.known_hosts.read_text(encoding="ascii")
    assert saved.split() == linux.known_line.split()
    # now known: a strict connection accepts it
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn:
        assert conn.run(probe()).ok


def test_changed_host_key_is_refused_even_with_accept_new(linux: LinuxHost) -> None:
    linux.set_faults(changed_host_key=True)
    before = linux.known_hosts.read_text()
    options = ConnectOptions(retry=FAST, accept_new_host_keys=True)
    with SSHConnection(linux.host(), options) as conn, pytest.raises(HostKeyError) as info:
        conn.run(probe())
    assert "CHANGED" in str(info.value)
    assert linux.known_hosts.read_text() == before
    assert linux.server.connections == 1
    assert linux.server.execs == 0


# -- transient failures ----------------------------------------------------------------------------------------------
def test_refused_connections_are_retried_then_fail_as_transient(linux: LinuxHost) -> None:
    linux.set_faults(refuse_connections=True)
    with SSHConnection(linux.host(), ConnectOptions(retry=FAST)) as conn, pytest.raises(TransientError):
        conn.run(probe())
    assert linux.server.connections == 3
    assert conn.records[-1].attempts == 3
    assert linux.server.execs == 0


def test_a_server_silent_past_the_connect_timeout_is_transient(linux: LinuxHost) -> None:
    linux.set_faults(latency_ms=3000)
    host = linux.host(ssh_connect_timeout=1)
    with SSHConnection(host, ConnectOptions(retry=ONCE)) as conn, pytest.raises(TransientError) as info:
        conn.run(probe())
    assert "handshake" in str(info.value)
    # the client gave up before the server answered: one connection, nothing executed, not retried
    assert linux.server.connections == 1 and linux.server.execs == 0
    assert conn.records[-1].attempts == 1


def test_a_refusal_that_passes_is_retried_to_success(linux: LinuxHost) -> None:
    linux.set_faults(refuse_connections=2)
    with SSHConnection(linux.host(), ConnectOptions(retry=FAST)) as conn:
        result = conn.run(probe())
    assert result.ok and result.attempts == 3
    assert "refuse_connections" not in linux.state.read()["faults"]


def test_closed_port_is_transient(linux: LinuxHost) -> None:
    linux.server.stop()
    with SSHConnection(linux.host(), ConnectOptions(retry=FAST)) as conn, pytest.raises(TransientError) as info:
        conn.run(probe())
    assert info.value.host == "lin01"


def test_drop_mid_command_is_transient_then_succeeds_once_cleared(linux: LinuxHost) -> None:
    linux.set_faults(drop_mid_command=True)
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn:
        with pytest.raises(TransientError):
            conn.run(probe())
        assert conn._fabric is None  # dropped, so the next attempt reconnects
        linux.set_faults()
        assert conn.run(probe("after")).data["echo"] == ["after"]
    assert linux.server.connections == 2
    assert [e["dropped"] for e in linux.execs()] == [True, False]


def test_one_dropped_command_is_retried_within_the_run(linux: LinuxHost) -> None:
    linux.set_faults(drop_mid_command=1)
    with SSHConnection(linux.host(), ConnectOptions(retry=FAST)) as conn:
        result = conn.run(probe("again"))
    assert result.attempts == 2 and result.data["echo"] == ["again"]


def test_a_hung_command_times_out_as_transient(linux: LinuxHost) -> None:
    linux.set_faults(hang_exec=True)
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn, pytest.raises(TransientError) as info:
        conn.run(probe(timeout=1))
    assert "did not finish" in str(info.value)
    assert linux.server.execs == 1 and conn.records[-1].attempts == 1


def test_hang_script_hangs_only_that_script(linux: LinuxHost) -> None:
    linux.set_faults(hang_script="common/probe.sh")
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn, pytest.raises(TransientError):
        conn.run(probe(timeout=1))
    assert linux.execs()[-1]["hung"] is True


def test_latency_is_felt_but_harmless(linux: LinuxHost) -> None:
    linux.set_faults(latency_ms=300)
    with SSHConnection(linux.host(), ConnectOptions(retry=ONCE)) as conn:
        assert conn.run(probe()).ok
    assert linux.server.delays == 2  # once at the connection, once at the exec


# -- dry-run ---------------------------------------------------------------------------------------------------------
def test_dry_run_refuses_a_mutating_operation_and_sends_nothing(linux: LinuxHost) -> None:
    with SSHConnection(linux.host(), ConnectOptions(dry_run=True, retry=ONCE)) as conn:
        with pytest.raises(DryRunRefused):
            conn.run(mutate("common/probe.sh", echo="would change"))
        assert linux.server.connections == 0
        assert conn.run(probe()).ok  # reads still run in dry-run
    assert linux.server.execs == 1
    assert [e["command"] for e in linux.execs()] == [scripts.sh_argv(probe())]
    assert linux.oplog.mutations("lin01") == []


# -- command lines ---------------------------------------------------------------------------------------------------
def test_become_runs_under_sudo_without_a_password_prompt(linux: LinuxHost) -> None:
    conn = SSHConnection(linux.host(become=True), ConnectOptions())
    command, stdin = conn.command_for(probe("x'; rm -rf /"))
    words = command.split(" ")
    assert words[:5] == ["sudo", "-n", "/bin/sh", "-s", "--"]
    assert all(B64_TOKEN.match(w) for w in words[5:])
    assert stdin == scripts.sh_stdin(probe())
    assert PASSWORD not in command


def test_a_powershell_operation_over_ssh_is_the_bootstrap_and_the_envelope(linux: LinuxHost) -> None:
    value = "x'; Remove-Item C:\\ # $(reboot)"
    op = read("common/registry_get.ps1", path=value, name="`n")
    conn = SSHConnection(linux.host(password_file=str(linux.password_file)), ConnectOptions())
    command, stdin = conn.command_for(op)
    words = command.split(" ")
    fixed = ["powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand"]
    assert words[:-1] == fixed
    assert B64_TOKEN.match(words[-1])
    assert base64.b64decode(words[-1]).decode("utf-16-le") == base64.b64decode(
        scripts.powershell_encoded_bootstrap()
    ).decode("utf-16-le")
    assert stdin == scripts.powershell_stdin(op)
    envelope, args, body, _library = scripts.decode_powershell_stdin(stdin)
    assert args == {"path": value, "name": "`n"}
    assert envelope["script"] == "common/registry_get.ps1"
    assert body == scripts.script_text("common/registry_get.ps1")
    assert value not in command and PASSWORD not in command and stdin.isascii()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("jump.example:2222", (None, "jump.example", 2222)),
        ("ops@jump", ("ops", "jump", 22)),
        ("ops@127.0.0.1:2200", ("ops", "127.0.0.1", 2200)),
        ("ops@[::1]:2200", ("ops", "::1", 2200)),
    ],
)
def test_proxy_jump_spec(spec: str, expected: tuple[str | None, str, int]) -> None:
    assert parse_jump(spec) == expected


def test_proxy_jump_spec_with_a_bad_port() -> None:
    with pytest.raises(ConfigError):
        parse_jump("ops@jump:ssh")


# -- jump host ---------------------------------------------------------------------------------------------------
@pytest.fixture
def jump(linux: LinuxHost) -> Iterator[SSHServer]:
    """A second lab host to jump through, its key in the same known_hosts."""
    hosts = linux.dir / "hosts"
    state = HostState(hosts / "jump01.yml")
    state.write({"name": "jump01", "os": "linux", "faults": {}, "machine": {}})
    public = write_keypair(linux.dir / "jump_host_key")
    server = SSHServer(
        state,
        linux.oplog,
        users={USER: PASSWORD},
        authorized_keys=[Path(str(linux.client_key) + ".pub").read_text()],
        host_key_path=str(linux.dir / "jump_host_key"),
    )
    server.start()
    server.public = public  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def test_proxy_jump_reaches_the_host_through_a_jump_host(linux: LinuxHost, jump: SSHServer) -> None:
    with open(linux.known_hosts, "a", encoding="ascii") as fh:
        fh.write(f"[127.0.0.1]:{jump.port} {jump.public}\n")  # type: ignore[attr-defined]
    host = linux.host(proxy_jump=f"{USER}@127.0.0.1:{jump.port}")
    with SSHConnection(host, ConnectOptions(retry=ONCE)) as conn:
        for value in ("a", "b"):
            assert conn.run(probe(value)).data["echo"] == [value]
    assert jump.connections == 1 and jump.execs == 0
    assert linux.server.connections == 1 and linux.server.execs == 2


def test_an_unknown_jump_host_key_is_refused(linux: LinuxHost, jump: SSHServer) -> None:
    host = linux.host(proxy_jump=f"{USER}@127.0.0.1:{jump.port}")
    with SSHConnection(host, ConnectOptions(retry=FAST)) as conn, pytest.raises(HostKeyError) as info:
        conn.run(probe())
    assert f"[127.0.0.1]:{jump.port}" not in linux.known_hosts.read_text()
    assert str(jump.port) in str(info.value)
    assert linux.server.connections == 0


# -- over the lab -------------------------------------------------------------------------------------------------
def test_ping_over_a_lab_linux_host(lab: Any) -> None:
    from remediate.connection import connect
    from remediate.ping import Ping

    lab.add_linux("lin01")
    lab.start()
    with connect(lab.host("lin01"), ConnectOptions(retry=ONCE)) as conn:
        assert isinstance(conn, SSHConnection)
        state = Ping().check(conn)
    assert state["echo"] == "pong" and state["kernel"]


def test_become_runs_the_script_under_sudo_on_a_lab_host(lab: Any) -> None:
    lab.add_linux("lin01")
    lab.start()
    host = lab.host("lin01")
    host.vars["become"] = True
    with SSHConnection(host, ConnectOptions(retry=ONCE)) as conn:
        assert conn.run(probe("$(id)")).data["echo"] == ["$(id)"]
    [entry] = [e for e in lab.oplog.entries("lin01") if e["op"] == "exec"]
    assert entry["command"].startswith("sudo -n /bin/sh -s -- ")
