"""The lab's SSH server: a paramiko ``ServerInterface`` that runs exec requests in a real ``/bin/sh``.

One :class:`SSHServer` per lab Linux host, each on its own port of 127.0.0.1; a process can serve hundreds of
them because every listening socket is watched by one shared acceptor thread, and a thread exists only for a
connection being set up, a live connection (paramiko's transport) and a running command.

An exec request runs ``/bin/sh -c COMMAND`` in the host's lab directory with the environment of
:func:`lab.linux.host.exec_environment` (the host's command shims first on ``PATH``), stdin, stdout and stderr
piped through the channel, and the exit status sent back. Each exec is recorded in the lab's operation log as
``op="exec"`` (read-only: the shims record the mutations), with the SHA-256 of its stdin and the packaged
script that stdin carries, when it is one.

Faults, read from the host's state file at each connection and each exec (``faults:``):

``latency_ms``          wait this long before answering a connection and before each exec
``refuse_connections``  reset new connections (``true``, or a count that goes down at each refusal)
``reject_auth``         every authentication fails
``changed_host_key``    present a freshly generated host key instead of the host's own
``drop_mid_command``    run the command to its end, then drop the connection before its exit status (``true``, a
                        count, or a packaged script's path such as ``common/probe.sh``: only that script)
``drop_before_command`` drop the connection when an exec request arrives, before anything runs (``true`` or a count)
``hang_exec``           every exec hangs (nothing runs) until the client gives up
``hang_script``         an exec whose stdin is this packaged script (``common/probe.sh``) hangs likewise

Port forwarding to 127.0.0.1 is allowed, so one lab host can serve as the jump host (``proxy_jump``) of others.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import logging
import os
import select
import selectors
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import paramiko
from remediate.lab.state import HostState, OpLog, consume_fault

_CHUNK = 32768
# paramiko's log of the server side: a client that hangs up is routine here, not an error worth a line
TRANSPORT_LOG = "lab.sshd.transport"
logging.getLogger(TRANSPORT_LOG).setLevel(logging.CRITICAL)
_HANG_LIMIT = 3600.0


# -- one acceptor thread for every lab SSH server of the process ---------------------------------------------------
class _Acceptor:
    """Watches every listening socket with one selector; hands each accepted socket to its server."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._pending: list[tuple[str, socket.socket, Callable[[socket.socket], None] | None, threading.Event]] = []
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread: threading.Thread | None = None

    def add(self, sock: socket.socket, on_accept: Callable[[socket.socket], None]) -> None:
        self._change("add", sock, on_accept)

    def remove(self, sock: socket.socket) -> None:
        self._change("remove", sock, None)

    def _change(self, what: str, sock: socket.socket, cb: Callable[[socket.socket], None] | None) -> None:
        done = threading.Event()
        with self._lock:
            self._pending.append((what, sock, cb, done))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="lab-sshd-accept", daemon=True)
                self._thread.start()
        self._wake_w.send(b"x")
        done.wait(5)

    def _apply(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for what, sock, cb, done in pending:
            with contextlib.suppress(KeyError, ValueError, OSError):
                if what == "add":
                    self._selector.register(sock, selectors.EVENT_READ, cb)
                else:
                    self._selector.unregister(sock)
            done.set()

    def _loop(self) -> None:
        while True:
            self._apply()
            for key, _ in self._selector.select():
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                    continue
                try:
                    conn, _addr = key.fileobj.accept()  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    with contextlib.suppress(KeyError, ValueError):
                        self._selector.unregister(key.fileobj)
                    continue
                conn.setblocking(True)
                with contextlib.suppress(OSError):  # small request/response packets: no Nagle delay
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    key.data(conn)
                except Exception:  # one bad connection must not end the acceptor of every host
                    conn.close()


_ACCEPTOR = _Acceptor()


# -- helpers -------------------------------------------------------------------------------------------------------
@cache
def _packaged_sh_scripts() -> dict[str, str]:
    """SHA-256 of the stdin our client sends for each packaged sh script -> the script's path."""
    from remediate import scripts
    from remediate.operation import Operation

    root = scripts.scripts_root()
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*.sh")):
        rel = path.relative_to(root).as_posix()
        with contextlib.suppress(Exception):
            out[hashlib.sha256(scripts.sh_stdin(Operation(rel))).hexdigest()] = rel
    return out


def _fallback_environment(state: HostState, oplog: OpLog) -> dict[str, str]:
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "HOME": str(_host_dir(state)),
        "REMEDIATE_LAB_STATE": str(state.path),
        "REMEDIATE_LAB_OPLOG": str(oplog.path),
        "REMEDIATE_LAB_HOST": state.name,
    }


def exec_environment(state: HostState, oplog: OpLog) -> dict[str, str]:
    """The environment a command of this lab host runs with (the Linux model's, when it is there)."""
    try:
        from remediate.lab.linux.host import exec_environment as model_environment
    except ImportError:
        return _fallback_environment(state, oplog)
    return dict(model_environment(state, oplog))


def _host_dir(state: HostState) -> Path:
    return state.path.parent / state.name


