"""SSH transport: fabric's ``Connection`` (paramiko underneath), host keys checked by default.

One SSH connection per host, opened on the first operation and reused; each operation is one ``exec``
channel on it. An ``sh`` operation runs ``/bin/sh -s -- B64ARG...`` (under ``sudo -n`` with ``become``) with
the prelude and the script on stdin; a ``.ps1`` operation (a Windows host reached over OpenSSH) runs the fixed
PowerShell bootstrap with the envelope on stdin, exactly as over WinRM. Arguments never reach a command line
except as base64 tokens, and a password never reaches a command line at all.

Host keys: ``known_hosts`` comes from the host's ``known_hosts`` var, ``--known-hosts``, or
``~/.ssh/known_hosts``. An unknown key is refused unless ``accept_new_host_key`` (or
``--accept-new-host-keys``) is set, and then it is appended to that file; a changed key is always refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import select
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko
from fabric import Config
from fabric import Connection as FabricConnection
from paramiko.hostkeys import HostKeyEntry
from paramiko.ssh_exception import (
    AuthenticationException,
    BadHostKeyException,
    NoValidConnectionsError,
    SSHException,
)

from remediate import scripts
from remediate.connection import Connection, ConnectOptions
from remediate.credentials import password_for, user_for
from remediate.errors import AuthenticationError, ConfigError, HostKeyError, TransientError
from remediate.operation import Operation, Result

if TYPE_CHECKING:
    from remediate.inventory.host import Host

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
_READ_CHUNK = 65536
# paramiko's words for a server that did not finish the handshake in time (no banner, no key exchange)
_HANDSHAKE_STALLED = ("protocol banner", "No existing session", "Negotiation timed out")
_EOF_GRACE = 2.0  # seconds to wait for the end of the output once the exit status has arrived


class UnknownHostKey(SSHException):
    """The server's key is in no known_hosts file and new keys are not accepted."""

    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(f"host key for {hostname} is not in known_hosts")
        self.hostname = hostname
        self.key = key


