"""The lab's WS-Management endpoint: WinRS shells over HTTP or HTTPS, as pywinrm and Windows speak them.

A :class:`WinRMServer` answers the WinRS actions a client uses (shell Create, Command, Send, Receive,
Signal, Delete) on ``/wsman``, with Basic, NTLM or (given ``kerberos_keytab``, the keys of ``HTTP/<name>``)
Kerberos authentication and, over HTTP, message encryption with the NTLM or Kerberos session key
(``multipart/encrypted``, ``application/HTTP-SPNEGO-session-encrypted``, MS-WSMV 2.2.9.1.1). Commands run
through the lab's ``powershell.exe`` (:func:`lab.windows.powershell.execute`) in a worker thread started
when stdin ends. A Receive waits up to the request's ``w:OperationTimeout`` and, while the command still
runs, answers the ``w:TimedOut`` fault (WSManFault 2150858793) as Windows does. The Create's ``WINRS_CODEPAGE``
is the console code page of the shell's commands; a Command without ``WINRS_CONSOLEMODE_STDIN=FALSE`` gets a
console for stdin, so a command that reads its stdin to the end (the bootstrap) never finishes.

All listeners of a process share ONE asyncio event loop in one thread, so hundreds of idle lab hosts cost
no CPU; a thread exists only while a command runs.

Faults come from the host state file's ``faults`` section, read at every request (an edit takes effect at
once): ``latency_ms``, ``refuse_connections`` (the listening socket is closed; it reopens on the same port
when the fault is removed), ``drop_mid_command`` (on a command's first Receive the command runs to its end,
then the TCP connection is reset: ``true``, a count, or a script's path), ``drop_before_command`` (the
connection is reset when a Command arrives, nothing runs: ``true`` or a count),
``http_5xx: N`` (the next N requests answer HTTP 500 with no body; N counts down in the state file) and
``reject_auth`` (every request is answered 401). Each fault served is recorded in the operation log.

Kerberos: each listener accepts with its own keytab (a gssapi credential store, never the process-wide
``KRB5_KTNAME``) and answers the AP-REP for mutual authentication on the response to the AP-REQ.

NTLM: pyspnego's acceptor reads its users from the file named by the process-wide ``NTLM_USER_FILE``.
Every listener here writes its own user file (NT hashes, not passwords) and binds it for its own handshakes
only, so one process serves many hosts with different users without touching the environment.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import hashlib
import hmac
import os
import re
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from remediate.lab.state import HostState, OpLog

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_RESOURCE = SHELL_URI + "/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
ACTION_CREATE = TRANSFER + "/Create"
ACTION_DELETE = TRANSFER + "/Delete"
ACTION_COMMAND = SHELL_URI + "/Command"
ACTION_SEND = SHELL_URI + "/Send"
ACTION_RECEIVE = SHELL_URI + "/Receive"
ACTION_SIGNAL = SHELL_URI + "/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
STATE_RUNNING = SHELL_URI + "/CommandState/Running"
STATE_DONE = SHELL_URI + "/CommandState/Done"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

FAULT_TIMED_OUT = 2150858793
FAULT_SHELL_NOT_FOUND = 2150858843
FAULT_COMMAND_NOT_FOUND = 2150858854
FAULT_ACTION_NOT_SUPPORTED = 2150858752
TIMED_OUT_TEXT = (
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
)

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_PROTOCOLS = (ENCRYPTED_PROTOCOL, "application/HTTP-Kerberos-session-encrypted")
BOUNDARY = b"--Encrypted Boundary"
OCTET_HEADER = b"\tContent-Type: application/octet-stream\r\n"
RECEIVE_CHUNK = 32 * 1024  # bytes of one stream per Receive answer; more output takes more Receives
DEFAULT_OPERATION_TIMEOUT = 60.0
MAX_HEADER = 64 * 1024
MAX_BODY = 4 * 1024 * 1024


# -- one event loop for every listener of the process -------------------------------------------------------------
_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _event_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="lab-wsman", daemon=True).start()
            ready.wait(10)
            _loop = loop
        return _loop


def _run(coro: Any, timeout: float = 30.0) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, _event_loop()).result(timeout)


# -- NTLM users per listener -----------------------------------------------------------------------------------------
_ntlm_store: contextvars.ContextVar[str | None] = contextvars.ContextVar("lab_ntlm_store", default=None)
_hook_lock = threading.Lock()


def _install_ntlm_store_hook() -> None:
    """Make pyspnego's NTLM acceptor read the user file bound by the listener doing the handshake."""
    import spnego._ntlm as ntlm

    with _hook_lock:
        original = getattr(ntlm, "_get_credential_file", None)
        if original is None:
            raise RuntimeError("this pyspnego has no NTLM credential file lookup; the lab cannot serve NTLM")
        if getattr(original, "lab_store_hook", False):
            return

        def credential_file() -> str | None:
            return _ntlm_store.get() or original()

        credential_file.lab_store_hook = True  # type: ignore[attr-defined]
        ntlm._get_credential_file = credential_file


