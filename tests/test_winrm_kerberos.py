"""WinRM over Kerberos: pywinrm (its requests-kerberos path, on pykerberos) against the lab's WS-Management
endpoint, with tickets from a real MIT KDC that the tests start (``k5test``) in a temporary directory.

The listener accepts with a keytab of ``HTTP/localhost``, as a domain member's WinRM service does with its
machine account, and seals every message with the Kerberos session key (MS-WSMV 2.2.9.1.1) over plain HTTP.
Skipped, with the reason, where the MIT KDC programs (krb5-kdc, krb5-admin-server, krb5-user) are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remediate.inventory.host import Host
from remediate.lab import pki
from remediate.lab.state import HostState, OpLog
from remediate.lab.windows.model import default_machine
from remediate.lab.windows.wsman import WinRMServer

from remediate.connection import ConnectOptions
from remediate.connection.winrm import WinRMConnection
from remediate.errors import AuthenticationError
from remediate.operation import read
from remediate.retry import RetryPolicy

KDC_PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist")
SERVICE = "HTTP/localhost"
TINY_RETRY = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0.0)


def _missing_programs() -> list[str]:
    paths = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return [p for p in KDC_PROGRAMS if shutil.which(p, path=paths) is None]


def _free_port() -> int:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", port))
        return port


@pytest.fixture(scope="module")
def realm() -> Iterator[Any]:
    missing = _missing_programs()
    if missing:
        message = (
            f"MIT Kerberos KDC programs missing ({', '.join(missing)}): "
            "apt-get install krb5-kdc krb5-admin-server krb5-user"
        )
        print(message)
        pytest.skip(message)
    k5test = pytest.importorskip("k5test", reason="k5test is not installed (pip install -e '.[kerberos]')")
    pytest.importorskip("kerberos", reason="pykerberos is not installed (pip install -e '.[kerberos]')")
    pytest.importorskip("gssapi", reason="gssapi is not installed (pip install -e '.[kerberos]')")
    realm = None
    for _attempt in range(3):  # another process may take the port between the probe and the KDC's bind
        try:
            realm = k5test.K5Realm(
                portbase=_free_port(),
                krb5_conf={"libdefaults": {"rdns": "false", "dns_canonicalize_hostname": "false"}},
            )
            break
        except Exception:
            continue
    if realm is None:
        pytest.fail("the MIT KDC did not start on a free port in three attempts")
    keytab = os.path.join(realm.tmpdir, "http.keytab")
    realm.addprinc(f"{SERVICE}@{realm.realm}")
    realm.extract_keytab(f"{SERVICE}@{realm.realm}", keytab)
    realm.http_keytab = keytab
    saved = {k: os.environ.get(k) for k in realm.env}
    os.environ.update(realm.env)
    try:
        yield realm
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        realm.stop()
        shutil.rmtree(realm.tmpdir, ignore_errors=True)


@pytest.fixture
def kerberos_host(
    realm: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Host, WinRMServer, OpLog]]:
    scheme = getattr(request, "param", "http")
    state = HostState(tmp_path / "win01.yml")
    state.write({"name": "win01", "os": "windows", "faults": {}, "machine": default_machine()})
    oplog = OpLog(tmp_path / "oplog.jsonl")
    tls = None
    if scheme == "https":
        pki.write_lab_pki(tmp_path / "pki")
        tls = (str(tmp_path / "pki" / "server.pem"), str(tmp_path / "pki" / "server.key"))
    server = WinRMServer(state, oplog, users={}, kerberos_keytab=realm.http_keytab, tls=tls)
    server.captured = []
    server.start()
    host = Host(
        "win01",
        "localhost",  # the name in the SPN: HTTP/localhost
        server.port,
        "windows",
        "winrm",
        realm.user_princ,
        ["lab"],
        {"winrm_scheme": scheme, "winrm_transport": "kerberos"},
    )
    if scheme == "https":
        host.vars["winrm_ca_trust_path"] = str(tmp_path / "pki" / "ca.pem")
    try:
        yield host, server, oplog
    finally:
        server.stop()


def test_kerberos_with_message_encryption_over_http(kerberos_host) -> None:
    host, server, oplog = kerberos_host
    with WinRMConnection(host, ConnectOptions(retry=TINY_RETRY)) as conn:
        first = conn.run(read("common/probe.ps1", echo="über Kerberos"))
        second = conn.run(read("common/probe.ps1", echo=2))
        transport = conn._protocol.transport
        assert transport.encryption is not None and transport.encryption.protocol == "kerberos"
    assert first.ok and first.data["echo"] == "über Kerberos" and second.data["echo"] == 2
    assert server.stats["kerberos_logons"] == 1  # one AP-REQ; every later request rides on the context
    # Create, then Command, Send and Receive twice, a Signal, Delete: every one sealed with the session key.
    assert server.stats["encrypted_requests"] == len(server.captured) >= 8
    assert [e["op"] for e in oplog.entries()] == ["common/probe.ps1", "common/probe.ps1"]


def test_kerberos_without_a_ticket_is_an_authentication_error_tried_once(
    kerberos_host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, server, oplog = kerberos_host
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty-ccache'}")
    conn = WinRMConnection(host, ConnectOptions(retry=TINY_RETRY))
    with pytest.raises(AuthenticationError) as info:
        conn.run(read("common/probe.ps1"))
    assert conn.records[-1].attempts == 1
    assert "kinit" in (info.value.hint or "")
    assert server.stats["kerberos_logons"] == 0 and oplog.entries() == []


@pytest.mark.parametrize("kerberos_host", ["https"], indirect=True)
def test_kerberos_over_https_relies_on_tls(kerberos_host) -> None:
    host, server, _oplog = kerberos_host
    with WinRMConnection(host, ConnectOptions(retry=TINY_RETRY)) as conn:
        assert conn.run(read("common/probe.ps1", echo="tls")).data["echo"] == "tls"
        assert conn._protocol.transport.encryption is None  # auto: TLS protects it, as with NTLM over https
    assert server.stats["kerberos_logons"] == 1 and server.stats["encrypted_requests"] == 0


def test_a_ticket_for_another_service_is_refused(realm, kerberos_host, tmp_path: Path) -> None:
    """The listener's keytab holds only HTTP/localhost: a host whose SPN resolves elsewhere cannot log on."""
    host, server, oplog = kerberos_host
    other = os.path.join(realm.tmpdir, "other.keytab")
    realm.addprinc(f"HTTP/elsewhere@{realm.realm}")
    realm.extract_keytab(f"HTTP/elsewhere@{realm.realm}", other)
    server.kerberos_keytab = other
    conn = WinRMConnection(host, ConnectOptions(retry=TINY_RETRY))
    with pytest.raises(AuthenticationError):
        conn.run(read("common/probe.ps1"))
    assert conn.records[-1].attempts == 1
    ops = [e["op"] for e in oplog.entries()]
    assert ops and set(ops) == {"auth-failed"}  # the client's own re-tries of the handshake, nothing ran
    assert server.stats["kerberos_logons"] == 0


