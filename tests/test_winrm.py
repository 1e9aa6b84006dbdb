"""WinRM end to end: the real pywinrm client (through WinRMConnection) against the lab's WS-Management listener.

Every test starts a real listener on 127.0.0.1 over a host state file built from the default Windows model.
"""

from __future__ import annotations

import base64
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from remediate.inventory.host import Host
from remediate.lab import pki
from remediate.lab.state import HostState, OpLog
from remediate.lab.windows.model import default_machine
from remediate.lab.windows.wsman import WinRMServer
from winrm.protocol import Protocol

from remediate import scripts
from remediate.connection import ConnectOptions
from remediate.connection.winrm import WinRMConnection
from remediate.errors import (
    AuthenticationError,
    ConfigError,
    DryRunRefused,
    RemoteScriptError,
    TLSVerificationError,
    TransientError,
)
from remediate.operation import Operation, read
from remediate.retry import RetryPolicy

PASSWORD = "Lab:Pass w0rd!"  # a colon and a space: the NTLM user store must cope
TINY_RETRY = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0.0)
HOSTILE = [
    "x'; Remove-Item C:\\ #",
    "$(Stop-Computer)",
    "`whoami` and `$env:COMPUTERNAME`",
    "a \"double\" and 'single' quote",
    "line one\nline two\r\nline three",
    "日本語のテキスト",
    "tab\there; & | < > %PATH% ^",
    "]]><!-- -->",
]


@dataclass
class WinHost:
    host: Host
    server: WinRMServer
    state: HostState
    oplog: OpLog
    pki_dir: Path

    def connect(self, **options: Any) -> WinRMConnection:
        options.setdefault("retry", TINY_RETRY)
        return WinRMConnection(self.host, ConnectOptions(**options))

    def faults(self, **faults: Any) -> None:
        with self.state.edit() as data:
            data["faults"] = {**(data.get("faults") or {}), **faults}
            for key in [k for k, v in data["faults"].items() if v is None]:
                del data["faults"][key]


@pytest.fixture(scope="module")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    pki.write_lab_pki(directory)
    return directory


@pytest.fixture
def win(tmp_path: Path, lab_pki: Path) -> Iterator[Any]:
    """A factory of started lab hosts: ``win(scheme="http", transport="ntlm", faults={}, language="en-US")``."""
    servers: list[WinRMServer] = []
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")

    def make(
        scheme: str = "http",
        transport: str = "ntlm",
        faults: dict[str, Any] | None = None,
        language: str = "en-US",
        name: str = "win01",
        tls: tuple[str, str] | None = None,
        **host_vars: Any,
    ) -> WinHost:
        state = HostState(tmp_path / f"{name}.yml")
        state.write(
            {
                "name": name,
                "os": "windows",
                "user": "labadmin",
                "faults": dict(faults or {}),
                "machine": default_machine(language, hostname=name.upper()),
            }
        )
        oplog = OpLog(tmp_path / "oplog.jsonl")
        if scheme == "https" and tls is None:
            tls = (str(lab_pki / "server.pem"), str(lab_pki / "server.key"))
        server = WinRMServer(state, oplog, users={"labadmin": PASSWORD}, tls=tls if scheme == "https" else None)
        server.captured = []
        server.start()
        servers.append(server)
        vars_: dict[str, Any] = {
            "winrm_scheme": scheme,
            "winrm_transport": transport,
            "password_file": str(secret),
            **host_vars,
        }
        if scheme == "https":
            vars_.setdefault("winrm_ca_trust_path", str(lab_pki / "ca.pem"))
        host = Host(name, "127.0.0.1", server.port, "windows", "winrm", "labadmin", ["lab"], vars_)
        return WinHost(host, server, state, oplog, lab_pki)

    yield make
    for server in servers:
        server.stop()


def probe(echo: Any = "pong", **kw: Any) -> Operation:
    return read("common/probe.ps1", echo=echo, **kw)