def _write_ntlm_users(path: str, users: dict[str, str], domains: tuple[str, ...]) -> None:
    """``smbpasswd`` lines (user, LM and NT hash): any password works, even one with a colon in it."""
    from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1

    lines = []
    for user, password in users.items():
        lm = base64.b16encode(lmowfv1(password)).decode()
        nt = base64.b16encode(ntowfv1(password)).decode()
        for domain in ("", *domains):
            name = f"{domain}\\{user}" if domain else user
            lines.append(f"{name}:1000:{lm}:{nt}:[U]:LCT-00000000\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.writelines(lines)


# -- HTTP ------------------------------------------------------------------------------------------------------------
class _BadRequest(Exception):
    pass


@dataclass
class _Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise _BadRequest("truncated request head") from None
    except asyncio.LimitOverrunError:
        raise _BadRequest("request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        raise _BadRequest("bad request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
            if len(body) > MAX_BODY:
                raise _BadRequest("body too large")
        return _Request(method, target, headers, bytes(body))
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        raise _BadRequest("body too large")
    body = await reader.readexactly(length) if length else b""
    return _Request(method, target, headers, body)


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
REASONS[500] = "Internal Server Error"


@dataclass(eq=False)
class _Conn:
    writer: asyncio.StreamWriter
    ntlm: Any = None  # the established acceptor context (NTLM or Kerberos): the connection is authenticated
    pending: Any = None  # an acceptor context between NEGOTIATE and AUTHENTICATE
    user: str | None = None
    auth_reply: str | None = None  # Kerberos' mutual authentication token, for the next response's header

    def reset(self) -> None:
        """Close at once with a TCP reset, as a crashed or killed listener would."""
        sock = self.writer.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


# -- WinRS -----------------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Command:
    id: str
    command: str
    arguments: list[str]
    stdin: bytearray = field(default_factory=bytearray)
    started: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    console_stdin: bool = True  # WINRS_CONSOLEMODE_STDIN: stdin is a console, whose reader never sees its end
    codepage: int | None = None  # the shell's WINRS_CODEPAGE
    sent_out: int = 0
    sent_err: int = 0
    receives: int = 0
    terminated: bool = False


@dataclass(eq=False)
class _Shell:
    id: str
    codepage: int | None = None  # WINRS_CODEPAGE of the Create: the console code page of every command
    commands: dict[str, _Command] = field(default_factory=dict)


@dataclass
class _Soap:
    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    timeout: float
    body: ET.Element | None
    options: dict[str, str] = field(default_factory=dict)  # w:OptionSet, by upper-case name


def _duration(text: str | None, default: float) -> float:
    """An xs:duration such as ``PT20S`` or ``PT1M30.5S`` in seconds."""
    if not text:
        return default
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text.strip())
    if not m:
        return default
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def _parse_soap(data: bytes) -> _Soap:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise _BadRequest(f"not XML: {exc}") from None
    header = root.find("s:Header", NS)
    if header is None:
        raise _BadRequest("no SOAP header")

    def text(path: str) -> str:
        node = header.find(path, NS)
        return (node.text or "").strip() if node is not None else ""

    shell_id = None
    for selector in header.findall("w:SelectorSet/w:Selector", NS):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    options = {}
    for node in header.findall("w:OptionSet/w:Option", NS):
        options[(node.get("Name") or "").upper()] = (node.text or "").strip()
    return _Soap(
        options=options,
        action=text("a:Action"),
        message_id=text("a:MessageID"),
        resource_uri=text("w:ResourceURI"),
        shell_id=shell_id,
        timeout=_duration(text("w:OperationTimeout"), DEFAULT_OPERATION_TIMEOUT),
        body=root.find("s:Body", NS),
    )


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        '<s:Envelope xml:lang="en-US" '
        f'xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:x="{NS["x"]}" xmlns:w="{NS["w"]}" '
        f'xmlns:rsp="{NS["rsp"]}" xmlns:p="{NS["p"]}">'
        f"<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To><a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _fault(relates_to: str, machine: str, code: int, subcode: str, message: str, value: str = "s:Receiver") -> bytes:
    text = escape(message)
    body = (
        f"<s:Fault><s:Code><s:Value>{value}</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{text}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{NS["f"]}" Code="{code}" Machine="{escape(machine)}">'
        f"<f:Message>{text}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope(ACTION_FAULT, relates_to, body)


class _StateCache:
    """The host state file, parsed again only when it changed (a state edit replaces the file)."""

    def __init__(self, state: HostState) -> None:
        self.state = state
        self._key: tuple[int, int, int] | None = None
        self._data: dict[str, Any] = {}

    def get(self) -> dict[str, Any]:
        try:
            st = os.stat(self.state.path)
        except OSError:
            return self._data
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._key:
            self._data = self.state.read() or {}
            self._key = key
        return self._data

    def faults(self) -> dict[str, Any]:
        return dict(self.get().get("faults") or {})


class WinRMServer:
    """One lab Windows host's WinRM listener on ``bind:port`` (HTTPS when ``tls`` = (cert, key) PEM paths)."""

    path = "/wsman"

    def __init__(
        self,
        state: HostState,
        oplog: OpLog,
        *,
        users: dict[str, str],
        tls: tuple[str, str] | None = None,
        bind: str = "127.0.0.1",
        port: int = 0,
        executor: Callable[..., Any] | None = None,
        kerberos_keytab: str | None = None,
    ) -> None:
        self.state = state
        self.oplog = oplog
        self.users = dict(users)
        self.tls = tls
        self.bind = bind
        self.port = port
        self._execute = executor
        self.kerberos_keytab = kerberos_keytab  # serve Kerberos (SPNEGO) as HTTP/<name> from this keytab
        self._cache = _StateCache(state)
        self._server: asyncio.AbstractServer | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._reserved: socket.socket | None = None  # holds the port while refusing (bound, not listening)
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._shells: dict[str, _Shell] = {}
        self._ssl: ssl.SSLContext | None = None
        self._cbt: bytes | None = None
        self._store_dir: str | None = None
        self._store: str | None = None
        self._stopped = False
        self.stats: Counter[str] = Counter()  # requests, shells_created, commands, receives, faults...
        self.captured: list[bytes] | None = None  # set to [] to keep every SOAP request (after decryption)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.bind}:{self.port}{self.path}"

    @property
    def machine_name(self) -> str:
        return str((self._cache.get().get("machine") or {}).get("hostname") or self.state.name).upper()

    # -- life cycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Listen (in the shared event loop) and return once the port is known."""
        _install_ntlm_store_hook()
        self._store_dir = tempfile.mkdtemp(prefix="lab-ntlm-")
        self._store = os.path.join(self._store_dir, "users")
        _write_ntlm_users(self._store, self.users, (self.machine_name, "."))
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self.tls[0], self.tls[1])
            self._ssl = ctx
            self._cbt = _channel_binding(self.tls[0])
        self._stopped = False
        _run(self._open())

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(Exception):
            _run(self._close())
        if self._store_dir:
            shutil.rmtree(self._store_dir, ignore_errors=True)
            self._store_dir = None

    def __enter__(self) -> WinRMServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> None:
        if self._cache.faults().get("refuse_connections"):
            self._reserve()  # a port for the host all the same, refusing
            self._start_watcher()
            return
        await self._listen()

    def _reserve(self) -> None:
        """Keep the host's port bound but not listening: connections are refused (ECONNREFUSED), and no other
        listener of the machine is given the port meanwhile (a freed port is soon another host's)."""
        if self._reserved is not None:
            return
        sock = socket.socket(socket.AF_INET6 if ":" in self.bind else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the listener binds it again when back
        sock.bind((self.bind, self.port))
        self.port = sock.getsockname()[1]
        self._reserved = sock

    def _release(self) -> None:
        if self._reserved is not None:
            with contextlib.suppress(OSError):
                self._reserved.close()
            self._reserved = None

    async def _listen(self) -> None:
        for attempt in range(50):
            try:
                self._server = await asyncio.start_server(
                    self._client,
                    self.bind,
                    self.port,
                    ssl=self._ssl,
                    reuse_address=True,
                    backlog=128,
                    limit=MAX_HEADER,
                )
                break
            except OSError:
                if attempt == 49 or not self.port:
                    raise
                await asyncio.sleep(0.05)
        assert self._server is not None
        self.port = self._server.sockets[0].getsockname()[1]
        self._release()

    async def _close(self) -> None:
        self._release()
        if self._watcher:
            self._watcher.cancel()
            self._watcher = None
        if self._server:
            self._server.close()
            self._server = None
        for conn in list(self._conns):
            conn.writer.transport.abort()
        self._conns.clear()
        for task in list(self._tasks):  # a Receive waiting for its command ends with the listener
            task.cancel()
        for shell in self._shells.values():
            for command in shell.commands.values():
                command.terminated = True
        self._shells.clear()

    async def _refuse(self) -> None:
        """Stop listening (clients get ECONNREFUSED) until the fault is removed from the state file."""
        if self._server:
            self._server.close()
            self._server = None
        self._reserve()
        for conn in list(self._conns):
            conn.reset()
        self._conns.clear()
        self._start_watcher()

    def _start_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch_refused())

    async def _watch_refused(self) -> None:
        while not self._stopped:
            await asyncio.sleep(0.1)
            try:
                refused = self._cache.faults().get("refuse_connections")
            except Exception:
                continue
            if not refused:
                await self._listen()
                return

    # -- connections ---------------------------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer)
        self._conns.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            if self._cache.faults().get("refuse_connections"):
                self._served("refuse_connections")
                conn.reset()
                await self._refuse()
                return
            while not self._stopped:
                request = await _read_request(reader)
                if request is None:
                    break
                if not await self._handle(conn, request):
                    break
        except (_BadRequest, ValueError):
            with contextlib.suppress(Exception):
                await self._send(conn, 400, b"", keep_alive=False)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:  # the listener stopped: this connection ends quietly
            pass
        finally:
            self._conns.discard(conn)
            if not writer.transport.is_closing():
                writer.close()

    def _served(self, fault: str, **detail: Any) -> None:
        self.stats[f"fault:{fault}"] += 1
        self.oplog.record(self.state.name, f"fault:{fault}", False, **detail)

    async def _send(
        self,
        conn: _Conn,
        status: int,
        body: bytes,
        *,
        content_type: str | None = "application/soap+xml;charset=UTF-8",
        headers: list[tuple[str, str]] | None = None,
        keep_alive: bool = True,
    ) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", "Server: Microsoft-HTTPAPI/2.0"]
        if body and content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{k}: {v}" for k, v in headers or [])
        if conn.auth_reply and status != 401:
            lines.append(f"WWW-Authenticate: {conn.auth_reply}")
            conn.auth_reply = None
        lines.append(f"Content-Length: {len(body)}")
        if not keep_alive:
            lines.append("Connection: close")
        conn.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await conn.writer.drain()
        if not keep_alive:
            conn.writer.close()

    async def _handle(self, conn: _Conn, req: _Request) -> bool:
        """Answer one request; False when the connection must end."""
        self.stats["requests"] += 1
        faults = self._cache.faults()
        latency = float(faults.get("latency_ms") or 0)
        if latency > 0:
            await asyncio.sleep(latency / 1000.0)
        if faults.get("refuse_connections"):
            self._served("refuse_connections")
            conn.reset()
            await self._refuse()
            return False
        if int(faults.get("http_5xx") or 0) > 0:
            left = await asyncio.get_running_loop().run_in_executor(None, self._take_5xx)
            if left is not None:
                self._served("http_5xx", left=left)
                await self._send(conn, 500, b"", keep_alive=req.keep_alive)
                return req.keep_alive
        if req.method != "POST":
            await self._send(conn, 405, b"", headers=[("Allow", "POST")], keep_alive=req.keep_alive)
            return req.keep_alive
        if req.target.split("?")[0].rstrip("/").lower() != self.path:
            await self._send(conn, 404, b"", keep_alive=req.keep_alive)
            return req.keep_alive
        if not await self._authenticate(conn, req, faults):
            return req.keep_alive

        ctype = req.headers.get("content-type", "")
        encrypted = ctype.lower().startswith("multipart/encrypted")
        body = req.body
        protocol = next((p for p in ENCRYPTED_PROTOCOLS if p.lower() in ctype.lower()), None)
        if encrypted:
            self.stats["encrypted_requests"] += 1
            if conn.ntlm is None or protocol is None:
                await self._send(conn, 400, b"", keep_alive=False)
                return False
            try:
                body = _unseal(conn.ntlm, body)
            except Exception:
                await self._send(conn, 400, b"", keep_alive=False)
                return False
        if not body:  # an authenticated empty POST: how clients set up message encryption
            await self._send(conn, 200, b"", keep_alive=req.keep_alive)
            return req.keep_alive
        if self.captured is not None:
            self.captured.append(body)

        try:
            soap = _parse_soap(body)
        except _BadRequest:
            await self._send(conn, 400, b"", keep_alive=False)
            return False
        outcome = await self._dispatch(conn, soap)
        if outcome is None:  # the connection was dropped on purpose
            return False
        status, answer = outcome
        if encrypted:
            payload = _seal(conn.ntlm, answer, protocol or ENCRYPTED_PROTOCOL)
            ctype_out = f'multipart/encrypted;protocol="{protocol}";boundary="Encrypted Boundary"'
            await self._send(conn, status, payload, content_type=ctype_out, keep_alive=req.keep_alive)
        else:
            await self._send(conn, status, answer, keep_alive=req.keep_alive)
        return req.keep_alive

    async def _fires(self, fault: str, script: str | None = None) -> bool:
        """Whether a drop fault fires now: ``true`` always, a count (that goes down by one) the next N times,
        a script's path for every command that runs that script."""
        value = self._cache.faults().get(fault)
        if value is True:
            return True
        if isinstance(value, str):
            return script is not None and value == script
        if isinstance(value, int) and value > 0:
            return await asyncio.get_running_loop().run_in_executor(None, self._take_count, fault)
        return False

    def _take_count(self, fault: str) -> bool:
        with self.state.edit() as data:
            faults = data.setdefault("faults", {}) or {}
            n = faults.get(fault)
            if n is True:
                return True
            if not isinstance(n, int) or n <= 0:
                return False
            if n <= 1:
                faults.pop(fault, None)
            else:
                faults[fault] = n - 1
            data["faults"] = faults
            return True

    def _take_5xx(self) -> int | None:
        """Count one served HTTP 500 down in the state file; None when none is left."""
        with self.state.edit() as data:
            faults = data.setdefault("faults", {}) or {}
            n = int(faults.get("http_5xx") or 0)
            if n <= 0:
                return None
            faults["http_5xx"] = n - 1
            data["faults"] = faults
            return n - 1

    # -- authentication ------------------------------------------------------------------------------------------
    def _challenge_headers(self) -> list[tuple[str, str]]:
        offered = [("WWW-Authenticate", "Negotiate")]
        if self.kerberos_keytab:
            offered.append(("WWW-Authenticate", "Kerberos"))
        return [*offered, ("WWW-Authenticate", 'Basic realm="WSMAN"')]

    async def _unauthorized(self, conn: _Conn, headers: list[tuple[str, str]] | None = None) -> None:
        await self._send(conn, 401, b"", headers=headers if headers is not None else self._challenge_headers())

    async def _authenticate(self, conn: _Conn, req: _Request, faults: dict[str, Any]) -> bool:
        header = req.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        scheme_l = scheme.lower()
        if faults.get("reject_auth"):
            # Like an account that is locked out: an NTLM handshake goes as far as its last step, then 401.
            conn.ntlm = None
            if scheme_l in ("negotiate", "ntlm") and self._ntlm_kind(token) == 1:
                return await self._ntlm_step(conn, scheme, token.strip())
            conn.pending = None
            self._served("reject_auth")
            await self._unauthorized(conn)
            return False
        if scheme_l == "basic":
            if self._basic_ok(token.strip()):
                return True
            self.oplog.record(self.state.name, "auth-failed", False, scheme="basic")
            await self._unauthorized(conn)
            return False
        if scheme_l in ("negotiate", "kerberos") and self.kerberos_keytab and not self._ntlm_kind(token):
            return await self._kerberos_step(conn, scheme, token.strip())
        if scheme_l in ("negotiate", "ntlm"):
            return await self._ntlm_step(conn, scheme, token.strip())
        if conn.ntlm is not None:
            return True
        await self._unauthorized(conn)
        return False

    def _basic_ok(self, token: str) -> bool:
        try:
            user, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
        except Exception:
            return False
        name = user.rpartition("\\")[2].lower()
        for known, secret in self.users.items():
            if known.lower() == name and hmac.compare_digest(secret.encode("utf-8"), password.encode("utf-8")):
                return True
        return False

    @staticmethod
    def _ntlm_kind(token: str) -> int:
        try:
            raw = base64.b64decode(token.strip())
        except Exception:
            return 0
        return struct.unpack("<I", raw[8:12])[0] if raw.startswith(b"NTLMSSP\x00") and len(raw) >= 12 else 0

    async def _ntlm_step(self, conn: _Conn, scheme: str, token: str) -> bool:
        import spnego
        from spnego.channel_bindings import GssChannelBindings

        try:
            raw = base64.b64decode(token)
        except Exception:
            raw = b""
        if not raw.startswith(b"NTLMSSP\x00") or len(raw) < 12:
            await self._unauthorized(conn)
            return False
        kind = struct.unpack("<I", raw[8:12])[0]
        bound = _ntlm_store.set(self._store)
        try:
            if kind == 1:
                bindings = (
                    GssChannelBindings(application_data=b"tls-server-end-point:" + self._cbt) if self._cbt else None
                )
                ctx = spnego.server(protocol="ntlm", channel_bindings=bindings)
                challenge = ctx.step(raw)
                conn.pending, conn.ntlm = ctx, None
                await self._unauthorized(
                    conn, [("WWW-Authenticate", f"{scheme} {base64.b64encode(challenge).decode()}")]
                )
                return False
            if kind == 3 and conn.pending is not None:
                ctx, conn.pending = conn.pending, None
                try:
                    ctx.step(raw)
                except Exception as exc:
                    self.oplog.record(self.state.name, "auth-failed", False, scheme="ntlm", error=type(exc).__name__)
                    await self._unauthorized(conn)
                    return False
                conn.ntlm = ctx
                conn.user = getattr(ctx, "client_principal", None)
                return True
        finally:
            _ntlm_store.reset(bound)
        await self._unauthorized(conn)
        return False

    async def _kerberos_step(self, conn: _Conn, scheme: str, token: str) -> bool:
        """Accept a Kerberos AP-REQ (raw, or wrapped in SPNEGO) with the listener's keytab; answer the AP-REP."""
        import spnego

        try:
            raw = base64.b64decode(token, validate=True)
        except Exception:
            raw = b""
        try:
            import gssapi

            credential = gssapi.Credentials(usage="accept", store={b"keytab": self.kerberos_keytab.encode()})
            # GSS-API accepts a SPNEGO token (Windows' own clients) as well as a bare Kerberos one (pykerberos,
            # as pywinrm sends it), and answers in kind.
            ctx = spnego.server(protocol="kerberos", _gssapi_credential=credential)
            reply = ctx.step(raw)
        except Exception as exc:
            self.oplog.record(self.state.name, "auth-failed", False, scheme="kerberos", error=type(exc).__name__)
            conn.ntlm = None
            await self._unauthorized(conn)
            return False
        if not ctx.complete:
            challenge = f"{scheme} {base64.b64encode(reply or b'').decode()}"
            await self._unauthorized(conn, [("WWW-Authenticate", challenge)])
            return False
        conn.ntlm, conn.pending = ctx, None
        conn.user = getattr(ctx, "client_principal", None)
        if reply:
            conn.auth_reply = f"{scheme} {base64.b64encode(reply).decode()}"
        self.stats["kerberos_logons"] += 1
        return True

    # -- WinRS actions -------------------------------------------------------------------------------------------
    async def _dispatch(self, conn: _Conn, soap: _Soap) -> tuple[int, bytes] | None:
        relates = soap.message_id
        actions = (ACTION_CREATE, ACTION_DELETE, ACTION_COMMAND, ACTION_SEND, ACTION_RECEIVE, ACTION_SIGNAL)
        if soap.action in actions and soap.resource_uri.lower() != CMD_RESOURCE:
            message = "The WS-Management service cannot process the request. The resource URI is not supported."
            return 500, self._fault(relates, 2150858811, "w:DestinationUnreachable", message)
        if soap.action == ACTION_CREATE:
            return 200, self._create(soap)
        shell = self._shells.get(soap.shell_id or "")
        if shell is None:
            if soap.action in (ACTION_DELETE, ACTION_COMMAND, ACTION_SEND, ACTION_RECEIVE, ACTION_SIGNAL):
                return 500, self._fault(
                    relates,
                    FAULT_SHELL_NOT_FOUND,
                    "w:InvalidSelectors",
                    f"The request for the Windows Remote Shell with ShellId {soap.shell_id} failed because the shell "
                    "was not found on the server. Possible causes are: the specified ShellId is incorrect or the "
                    "shell no longer exists on the server. Provide the correct ShellId or create a new shell and "
                    "retry the operation. ",
                )
            return 500, self._fault(
                relates,
                FAULT_ACTION_NOT_SUPPORTED,
                "a:ActionNotSupported",
                "The action is not supported by the service.",
            )
        if soap.action == ACTION_DELETE:
            for command in shell.commands.values():
                command.terminated = True
            del self._shells[shell.id]
            self.stats["shells_deleted"] += 1
            return 200, _envelope(TRANSFER + "/DeleteResponse", relates, "")
        if soap.action == ACTION_COMMAND:
            if await self._fires("drop_before_command"):
                self._served("drop_before_command")
                conn.reset()  # the Command never reached the shell: nothing ran
                return None
            return 200, self._command(shell, soap)
        command_id = self._command_id(soap)
        command = shell.commands.get(command_id or "")
        if command is None:
            return 500, self._fault(
                relates,
                FAULT_COMMAND_NOT_FOUND,
                "w:InvalidParameter",
                f"The request for the Windows Remote Shell with ShellId {shell.id} failed because the command with "
                f"CommandId {command_id} was not found. ",
            )
        if soap.action == ACTION_SEND:
            return 200, self._send_input(command, soap)
        if soap.action == ACTION_SIGNAL:
            command.terminated = True
            shell.commands.pop(command.id, None)
            self.stats["signals"] += 1
            body = f'<rsp:SignalResponse xmlns:rsp="{NS["rsp"]}"/>'
            return 200, _envelope(SHELL_URI + "/SignalResponse", relates, body)
        # Receive
        command.receives += 1
        self.stats["receives"] += 1
        if command.receives == 1 and await self._fires("drop_mid_command", _script_of(command)):
            # The command was accepted and runs to its end; only its answer is lost with the connection.
            self._served("drop_mid_command", command=command.command[:40], script=_script_of(command))
            self._start(command)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(command.done.wait(), timeout=max(1.0, soap.timeout))
            conn.reset()
            return None
        if not command.started:  # a command that reads no stdin starts when its output is first asked for
            self._start(command)
        try:
            await asyncio.wait_for(command.done.wait(), timeout=max(0.0, soap.timeout))
        except asyncio.TimeoutError:
            return 500, self._fault(relates, FAULT_TIMED_OUT, "w:TimedOut", TIMED_OUT_TEXT)
        return 200, self._receive(command, relates)

    def _fault(self, relates: str, code: int, subcode: str, message: str) -> bytes:
        return _fault(relates, self.machine_name, code, subcode, message)

    @staticmethod
    def _command_id(soap: _Soap) -> str | None:
        if soap.body is None:
            return None
        for node in soap.body.iter():
            if node.get("CommandId"):
                return node.get("CommandId")
        return None

    def _create(self, soap: _Soap) -> bytes:
        codepage = soap.options.get("WINRS_CODEPAGE", "")
        shell = _Shell(str(uuid.uuid4()).upper(), int(codepage) if codepage.isdigit() else None)
        self._shells[shell.id] = shell
        self.stats["shells_created"] += 1
        body = (
            f"<x:ResourceCreated><a:Address>{escape(self.url)}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{CMD_RESOURCE}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{CMD_RESOURCE}</rsp:ResourceUri><rsp:Owner>{escape(self.machine_name)}\\"
            f"{escape(next(iter(self.users), 'user'))}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
            "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            "</rsp:Shell>"
        )
        return _envelope(TRANSFER + "/CreateResponse", soap.message_id, body)

    def _command(self, shell: _Shell, soap: _Soap) -> bytes:
        line = soap.body.find("rsp:CommandLine", NS) if soap.body is not None else None
        exe = ""
        arguments: list[str] = []
        if line is not None:
            node = line.find("rsp:Command", NS)
            exe = (node.text or "").strip() if node is not None else ""
            for arg in line.findall("rsp:Arguments", NS):
                arguments.extend(a for a in (arg.text or "").split(" ") if a)
        command = _Command(str(uuid.uuid4()).upper(), exe, arguments, codepage=shell.codepage)
        # Windows' default is a console stdin; only an explicit FALSE makes it a pipe that reports its end.
        command.console_stdin = soap.options.get("WINRS_CONSOLEMODE_STDIN", "TRUE").upper() != "FALSE"
        shell.commands[command.id] = command
        self.stats["commands"] += 1
        body = f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>"
        return _envelope(SHELL_URI + "/CommandResponse", soap.message_id, body)

    def _send_input(self, command: _Command, soap: _Soap) -> bytes:
        end = False
        for stream in soap.body.iter(f"{{{NS['rsp']}}}Stream") if soap.body is not None else []:
            if stream.get("Name", "stdin") == "stdin":
                command.stdin += base64.b64decode((stream.text or "").strip() or b"")
                end = end or stream.get("End", "false").lower() == "true"
        if end:
            self._start(command)
        return _envelope(SHELL_URI + "/SendResponse", soap.message_id, "<rsp:SendResponse/>")

    def _start(self, command: _Command) -> None:
        if command.started:
            return
        command.started = True
        from remediate.lab.windows.powershell import reads_stdin_to_end

        if command.console_stdin and reads_stdin_to_end(command.command, command.arguments):
            # A console stdin has no end: ReadToEnd() waits for ever, and the command with it, until a Signal
            # (or the shell's Delete) ends it. Receives answer w:TimedOut meanwhile.
            self.stats["console_stdin_hangs"] += 1
            self.oplog.record(self.state.name, "console-stdin-wait", False, command=command.command[:40])
            return
        loop = asyncio.get_running_loop()
        execute = self._execute
        if execute is None:
            from remediate.lab.windows.powershell import execute
        stdin = bytes(command.stdin)
        codepage = command.codepage

        def work() -> None:
            try:
                result = execute(
                    self.state, self.oplog, command.command, list(command.arguments), stdin, console_codepage=codepage
                )
                out, err, code = result.stdout, result.stderr, result.exit_code
            except Exception as exc:  # the lab's own failure: shown like a crashed process
                from remediate.lab.windows.powershell import clixml_error

                out, err, code = b"", clixml_error(f"lab error: {type(exc).__name__}: {exc}").encode("utf-8"), 1

            def finish() -> None:
                command.stdout, command.stderr, command.exit_code = out, err, code
                command.done.set()

            with contextlib.suppress(RuntimeError):  # the loop is gone: the lab stopped
                loop.call_soon_threadsafe(finish)

        threading.Thread(target=work, name=f"lab-cmd-{self.state.name}", daemon=True).start()

    def _receive(self, command: _Command, relates: str) -> bytes:
        out = command.stdout[command.sent_out : command.sent_out + RECEIVE_CHUNK]
        err = command.stderr[command.sent_err : command.sent_err + RECEIVE_CHUNK]
        command.sent_out += len(out)
        command.sent_err += len(err)
        finished = command.sent_out >= len(command.stdout) and command.sent_err >= len(command.stderr)
        cid = command.id
        parts = ["<rsp:ReceiveResponse>"]
        if out:
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cid}">{base64.b64encode(out).decode()}</rsp:Stream>')
        if err:
            parts.append(f'<rsp:Stream Name="stderr" CommandId="{cid}">{base64.b64encode(err).decode()}</rsp:Stream>')
        if finished:
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cid}" End="true"></rsp:Stream>')
            parts.append(f'<rsp:Stream Name="stderr" CommandId="{cid}" End="true"></rsp:Stream>')
            parts.append(
                f'<rsp:CommandState CommandId="{cid}" State="{STATE_DONE}">'
                f"<rsp:ExitCode>{command.exit_code}</rsp:ExitCode></rsp:CommandState>"
            )
        else:
            parts.append(f'<rsp:CommandState CommandId="{cid}" State="{STATE_RUNNING}"/>')
        parts.append("</rsp:ReceiveResponse>")
        return _envelope(SHELL_URI + "/ReceiveResponse", relates, "".join(parts))