class RefuseUnknownHostKey(paramiko.MissingHostKeyPolicy):
    """Refuse a key never seen before (paramiko's RejectPolicy, with the key kept for the message)."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(hostname, key)


class AcceptNewHostKey(paramiko.MissingHostKeyPolicy):
    """Trust on first use: accept a key for a host never seen before and append it to known_hosts.

    A host whose key changed never reaches this policy: paramiko raises BadHostKeyException first.
    """

    def __init__(self, known_hosts: Path, log: Any) -> None:
        self.known_hosts = known_hosts
        self.log = log

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        line = HostKeyEntry([hostname], key).to_line()
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        with open(self.known_hosts, "a", encoding="ascii") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line)
            fcntl.flock(fh, fcntl.LOCK_UN)
        self.log.warning(
            "ssh_host_key_accepted",
            known_host=hostname,
            key_type=key.get_name(),
            fingerprint=key.fingerprint,
            known_hosts=str(self.known_hosts),
            note="a host key never seen before was trusted and saved; verify it out of band",
        )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def parse_jump(spec: str) -> tuple[str | None, str, int]:
    """``user@host:port`` (user and port optional) -> ``(user, host, port)``."""
    user, _, rest = spec.rpartition("@")
    host, port = rest, 22
    if rest.startswith("["):  # [::1]:2222
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
        try:
            port = int(port_text)
        except ValueError:
            raise ConfigError(f"proxy_jump {spec!r}: the port is not a number", hint="use user@host:port") from None
    if not host:
        raise ConfigError(f"proxy_jump {spec!r} names no host", hint="use user@host:port")
    return (user or None), host, port


class SSHConnection(Connection):
    """A host over SSH. Opens on the first operation; ``close()`` releases the client."""

    kind = "ssh"

    def __init__(self, host: Host, options: ConnectOptions | None = None, log: Any = None) -> None:
        super().__init__(host, options, log)
        self._fabric: FabricConnection | None = None
        self._gateway: FabricConnection | None = None
        self._where = f"{host.target}:{host.port or 22}"  # what is being connected to, for messages

    # -- settings --------------------------------------------------------------------------------------------------
    def _var(self, name: str, default: Any = None) -> Any:
        value = self.host.vars.get(name)
        return default if value is None else value

    @property
    def known_hosts(self) -> Path:
        path = self._var("known_hosts") or self.options.known_hosts or DEFAULT_KNOWN_HOSTS
        return Path(str(path)).expanduser()

    @property
    def accept_new(self) -> bool:
        return bool(self.options.accept_new_host_keys) or _truthy(self._var("accept_new_host_key", False))

    @property
    def become(self) -> bool:
        if self.options.become is not None:
            return bool(self.options.become)
        return _truthy(self._var("become", False))

    @property
    def connect_timeout(self) -> float:
        value = self._var("ssh_connect_timeout")
        return float(value) if value is not None else float(self.options.connect_timeout)

    @property
    def key_file(self) -> str | None:
        value = self._var("ssh_key_file") or self.options.ssh_key_file
        return str(Path(str(value)).expanduser()) if value else None

    @property
    def port(self) -> int:
        return int(self.host.port or 22)

    # -- opening -----------------------------------------------------------------------------------------------------
    def _connect_kwargs(self) -> dict[str, Any]:
        password = password_for(self.host, self.options)
        key_file = self.key_file
        kwargs: dict[str, Any] = {
            "allow_agent": password is None,  # as Ansible: an explicit password means no agent keys first
            "look_for_keys": key_file is None and password is None,
            "banner_timeout": self.connect_timeout,
            "auth_timeout": self.connect_timeout,
        }
        if key_file:
            if not Path(key_file).is_file():
                raise ConfigError(
                    f"host {self.host.name}: ssh_key_file {key_file} does not exist",
                    host=self.host.name,
                    step="connect",
                    hint="fix ssh_key_file in the inventory or --ssh-key-file",
                )
            kwargs["key_filename"] = [key_file]
        if password is not None:
            kwargs["password"] = password
        return kwargs

    def _fabric_connection(self, host: str, port: int, user: str | None, gateway: Any = None) -> FabricConnection:
        config = Config(overrides={"load_ssh_configs": False})
        conn = FabricConnection(
            host,
            user=user,
            port=port,
            config=config,
            gateway=gateway if gateway is not None else False,
            connect_timeout=max(1, round(self.connect_timeout)),
            connect_kwargs=self._connect_kwargs(),
        )
        client: paramiko.SSHClient = conn.client
        known = self.known_hosts
        if known.is_file():
            try:
                _add_known_keys(client, known, host, port)
            except (OSError, SSHException) as exc:
                raise ConfigError(
                    f"cannot read known_hosts {known}: {exc}", host=self.host.name, step="connect"
                ) from None
        policy = AcceptNewHostKey(known, self.log) if self.accept_new else RefuseUnknownHostKey()
        client.set_missing_host_key_policy(policy)
        return conn

    def _open(self) -> FabricConnection:
        if self._fabric is not None and self._fabric.is_connected:
            return self._fabric
        self._drop()
        user = user_for(self.host, self.options)
        gateway = None
        jump = self._var("proxy_jump")
        if jump:
            jump_user, jump_host, jump_port = parse_jump(str(jump))
            gateway = self._fabric_connection(jump_host, jump_port, jump_user or user)
            self._gateway = gateway
        conn = self._fabric_connection(self.host.target, self.port, user, gateway)
        self._fabric = conn
        try:
            if gateway is not None:
                self._where = f"the jump host {gateway.host}:{gateway.port}"
                gateway.open()
                _no_delay(gateway)
            self._where = f"{self.host.target}:{self.port}"
            conn.open()
        except BaseException:
            self._drop()
            raise
        _no_delay(conn)
        self.log.debug("ssh_connected", address=self.host.target, port=self.port, via=str(jump) if jump else None)
        return conn

    def _drop(self) -> None:
        """Forget the client so the next operation reconnects."""
        for conn in (self._fabric, self._gateway):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
        self._fabric = None
        self._gateway = None

    def close(self) -> None:
        self._drop()

    def _abandon(self, op: Operation) -> None:
        """The channel of the command is closed already (which ends it where the server does so on a closed
        channel); forget the connection so that the next operation reconnects."""
        self._drop()

    # -- running ----------------------------------------------------------------------------------------------------
    def command_for(self, op: Operation) -> tuple[str, bytes]:
        """The exact command line and stdin bytes an operation is sent as."""
        if op.shell == "powershell":
            return scripts.powershell_command_line(), scripts.powershell_stdin(op)
        return scripts.sh_argv(op, sudo=self.become), scripts.sh_stdin(op)

    def _execute(self, op: Operation) -> Result:
        command, stdin = self.command_for(op)
        timeout = self.op_timeout(op)
        try:
            conn = self._open()
            exited, out, err = self._exec(conn, command, stdin, timeout)
        except Exception as exc:
            raise self._translate(exc, op) from None
        stdout = out.decode("utf-8", errors="replace")
        stderr = err.decode("utf-8", errors="replace")
        if op.shell == "powershell":
            payload, rest = scripts.split_result(stdout)
            result = Result(stdout=rest, stderr=stderr, exited=exited)
            if payload is not None:
                result.data = payload.get("data")
                error = payload.get("error")
                if error:
                    result.error = str(error.get("message") if isinstance(error, dict) else error)
                if not payload.get("ok", True) and result.exited == 0:
                    result.exited = 1
            elif result.exited == 0:
                result.exited = 1
                result.error = "the PowerShell bootstrap reported no result"
            return result
        data, rest = scripts.split_kv(stdout)
        return Result(stdout=rest, stderr=stderr, exited=exited, data=data)

    def _exec(self, conn: FabricConnection, command: str, stdin: bytes, timeout: float) -> tuple[int, bytes, bytes]:
        """Run one command on a new channel of the open connection: send stdin then EOF, read both streams."""
        chan = conn.create_session()
        try:
            chan.settimeout(timeout)
            self._mark_sent()  # from the exec request on, the command may run: at most once from here
            chan.exec_command(command)
            chan.sendall(stdin)
            chan.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + timeout
            status_seen: float | None = None
            while True:
                got = False
                while chan.recv_ready():
                    out += chan.recv(_READ_CHUNK)
                    got = True
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(_READ_CHUNK)
                    got = True
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    # the output ends with the server's EOF; a server may send the status a little before it
                    if chan.eof_received or chan.closed:
                        break
                    status_seen = status_seen or time.monotonic()
                    if time.monotonic() - status_seen > _EOF_GRACE:
                        break
                if chan.closed or (chan.eof_received and not got and _transport_dead(chan)):
                    raise EOFError("the SSH channel closed before the command's exit status arrived")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the command did not finish within {timeout:.0f}s")
                if not got:
                    select.select([chan], [], [], min(0.05 if status_seen else 0.1, left))
            # data that raced the exit status
            while chan.recv_ready():
                out += chan.recv(_READ_CHUNK)
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(_READ_CHUNK)
            status = chan.recv_exit_status()
            if status == -1:
                if _transport_ends(chan, 1.0):
                    raise EOFError("the SSH connection dropped before the command's exit status arrived")
                # the channel closed normally but without a status: the remote command died of a signal
                err += b"\nthe remote command ended without an exit status (killed by a signal?)\n"
                status = 255
            return status, bytes(out), bytes(err)
        finally:
            with contextlib.suppress(Exception):
                chan.close()

    def _translate(self, exc: Exception, op: Operation) -> Exception:
        """A paramiko/socket failure as one of our errors. Never includes a credential."""
        name, where = self.host.name, self._where
        if isinstance(exc, (ConfigError, HostKeyError, AuthenticationError, TransientError)):
            return exc
        if isinstance(exc, BadHostKeyException):
            self._drop()
            return HostKeyError(
                f"the SSH host key of {where} has CHANGED: it presented {exc.key.get_name()} "
                f"{exc.key.fingerprint}, known_hosts {self.known_hosts} has {exc.expected_key.fingerprint}",
                host=name,
                step="connect",
                hint="someone may be intercepting the connection, or the VM was rebuilt; verify the key out of "
                f"band, then remove the old line from {self.known_hosts}",
            )
        if isinstance(exc, UnknownHostKey):
            self._drop()
            return HostKeyError(
                f"the SSH host key of {where} ({exc.key.get_name()} {exc.key.fingerprint}) is not in "
                f"{self.known_hosts}",
                host=name,
                step="connect",
            )
        if isinstance(exc, AuthenticationException):
            self._drop()
            return AuthenticationError(
                f"SSH authentication as {user_for(self.host, self.options) or '(default user)'} on {where} failed "
                f"({type(exc).__name__})",
                host=name,
                step="connect",
            )
        self._drop()
        if isinstance(exc, NoValidConnectionsError):
            reason = "; ".join(sorted({e.strerror or str(e) for e in exc.errors.values()})) or "refused"
            return TransientError(f"cannot connect to {where}: {reason}", host=name, step=op.script)
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return TransientError(f"SSH to {where} timed out: {exc}", host=name, step=op.script)
        stalled = any(m in str(exc) for m in _HANDSHAKE_STALLED) and "[Errno" not in str(exc)  # not a reset
        if isinstance(exc, SSHException) and stalled:
            return TransientError(
                f"the SSH handshake with {where} did not complete within {self.connect_timeout:g}s ({exc})",
                host=name,
                step=op.script,
            )
        if isinstance(exc, (EOFError, OSError, SSHException)):
            text = str(exc) or type(exc).__name__
            return TransientError(f"SSH to {where} failed: {text}", host=name, step=op.script)
        return exc


_known_hosts_cache: dict[str, tuple[tuple[int, int, int], paramiko.HostKeys]] = {}
_known_hosts_lock = threading.Lock()


def _add_known_keys(client: paramiko.SSHClient, path: Path, host: str, port: int) -> None:
    """Give the client the known_hosts keys of this one host. The file is parsed once per process (again when
    it changes), not once per connection: for a fleet, every connection reading every line is quadratic."""
    st = path.stat()
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    with _known_hosts_lock:
        cached = _known_hosts_cache.get(str(path))
        if cached is None or cached[0] != stamp:
            cached = (stamp, paramiko.HostKeys(str(path)))
            _known_hosts_cache[str(path)] = cached
    name = host if port == 22 else f"[{host}]:{port}"  # the name paramiko's client looks the key up by
    keys = cached[1].lookup(name)
    for key_type, key in (keys or {}).items():
        client.get_host_keys().add(name, key_type, key)


def _no_delay(conn: FabricConnection) -> None:
    """One small request and answer per operation: no Nagle delay on a real TCP socket."""
    sock = getattr(conn.transport, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _transport_dead(chan: paramiko.Channel) -> bool:
    transport = chan.get_transport()
    return transport is None or not transport.is_active()


def _transport_ends(chan: paramiko.Channel, wait: float) -> bool:
    """Whether the connection under a closed channel is gone (or goes within ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    while not _transport_dead(chan):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


__all__ = ["AcceptNewHostKey", "RefuseUnknownHostKey", "SSHConnection", "UnknownHostKey", "parse_jump"]