def stdin_payloads(server: WinRMServer) -> list[bytes]:
    """The stdin bytes of every Send the server received (decoded from their SOAP envelopes)."""
    out = []
    ns = {"rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"}
    for body in server.captured or []:
        root = ET.fromstring(body)
        for stream in root.iter("{{{}}}Stream".format(ns["rsp"])):
            out.append(base64.b64decode(stream.text or ""))
    return out


# -- transports ------------------------------------------------------------------------------------------------------
def test_ntlm_over_http_encrypts_every_message(win) -> None:
    h = win(scheme="http", transport="ntlm")
    with h.connect() as conn:
        result = conn.run(probe())
        assert conn._protocol is not None and conn._protocol.transport.encryption is not None
    assert result.ok and result.data["echo"] == "pong"
    assert result.data["hostname"] == "WIN01"
    # Create, Command, Send, Receive and Delete all travelled sealed (MS-WSMV multipart/encrypted); deleting the
    # shell ends the finished command, so no Signal is sent for it.
    assert h.server.stats["encrypted_requests"] >= 5
    assert h.server.stats["signals"] == 0
    assert h.server.stats["encrypted_requests"] == len(h.server.captured)


def test_basic_over_https_validates_the_lab_ca(win) -> None:
    h = win(scheme="https", transport="basic")
    with h.connect() as conn:
        result = conn.run(probe())
    assert result.data == {
        "hostname": "WIN01",
        "os_version": "10.0.20348.0",
        "ps_version": "5.1.20348.2400",
        "codepage": 65001,  # the shell's WINRS_CODEPAGE, as remediate asks for it
        "oem_codepage": 437,
        "language": "en-US",
        "echo": "pong",
    }
    assert h.server.stats["encrypted_requests"] == 0  # TLS protects it; no message encryption over https


def test_ntlm_over_https_with_channel_binding(win) -> None:
    h = win(scheme="https", transport="ntlm")
    with h.connect() as conn:
        assert conn.run(probe()).data["echo"] == "pong"
    assert h.server._cbt is not None  # the listener checked the client's tls-server-end-point binding


def test_default_ports_and_path() -> None:
    https = WinRMConnection(Host("w", "10.0.0.4", None, "windows", "winrm", "u", [], {}))
    http = WinRMConnection(
        Host("w", "10.0.0.4", None, "windows", "winrm", "u", [], {"winrm_scheme": "http", "winrm_path": "wsman"})
    )
    assert https.endpoint.url == "https://10.0.0.4:5986/wsman"
    assert http.endpoint.url == "http://10.0.0.4:5985/wsman"
    assert https.endpoint.validate_tls and https.endpoint.transport == "ntlm"


def test_basic_over_http_is_refused_unless_allowed(win) -> None:
    h = win(scheme="http", transport="basic")
    with pytest.raises(ConfigError, match="Basic authentication over plain HTTP"):
        h.connect()
    assert h.server.stats["requests"] == 0
    h.host.vars["winrm_allow_basic_over_http"] = True
    with h.connect() as conn:
        assert conn.run(probe()).ok