def _script_of(command: _Command) -> str | None:
    """The packaged script a command's stdin carries (None when it is not one of ours)."""
    if not command.stdin:
        return None
    try:
        from remediate import scripts

        envelope = scripts.decode_powershell_stdin(bytes(command.stdin))[0]
        return str(envelope["script"])
    except Exception:
        return None


# -- NTLM and Kerberos message encryption (MS-WSMV 2.2.9.1.1) -------------------------------------------------------
def _seal(ctx: Any, data: bytes, protocol: str = ENCRYPTED_PROTOCOL) -> bytes:
    """One encrypted part: the length of the signature (NTLM) or GSS wrap token header (Kerberos), it, the rest."""
    wrapped = ctx.wrap_winrm(data)
    signature, sealed = wrapped.header, wrapped.data
    return (
        BOUNDARY + b"\r\n\tContent-Type: " + protocol.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(data)).encode()
        + b"\r\n"
        + BOUNDARY
        + b"\r\n"
        + OCTET_HEADER
        + struct.pack("<I", len(signature))
        + signature
        + sealed
        + BOUNDARY
        + b"--\r\n"
    )


def _unseal(ctx: Any, body: bytes) -> bytes:
    m = re.search(rb"Length=(\d+)", body)
    start = body.find(OCTET_HEADER)
    end = body.rfind(BOUNDARY + b"--")
    if not m or start < 0 or end < start:
        raise ValueError("not an encrypted WinRM message")
    blob = body[start + len(OCTET_HEADER) : end]
    size = struct.unpack("<I", blob[:4])[0]
    message = ctx.unwrap_winrm(blob[4 : 4 + size], blob[4 + size :])
    if len(message) != int(m.group(1)):
        raise ValueError("encrypted length does not match")
    return message


def _channel_binding(cert_path: str) -> bytes:
    """``tls-server-end-point`` hash of the listener's certificate (RFC 5929), as NTLM clients bind to it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    with open(cert_path, "rb") as fh:
        cert = x509.load_pem_x509_certificate(fh.read())
    der = cert.public_bytes(serialization.Encoding.DER)
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        return hashlib.sha256(der).digest()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return digest.finalize()


__all__ = ["WinRMServer"]
