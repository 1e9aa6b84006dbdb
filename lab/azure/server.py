"""The lab's ARM endpoint: HTTPS with the lab CA, a bearer token, the route table, faults and a request log."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from remediate.lab.azure.model import ARM
from remediate.lab.azure.routes import ARMError, Reply, Request, load_routes, match


class ARMServer:
    """Serves :class:`ARM` on 127.0.0.1 over HTTPS (``tls=(cert, key)``); ``token`` is the bearer it accepts."""

    def __init__(self, arm: ARM, *, tls: tuple[str, str], token: str, port: int = 0) -> None:
        self.arm = arm
        self.token = token
        load_routes()
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
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="lab-arm", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    lab: ARMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        arm = self.lab.arm
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        found = match(method, path)
        mutating = found[0].mutating if found else method != "GET"
        detail: dict[str, Any] = {}
        try:
            if self.headers.get("Authorization", "") != f"Bearer {self.lab.token}":
                raise ARMError(401, "InvalidAuthenticationToken", "The access token is invalid.")
            retry = str(arm.retry_after())
            if arm.consume_fault("throttle"):
                raise ARMError(
                    429,
                    "TooManyRequests",
                    "The request is being throttled as the limit has been reached for operation type.",
                    {"Retry-After": retry},
                )
            if arm.consume_fault("http_5xx"):
                raise ARMError(500, "InternalServerError", "Encountered internal server error.", {"Retry-After": retry})
            if "api-version" not in query:
                raise ARMError(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
            if found is None:
                detail["unmatched"] = True
                raise ARMError(404, "InvalidResourceType", f"The resource type could not be found: {method} {path}")
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise ARMError(400, "InvalidRequestContent", "The request content was invalid.") from None
            req = Request(method, path, query, body, found[1], arm, f"https://127.0.0.1:{self.lab.port}", mutating)
            reply = found[0].handler(req)
            mutating = req.mutating
            detail.update(getattr(req, "log_detail", {}))
        except ARMError as exc:
            reply = Reply(exc.status, exc.body(), exc.headers)
        except Exception as exc:  # a defect of the lab: said plainly, never a dropped connection
            detail["lab_error"] = f"{type(exc).__name__}: {exc}"
            reply = Reply(500, {"error": {"code": "LabError", "message": detail["lab_error"]}})
        arm.log_request(method, path, reply.status, mutating, **detail)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        raw = isinstance(reply.body, bytes)  # sent as is, with the Content-Type its route gave (a job's output)
        data = b"" if reply.body is None else reply.body if raw else json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if data and not raw:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", "lab")
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)


def write_client_config(lab_dir: Path, server: ARMServer, token_file: Path) -> Path:
    """``DIR/azure.json``: what a client needs to reach the lab's ARM endpoint (no secret inside)."""
    config = {
        "endpoint": server.url,
        "subscription": server.arm.subscription,
        "ca_bundle": str(lab_dir / "ca.pem"),
        "token_file": str(token_file),
        # The SDKs read Retry-After: 0 as "no hint" and wait their default 30 s between polls; the lab is local.
        "polling_interval": 0,
    }
    path = lab_dir / "azure.json"
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path