# -- values travel as data ---------------------------------------------------------------------------------------------
def test_hostile_values_come_back_byte_identical_and_never_travel_as_text(win) -> None:
    h = win(scheme="http", transport="ntlm")
    with h.connect() as conn:
        result = conn.run(probe(echo=HOSTILE))
        single = conn.run(probe(echo=HOSTILE[0]))
    assert result.data["echo"] == HOSTILE
    assert single.data["echo"] == HOSTILE[0]
    # The decrypted SOAP envelopes: no hostile value in any of them, not even in the stdin stream.
    bodies = b"\n".join(h.server.captured)
    stdins = stdin_payloads(h.server)
    assert stdins, "the operations went on stdin"
    for value in HOSTILE:
        for piece in [value, *value.split("\n")]:
            piece = piece.strip()
            if len(piece) < 3:
                continue
            assert piece.encode("utf-8") not in bodies
            assert all(piece.encode("utf-8") not in s for s in stdins)
    # Stdin is pure ASCII (the envelope, the separator, the packaged script text).
    assert all(s.isascii() for s in stdins)
    for s in stdins:
        head = s.split(b"\n", 1)[0]
        assert re.fullmatch(
            rb'\{"library_sha256": "[0-9a-f]{64}", "ops": \[\{"args": "[A-Za-z0-9+/=]+", '
            rb'"script": "common/probe\.ps1", "sha256": "[0-9a-f]{64}"\}\], "v": 2\}',
            head,
        )
    # The command line is only the fixed bootstrap, never the script and never a value.
    _exe, args = scripts.powershell_command()
    for body in h.server.captured:
        if b"<rsp:CommandLine>" in body:
            assert f"<rsp:Arguments>{' '.join(args)}</rsp:Arguments>".encode() in body


def test_japanese_host_probe_round_trip(win) -> None:
    h = win(scheme="https", transport="ntlm", language="ja-JP")
    with h.connect() as conn:
        result = conn.run(probe(echo="日本語"))
        assert conn.codepage_hint == 932  # the OEM code page, learned from the probe
    assert result.data["language"] == "ja-JP" and result.data["codepage"] == 65001
    assert result.data["oem_codepage"] == 932
    assert result.data["echo"] == "日本語"


# -- failures a person can act on ----------------------------------------------------------------------------------
def test_untrusted_certificate_is_a_tls_error_and_not_retried(win, tmp_path: Path) -> None:
    other = tmp_path / "other-ca"
    pki.make_ca(other, "somebody else's CA")
    cert = pki.server_cert(other)
    h = win(scheme="https", transport="ntlm", tls=(str(cert.cert), str(cert.key)))
    conn = h.connect()
    with pytest.raises(TLSVerificationError) as info:
        conn.run(probe())
    assert conn.records[-1].attempts == 1
    assert h.server.stats["requests"] == 0
    assert "--ca-bundle" in str(info.value)


def test_ignoring_certificate_validation_is_explicit_and_loud(win, tmp_path: Path) -> None:
    import structlog

    other = tmp_path / "other-ca"
    pki.make_ca(other, "somebody else's CA")
    cert = pki.server_cert(other)
    h = win(scheme="https", transport="ntlm", tls=(str(cert.cert), str(cert.key)))
    with structlog.testing.capture_logs() as logs:
        conn = WinRMConnection(h.host, ConnectOptions(insecure_skip_tls_verify=True, retry=TINY_RETRY))
        with conn:
            assert conn.run(probe()).ok
    warnings = [e for e in logs if e["event"] == "tls_verification_disabled"]
    assert warnings and warnings[0]["log_level"] == "warning"


def test_wrong_password_is_an_authentication_error_tried_once(win, tmp_path: Path) -> None:
    h = win(scheme="http", transport="ntlm")
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    h.host.vars["password_file"] = str(wrong)
    conn = h.connect()
    with pytest.raises(AuthenticationError) as info:
        conn.run(probe())
    assert conn.records[-1].attempts == 1
    assert "not-the-password" not in str(info.value) and PASSWORD not in str(info.value)
    assert [e["op"] for e in h.oplog.entries()] == ["auth-failed"]


def test_wrong_password_over_basic(win, tmp_path: Path) -> None:
    h = win(scheme="https", transport="basic")
    h.host.vars["password_file"] = str(tmp_path / "wrong")
    (tmp_path / "wrong").write_text("nope-nope\n")
    conn = h.connect()
    with pytest.raises(AuthenticationError):
        conn.run(probe())
    assert conn.records[-1].attempts == 1


def test_reject_auth_fault(win) -> None:
    h = win(scheme="http", transport="ntlm", faults={"reject_auth": True})
    conn = h.connect()
    with pytest.raises(AuthenticationError):
        conn.run(probe())
    assert any(e["op"] == "fault:reject_auth" and not e["mutating"] for e in h.oplog.entries())
    h.faults(reject_auth=None)
    with h.connect() as again:
        assert again.run(probe()).ok