def test_spnego_wrapped_kerberos_as_windows_clients_send_it(kerberos_host) -> None:
    """Windows' own WinRM client wraps the AP-REQ in SPNEGO (Negotiate); the listener answers with the AP-REP."""
    import base64

    import requests
    import spnego

    host, server, _oplog = kerberos_host
    client = spnego.client(hostname="localhost", service="HTTP", protocol="negotiate")
    token = client.step()
    assert token is not None and token.startswith(b"\x60")  # a GSS-API initial token: SPNEGO's OID inside
    answer = requests.post(
        f"http://localhost:{host.port}/wsman",
        headers={"Authorization": "Negotiate " + base64.b64encode(token).decode(), "Content-Length": "0"},
        timeout=10,
    )
    assert answer.status_code == 200
    scheme, _, reply = answer.headers["WWW-Authenticate"].partition(" ")
    assert scheme == "Negotiate"
    client.step(base64.b64decode(reply))
    assert client.complete and client.negotiated_protocol == "kerberos"
    assert server.stats["kerberos_logons"] == 1


def test_a_remediation_runs_end_to_end_over_kerberos(realm, tmp_path: Path) -> None:
    """vss-writers through the runner on a lab host that only a Kerberos ticket gets into, messages sealed."""
    from remediate.lab import Lab

    from remediate import playbook

    lab = Lab(tmp_path / "lab")
    lab.add_windows("win01", "vss-writers-failed", scheme="http", transport="kerberos")
    with lab.state("win01").edit() as data:
        data["winrm"].update(keytab=realm.http_keytab, principal=realm.user_princ)
    lab.start()
    try:
        host = lab.host("win01")
        assert (host.target, host.user, host.vars["winrm_transport"]) == ("localhost", realm.user_princ, "kerberos")
        options = playbook.RunOptions(
            retry=TINY_RETRY,
            assume_yes=True,
            journal_dir=str(tmp_path / "journal"),
            sleep=lambda s: time.sleep(min(s, 0.1)),  # the writer is stable 0.2 s after its service restarts
        )
        report = playbook.run([host], ["vss-writers"], options)
        (result,) = report.hosts
        assert result.status == "changed", result.reason
        assert [m["op"] for m in lab.oplog.mutations("win01")] == ["common/service_control.ps1"]
        again = playbook.run([host], ["vss-writers"], options).hosts[0]
        assert again.status == "ok" and again.changes == 0
    finally:
        lab.stop()