def parse_public_key(line: str) -> tuple[str, bytes] | None:
    """An OpenSSH public key line (``ssh-ed25519 AAAA... comment``) as ``(type, blob)``."""
    parts = line.split()
    for i, part in enumerate(parts[:-1]):
        if part.startswith(("ssh-", "ecdsa-", "sk-")):
            try:
                return part, base64.b64decode(parts[i + 1], validate=True)
            except ValueError:
                return None
    return None


def generate_host_key() -> paramiko.PKey:
    """A fresh Ed25519 key (for the ``changed_host_key`` fault)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return paramiko.Ed25519Key(file_obj=io.StringIO(pem.decode("ascii")))


# -- the server ----------------------------------------------------------------------------------------------------
class SSHServer:
    """One lab Linux host reachable over SSH on ``bind:port``."""

    def __init__(
        self,
        state: HostState,
        oplog: OpLog,
        *,
        users: dict[str, str],
        authorized_keys: list[str],
        host_key_path: str,
        bind: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = state
        self.oplog = oplog
        self.users = dict(users)
        self.authorized = {k for k in (parse_public_key(line) for line in authorized_keys) if k is not None}
        self.host_key = paramiko.PKey.from_path(host_key_path)
        self.bind = bind
        self.port = port
        self.connections = 0  # SSH connections accepted (refused ones included)
        self.execs = 0  # exec requests received
        self.delays = 0  # answers held back by the latency_ms fault
        self._sock: socket.socket | None = None
        self._transports: set[paramiko.Transport] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def name(self) -> str:
        return self.state.name

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.bind, self.port))
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._stopped.clear()
        _ACCEPTOR.add(sock, self._on_accept)

    def stop(self) -> None:
        self._stopped.set()
        if self._sock is not None:
            _ACCEPTOR.remove(self._sock)
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        with self._lock:
            transports, self._transports = list(self._transports), set()
        for t in transports:
            with contextlib.suppress(Exception):
                t.close()

    def __enter__(self) -> SSHServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------------------------
    def faults(self) -> dict[str, Any]:
        try:
            return dict(self.state.read().get("faults") or {})
        except Exception:  # a state file being edited by hand may not parse for a moment
            return {}

    def _consume(self, fault: str) -> bool:
        """Whether ``fault`` is on now; a count goes down by one each time it fires."""
        return consume_fault(self.state, fault, self.faults())

    def _latency(self, faults: dict[str, Any]) -> None:
        ms = faults.get("latency_ms")
        if ms:
            with self._lock:
                self.delays += 1
            time.sleep(float(ms) / 1000.0)

    # -- connections -----------------------------------------------------------------------------------------------
    def _on_accept(self, conn: socket.socket) -> None:
        threading.Thread(target=self._serve, args=(conn,), name=f"lab-sshd-{self.name}", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._serve_connection(conn)
        except Exception:
            with contextlib.suppress(OSError):
                conn.close()

    def _serve_connection(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        faults = self.faults()
        self._latency(faults)
        if self._stopped.is_set() or self._consume("refuse_connections"):
            with contextlib.suppress(OSError):  # a reset, as from a host that refuses
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        transport = paramiko.Transport(conn)
        transport.set_log_channel(TRANSPORT_LOG)
        transport.add_server_key(generate_host_key() if faults.get("changed_host_key") else self.host_key)
        with self._lock:
            self._transports.add(transport)
        interface = _Interface(self, reject_auth=bool(faults.get("reject_auth")))
        try:
            transport.start_server(server=interface)
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()
            self._forget(transport)
            return
        # paramiko's transport thread serves the connection; this one takes the channels it opens
        self._channels(transport, interface)

    def _channels(self, transport: paramiko.Transport, interface: _Interface) -> None:
        """Take every channel the client opens (so none piles up), relay the forwarding ones, then forget."""
        try:
            while transport.is_active() and not self._stopped.is_set():
                chan = transport.accept(1.0)
                if chan is None:
                    continue
                target = interface.forwards.pop(chan.get_id(), None)
                if target is not None:
                    threading.Thread(target=_relay, args=(chan, target), daemon=True).start()
        finally:
            self._forget(transport)

    def _forget(self, transport: paramiko.Transport) -> None:
        with self._lock:
            self._transports.discard(transport)

    # -- authentication --------------------------------------------------------------------------------------------
    def password_ok(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        return expected is not None and hmac.compare_digest(expected.encode("utf-8"), password.encode("utf-8"))

    def key_ok(self, user: str, key: paramiko.PKey) -> bool:
        blob = key.asbytes()
        return user in self.users and any(hmac.compare_digest(blob, b) for _, b in self.authorized)

    # -- exec ------------------------------------------------------------------------------------------------
    def run_exec(self, channel: paramiko.Channel, command: str) -> None:
        with self._lock:
            self.execs += 1
        faults = self.faults()
        self._latency(faults)
        if self._consume("drop_before_command"):
            self.oplog.record(self.name, "fault:drop_before_command", False, command=command)
            transport = channel.get_transport()
            if transport is not None:
                transport.close()
            return
        if faults.get("hang_exec"):
            self._hang(channel, command)
            return
        hang_script = faults.get("hang_script")
        preread = b""
        if hang_script and str(hang_script).endswith(".sh"):
            preread = _read_all(channel)
            digest = hashlib.sha256(preread).hexdigest()
            if _packaged_sh_scripts().get(digest) == hang_script:
                self._hang(channel, command, digest)
                return
        try:
            self._run(channel, command, preread, faults)
        except Exception as exc:
            self.oplog.record(self.name, "exec", False, command=command, error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):
                channel.close()

    def _hang(self, channel: paramiko.Channel, command: str, digest: str | None = None) -> None:
        self.oplog.record(self.name, "exec", False, command=command, stdin_sha256=digest, hung=True)
        deadline = time.monotonic() + _HANG_LIMIT
        while not channel.closed and not self._stopped.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(Exception):
            channel.close()

    def _run(self, channel: paramiko.Channel, command: str, preread: bytes, faults: dict[str, Any]) -> None:
        cwd = _host_dir(self.state)
        cwd.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(cwd),
            env=exec_environment(self.state, self.oplog),
            start_new_session=True,
        )
        digest = hashlib.sha256(preread)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None

        def feed() -> None:
            try:
                if preread:
                    proc.stdin.write(preread)  # type: ignore[union-attr]
                else:
                    while True:
                        data = channel.recv(_CHUNK)
                        if not data:
                            break
                        digest.update(data)
                        proc.stdin.write(data)  # type: ignore[union-attr]
            except (OSError, ValueError):
                pass
            finally:
                with contextlib.suppress(OSError):
                    proc.stdin.close()  # type: ignore[union-attr]

        def pump(stream: Any, send: Callable[[bytes], Any]) -> None:
            try:
                for data in iter(lambda: stream.read1(_CHUNK), b""):
                    send(data)
            except (OSError, EOFError, paramiko.SSHException):
                _kill(proc)

        threads = [
            threading.Thread(target=feed, daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, channel.sendall_stderr), daemon=True),
        ]
        for t in threads:
            t.start()
        pump(proc.stdout, channel.sendall)
        while True:
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if channel.closed or self._stopped.is_set():
                    _kill(proc)
        # Like OpenSSH's sshd: the exit status goes out once the command has exited and its output is drained,
        # whether or not the client ever closes stdin (Ansible's paramiko connection never does).
        threads[1].join()
        stdin_sha = digest.hexdigest()
        script = _packaged_sh_scripts().get(stdin_sha)
        drop = faults.get("drop_mid_command")
        dropped = drop == script if isinstance(drop, str) else self._consume("drop_mid_command")
        self.oplog.record(
            self.name,
            "exec",
            False,
            command=command,
            stdin_sha256=stdin_sha,
            script=script,
            exit=code,
            dropped=dropped,
        )
        if dropped:
            transport = channel.get_transport()
            if transport is not None:
                transport.close()
            return
        channel.send_exit_status(code if code >= 0 else 128 - code)
        with contextlib.suppress(Exception):
            channel.shutdown_write()
        channel.close()


def _read_all(channel: paramiko.Channel) -> bytes:
    chunks = []
    while True:
        data = channel.recv(_CHUNK)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _relay(chan: paramiko.Channel, sock: socket.socket) -> None:
    """Copy bytes both ways between a forwarding channel and its TCP connection until either side ends."""
    try:
        while not chan.closed:
            ready, _, _ = select.select([chan, sock], [], [], 1.0)
            if chan in ready:
                data = chan.recv(_CHUNK)
                if not data:
                    break
                sock.sendall(data)
            if sock in ready:
                data = sock.recv(_CHUNK)
                if not data:
                    break
                chan.sendall(data)
    except (OSError, EOFError, paramiko.SSHException):
        pass
    finally:
        with contextlib.suppress(Exception):
            sock.close()
        with contextlib.suppress(Exception):
            chan.close()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)


class _Interface(paramiko.ServerInterface):
    """What a client may do: authenticate by password or key, open sessions, exec commands."""

    def __init__(self, server: SSHServer, reject_auth: bool) -> None:
        self.server = server
        self.reject_auth = reject_auth
        self.forwards: dict[int, socket.socket] = {}  # channel id -> its connected TCP socket

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_password(self, username: str, password: str) -> int:
        if not self.reject_auth and self.server.password_ok(username, password):
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if not self.reject_auth and self.server.key_ok(username, key):
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_direct_tcpip_request(
        self, chanid: int, origin: tuple[str, int], destination: tuple[str, int]
    ) -> int:
        """Port forwarding (``ssh -J``, fabric's gateway), to this machine only: a lab host can be a jump host."""
        address, port = destination
        if address not in ("127.0.0.1", "localhost"):
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        try:
            sock = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        except OSError:
            return paramiko.OPEN_FAILED_CONNECT_FAILED
        sock.settimeout(None)
        self.forwards[chanid] = sock
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        text = command.decode("utf-8", errors="replace")
        threading.Thread(
            target=self.server.run_exec, args=(channel, text), name=f"lab-exec-{self.server.name}", daemon=True
        ).start()
        return True


__all__ = ["SSHServer", "exec_environment", "generate_host_key", "parse_public_key"]