def test_http_500_twice_then_success_on_the_third_attempt(win) -> None:
    h = win(scheme="http", transport="ntlm", faults={"http_5xx": 2})
    with h.connect() as conn:
        result = conn.run(probe())
    assert result.ok and result.attempts == 3
    assert h.state.read()["faults"]["http_5xx"] == 0
    served = [e for e in h.oplog.entries() if e["op"] == "fault:http_5xx"]
    assert len(served) == 2 and not any(e["mutating"] for e in served)


def test_refused_connections_are_transient_and_recover(win) -> None:
    h = win(scheme="http", transport="ntlm")
    with h.connect() as conn:
        assert conn.run(probe()).ok
        h.faults(refuse_connections=True)
        with pytest.raises(TransientError) as info:
            conn.run(probe())
        assert conn.records[-1].attempts == 3
        assert "Connection" in (info.value.remote or "") or "refused" in str(info.value).lower()
        # ECONNREFUSED now, at the TCP level
        import socket

        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", h.server.port), timeout=2).close()
        h.faults(refuse_connections=None)
        for _ in range(100):  # the listener comes back on the same port
            try:
                socket.create_connection(("127.0.0.1", h.server.port), timeout=2).close()
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        else:
            pytest.fail("the listener did not come back after 100 tries")
        assert conn.run(probe()).ok


def test_refused_from_the_start(win) -> None:
    h = win(scheme="https", transport="basic", faults={"refuse_connections": True})
    conn = h.connect()
    with pytest.raises(TransientError):
        conn.run(probe())
    assert conn.records[-1].attempts == 3
    assert h.server.stats["requests"] == 0


def test_connection_dropped_mid_command_is_transient(win) -> None:
    h = win(scheme="http", transport="ntlm", faults={"drop_mid_command": True})
    conn = h.connect()
    with pytest.raises(TransientError):
        conn.run(probe())
    assert conn.records[-1].attempts == 3
    assert len([e for e in h.oplog.entries() if e["op"] == "fault:drop_mid_command"]) == 3
    h.faults(drop_mid_command=None)
    assert conn.run(probe()).ok  # the next attempt reconnects: a new shell
    assert h.server.stats["shells_created"] == 4


def test_hung_script_survives_operation_timeouts_until_our_deadline(win) -> None:
    h = win(
        scheme="http",
        transport="ntlm",
        faults={"hang_script": "common/probe.ps1", "hang_seconds": 6},
        winrm_operation_timeout=1,
        winrm_read_timeout=5,
    )
    conn = h.connect()
    with pytest.raises(RemoteScriptError, match="time limit") as info:
        conn.run(probe(timeout=2.5))
    assert info.value.hint
    # each receive was answered w:TimedOut after the 1 s operation timeout and the client kept waiting, then
    # stopped at its own 2.5 s limit: well before the 6 receives the hung script would have taken
    assert 2 <= h.server.stats["receives"] <= 4
    assert h.server.stats["signals"] == 1  # then it stopped the command
    assert conn.records[-1].attempts == 1


def test_latency_is_served(win) -> None:
    h = win(scheme="https", transport="basic", faults={"latency_ms": 50})
    with h.connect() as conn:
        result = conn.run(probe())
    assert result.ok and result.duration >= 0.05 * 4


def test_dry_run_sends_nothing_for_a_mutating_operation(win) -> None:
    h = win(scheme="http", transport="ntlm")
    conn = h.connect(dry_run=True)
    with pytest.raises(DryRunRefused):
        conn.run(Operation("common/probe.ps1", {"echo": "x"}, mutating=True))
    assert h.server.stats["requests"] == 0
    assert h.oplog.entries() == []
    assert conn.run(probe()).ok  # a read-only one still runs in dry-run


