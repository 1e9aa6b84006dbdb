"""The lab's Automation jobs API over HTTPS (the lab CA, a bearer token), for ``azure-mgmt-automation``.

Routes (paths URL-decoded and matched case-insensitively, any ``api-version``)::

    PUT  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Automation/automationAccounts/{a}/jobs/{j}
    GET  .../jobs/{j}            GET .../jobs/{j}/output (text/plain)            POST .../jobs/{j}/stop

Errors are ARM's ``{"error": {"code", "message"}}``. ``requests`` logs every call (method, path, status).
"""

from __future__ import annotations

import contextlib
import json
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lab.automation.jobs import AutomationJobs, JobError

_JOB = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Automation"
    r"/automationAccounts/(?P<account>[^/]+)/jobs/(?P<job>[^/]+)(?P<rest>/output|/stop)?/?$",
    re.IGNORECASE,
)


class AutomationServer:
    """Serves :class:`AutomationJobs` on 127.0.0.1 over HTTPS (``tls=(cert, key)``) to bearer ``token``."""

    def __init__(self, jobs: AutomationJobs, *, tls: tuple[str, str], token: str, port: int = 0) -> None:
        self.jobs = jobs
        self.token = token
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(_Handler):
            lab = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="lab-automation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.jobs.close()
        if self._thread:
            self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    lab: AutomationServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        jobs = self.lab.jobs
        status, body, text = 200, None, None
        try:
            if self.headers.get("Authorization", "") != f"Bearer {self.lab.token}":
                raise JobError(401, "InvalidAuthenticationToken", "The access token is invalid.")
            if "api-version" not in query:
                raise JobError(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
            m = _JOB.match(path)
            if m is None:
                raise JobError(404, "InvalidResourceType", f"The resource type could not be found: {method} {path}")
            account, name, rest = m["account"], m["job"], (m["rest"] or "").lower()
            if method == "PUT" and not rest:
                try:
                    payload = json.loads(raw) if raw else None
                except ValueError:
                    raise JobError(400, "InvalidRequestContent", "The request content was invalid.") from None
                status, body = 201, jobs.create(path, account, name, payload)
            elif method == "GET" and not rest:
                body = jobs.get(account, name)
            elif method == "GET" and rest == "/output":
                text = jobs.output(account, name)
            elif method == "POST" and rest == "/stop":
                jobs.stop(account, name)
            else:
                raise JobError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
        except JobError as exc:
            status, body = exc.status, {"error": {"code": exc.code, "message": exc.message}}
        self.lab.requests.append({"method": method, "path": path, "status": status})
        self._send(status, body, text)

    def _send(self, status: int, body: Any, text: str | None) -> None:
        if text is not None:
            data, kind = text.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, kind = (b"", "") if body is None else (json.dumps(body).encode("utf-8"), "application/json")
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", "lab")
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)