def test_one_shell_serves_every_operation(win) -> None:
    h = win(scheme="http", transport="ntlm")
    with h.connect() as conn:
        for i in range(4):
            assert conn.run(probe(echo=i)).data["echo"] == i
        assert conn.shells_opened == 1
    assert h.server.stats["shells_created"] == 1
    assert h.server.stats["commands"] == 4
    assert h.server.stats["shells_deleted"] == 1  # closed with the connection


def test_a_failing_script_is_a_remote_script_error_with_the_remote_words(win) -> None:
    from remediate.operation import mutate

    h = win(scheme="https", transport="basic")
    with h.connect() as conn:
        with pytest.raises(RemoteScriptError) as info:
            conn.run(mutate("common/service_control.ps1", name="NoSuchService", action="start"))
        assert conn.records[-1].attempts == 1  # a script's own failure is never retried
        result = conn.run(mutate("common/service_control.ps1", name="NoSuchService", action="start"), check=False)
    assert info.value.remote == "Cannot find any service with service name 'NoSuchService'."
    assert result.exited == 1 and result.error == info.value.remote and result.data is None


# -- Windows' own limits -------------------------------------------------------------------------------------------
def test_command_line_limit_like_windows(win) -> None:
    h = win(scheme="https", transport="basic")
    assert len(scripts.powershell_command_line()) < 8191
    p = Protocol(
        h.server.url, transport="basic", username="labadmin", password=PASSWORD, ca_trust_path=str(h.pki_dir / "ca.pem")
    )
    shell = p.open_shell()
    try:
        command = p.run_command(shell, "powershell.exe", ["-Command", "Write-Output " + "x" * 8200])
        out, err, code = p.get_command_output(shell, command)
        p.cleanup_command(shell, command)
    finally:
        p.close_shell(shell)
    assert code == 1 and out == b""
    assert err.strip() == b"The command line is too long."


def test_unknown_command_fails_in_the_hosts_language_and_code_page(win) -> None:
    from remediate.connection import clixml
    from remediate.connection.codepage import decode_console

    h = win(scheme="https", transport="basic", language="ja-JP")
    p = Protocol(
        h.server.url, transport="basic", username="labadmin", password=PASSWORD, ca_trust_path=str(h.pki_dir / "ca.pem")
    )
    shell = p.open_shell(codepage=932)
    try:
        command = p.run_command(shell, "Get-Nothing")
        _out, err, code = p.get_command_output(shell, command)
    finally:
        p.close_shell(shell)
    assert code == 1
    with pytest.raises(UnicodeDecodeError):
        err.decode("utf-8")  # Shift-JIS bytes on the wire
    text = clixml.readable(decode_console(err))  # no hint: recognised as Japanese
    assert text.startswith("用語 'Get-Nothing' は、コマンドレット")
    assert clixml.readable(decode_console(err, 932)) == text


# -- many hosts in one process -------------------------------------------------------------------------------------
def test_three_hundred_idle_listeners_cost_no_cpu(tmp_path: Path) -> None:
    import threading

    state = HostState(tmp_path / "many.yml")
    state.write({"name": "many", "os": "windows", "user": "labadmin", "faults": {}, "machine": default_machine()})
    oplog = OpLog(tmp_path / "oplog.jsonl")
    threads_before = threading.active_count()
    servers = [WinRMServer(state, oplog, users={"labadmin": PASSWORD}) for _ in range(300)]
    try:
        for s in servers:
            s.start()
        assert len({s.port for s in servers}) == 300
        assert threading.active_count() - threads_before <= 2  # one event loop thread for all of them
        time.sleep(0.2)
        loop_thread = next(t for t in threading.enumerate() if t.name == "lab-wsman")
        ticks0 = _thread_cpu_ticks(loop_thread.native_id)
        cpu0 = time.process_time()
        time.sleep(1.0)
        assert time.process_time() - cpu0 < 0.2  # the whole process, whatever else a test run left behind
        if ticks0 is not None:
            assert _thread_cpu_ticks(loop_thread.native_id) - ticks0 <= 1  # the listeners' thread: asleep
    finally:
        for s in servers:
            s.stop()


def _thread_cpu_ticks(native_id: int | None) -> int | None:
    """User + system CPU clock ticks of one thread of this process (Linux), or None."""
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


# -- what a real Windows shell does with stdin, code pages and language modes --------------------------------------
def _command_options(server: WinRMServer) -> list[dict[str, str]]:
    """The w:OptionSet of every Command request the server received."""
    ns = {
        "s": "http://www.w3.org/2003/05/soap-envelope",
        "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
        "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    }
    found = []
    for body in server.captured or []:
        root = ET.fromstring(body)
        if not (root.findtext("s:Header/a:Action", "", ns) or "").endswith("/Command"):
            continue
        options = root.findall("s:Header/w:OptionSet/w:Option", ns)
        found.append({o.get("Name", ""): (o.text or "").strip() for o in options})
    return found


def test_stdin_is_a_pipe_so_the_bootstrap_reads_to_its_end(win) -> None:
    h = win(scheme="http", transport="ntlm")
    with h.connect() as conn:
        # With a console stdin the bootstrap would wait in ReadToEnd() until this deadline, and fail.
        result = conn.run(probe(timeout=5))
    assert result.ok and result.data["echo"] == "pong"
    assert [o.get("WINRS_CONSOLEMODE_STDIN") for o in _command_options(h.server)] == ["FALSE"]
    assert h.server.stats["console_stdin_hangs"] == 0


@pytest.mark.parametrize("console", [True, False])
def test_lab_console_stdin_never_ends_a_reader_like_windows(win, console: bool) -> None:
    from winrm.exceptions import WinRMOperationTimeoutError

    h = win(scheme="https", transport="basic")
    p = Protocol(
        h.server.url,
        transport="basic",
        username="labadmin",
        password=PASSWORD,
        ca_trust_path=str(h.pki_dir / "ca.pem"),
        operation_timeout_sec=1,
        read_timeout_sec=5,
    )
    exe, args = scripts.powershell_command()
    shell = p.open_shell(codepage=65001)
    try:
        command = p.run_command(shell, exe, args, console_mode_stdin=console)
        p.send_command_input(shell, command, scripts.powershell_stdin(probe()), end=True)
        outcomes = []
        for _ in range(3):
            try:
                out, _err, code, done = p.get_command_output_raw(shell, command)
            except WinRMOperationTimeoutError:
                outcomes.append("timed out")
                continue
            outcomes.append(code if done else "running")
            if done:
                break
        p.cleanup_command(shell, command)
    finally:
        p.close_shell(shell)
    if console:
        assert outcomes == ["timed out"] * 3  # the reader never sees the end of its input
        assert h.server.stats["console_stdin_hangs"] == 1 and h.server.stats["signals"] == 1
        assert [e["op"] for e in h.oplog.entries()] == ["console-stdin-wait"]
    else:
        assert outcomes == [0] and scripts.split_result(out.decode())[0]["data"]["echo"] == "pong"


@pytest.mark.parametrize(("asked", "reported"), [(65001, 65001), (932, 932), (437, 437)])
def test_lab_shell_reports_the_code_page_it_was_started_with(win, asked: int, reported: int) -> None:
    h = win(scheme="https", transport="basic", language="ja-JP")
    p = Protocol(
        h.server.url, transport="basic", username="labadmin", password=PASSWORD, ca_trust_path=str(h.pki_dir / "ca.pem")
    )
    exe, args = scripts.powershell_command()
    shell = p.open_shell(codepage=asked)
    try:
        command = p.run_command(shell, exe, args, console_mode_stdin=False)
        p.send_command_input(shell, command, scripts.powershell_stdin(probe()), end=True)
        out, _err, code = p.get_command_output(shell, command)
    finally:
        p.close_shell(shell)
    data = scripts.split_result(out.decode("ascii"))[0]["data"]
    assert code == 0 and data["codepage"] == reported and data["oem_codepage"] == 932


def test_constrained_language_mode_is_named_with_what_to_do(win) -> None:
    h = win(scheme="http", transport="ntlm")
    with h.state.edit() as data:
        data["machine"]["language_mode"] = "ConstrainedLanguage"
    conn = h.connect()
    with pytest.raises(RemoteScriptError) as info:
        conn.run(probe())
    assert conn.records[-1].attempts == 1  # nothing transient about it
    assert "ConstrainedLanguage" in info.value.message and "AppLocker or WDAC" in info.value.message
    assert "AppLocker" in info.value.hint and "Script Enforcement" in info.value.hint
    assert [e["op"] for e in h.oplog.entries()] == ["language-mode"]
    conn.close()


def test_lab_constrained_language_fails_a_bootstrap_that_does_not_check_first(tmp_path: Path) -> None:
    """What a host in ConstrainedLanguage does with a bootstrap that calls [Console] first (the old one)."""
    from remediate.lab.windows.powershell import CLM_METHOD_ERROR, _restricted, checks_language_mode_first

    current = scripts.bootstrap_text()
    assert checks_language_mode_first(current)
    start = current.index("if ($ExecutionContext")
    unchecked = current[:start] + current[current.index("$ErrorActionPreference") :]
    assert not checks_language_mode_first(unchecked)
    done = _restricted("ConstrainedLanguage", unchecked, "cp437")
    assert done.exit_code == 1 and done.stdout == b"" and CLM_METHOD_ERROR.encode() in done.stderr
    done = _restricted("ConstrainedLanguage", current, "cp437")
    assert scripts.language_mode(done.stdout.decode()) == "ConstrainedLanguage"


def test_a_host_in_constrained_language_ends_failed_with_the_reason(tmp_path: Path) -> None:
    from lab_run import lab_run

    with lab_run(tmp_path, "constrained-language") as run:
        result, _ = run.run("vss-writers", assume_yes=True)
        assert result.status == "failed"
        assert "ConstrainedLanguage" in result.reason and "AppLocker" in result.reason
        assert run.mutations() == []
        assert [e["op"] for e in run.lab.oplog.entries()] == ["language-mode"]  # one probe, nothing more sent


def test_ntlm_password_hashes_are_derived_once_per_process(win, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyspnego derives the LM hash with a pure-Python DES for every new context (~0.7 ms a host); remediate
    hands it the hashes, derived once per password. Counted on pyspnego's own DES, which still runs."""
    import spnego._ntlm_raw.crypto as crypto

    from remediate.connection.winrm import ntlm_hashes
    from remediate.log import scrub

    hosts = [win(scheme="http", transport="ntlm", name=f"win0{i}") for i in (1, 2, 3)]  # (the lab hashes too)
    calls = []
    real_des = crypto.des
    monkeypatch.setattr(crypto, "des", lambda *a: calls.append(1) or real_des(*a))
    ntlm_hashes.cache_clear()
    for h in hosts:
        with h.connect() as conn:
            assert conn.run(probe()).ok
    assert len(calls) == 2  # the LM hash of one password: two DES blocks, once (three hosts cost six before)
    hashes = ntlm_hashes(PASSWORD)
    assert re.fullmatch(r"[0-9a-f]{32}:[0-9a-f]{32}", hashes)
    assert scrub(f"auth with {hashes}") == "auth with ********"  # as secret as the password


def test_a_wrong_password_still_fails_with_hashes(win, tmp_path: Path) -> None:
    h = win(scheme="https", transport="ntlm")
    (tmp_path / "wrong").write_text("Not-The-Passw0rd\n")
    h.host.vars["password_file"] = str(tmp_path / "wrong")
    with pytest.raises(AuthenticationError):
        h.connect().run(probe())
