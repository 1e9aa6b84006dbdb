"""The route table of the lab's ARM endpoint, and what a route handler receives and returns.

A route module (``lab/azure/api/*.py``, imported by :func:`load_routes`) registers handlers::

    from remediate.lab.azure.routes import Reply, Request, route

    @route("GET", "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}")
    def get_vm(req: Request) -> Reply:
        vm = req.arm.vm(req.params["rg"], req.params["vm"])
        return Reply(200, vm.resource())

Patterns match the URL-decoded path case-insensitively (ARM paths are), ``{name}`` matches one segment and
``{name:path}`` the rest of the path. ``mutating`` defaults to every method but GET; a POST action that only
reads (a list action) says ``mutating=False``; a handler may also decide per request (``req.mutating``), as
the Run Command route does from the script it runs. The request log keeps that flag, so a test proves that a
dry-run sent nothing that changes Azure. Long-running operations are started with :meth:`Request.accept`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remediate.lab.azure.model import ARM


class ARMError(Exception):
    """An ARM error reply: ``{"error": {"code", "message"}}`` with the HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str  # URL-decoded, without the query
    query: dict[str, str]
    body: Any
    params: dict[str, str]
    arm: ARM
    base_url: str  # https://127.0.0.1:PORT
    mutating: bool = False

    def url(self, path: str, **query: str) -> str:
        """An absolute URL on this endpoint (what nextLink, Location and Azure-AsyncOperation carry)."""
        from urllib.parse import quote, urlencode

        q = {"api-version": self.query.get("api-version", "2024-01-01"), **query}
        return self.base_url + quote(path, safe="/;,=") + "?" + urlencode(q)

    def accept(self, run: Callable[[], Any], *, status: int = 202, location: bool = True) -> Reply:
        """A long-running operation: 202 with Azure-AsyncOperation, Location and Retry-After.

        ``run`` is called when the operation is first polled (so the client sees it InProgress once); what it
        returns is the body of the final GET on Location (None: 204 No Content); an :class:`ARMError` it
        raises makes the operation Failed with that code.
        """
        op = self.arm.start_operation(run)
        sub = self.params.get("sub") or self.arm.subscription
        base = f"/subscriptions/{sub}/providers/Microsoft.Lab/locations/{self.arm.location}"
        headers = {
            "Azure-AsyncOperation": self.url(f"{base}/operationStatuses/{op}"),
            "Retry-After": str(self.arm.retry_after()),
        }
        if location:
            headers["Location"] = self.url(f"{base}/operationResults/{op}")
        return Reply(status, None, headers)

    def page(self, items: list[Any], size: int = 2) -> Reply:
        """A list answer in pages of ``size`` with ``nextLink`` (``$skiptoken`` is the offset)."""
        start = int(self.query.get("$skiptoken") or self.query.get("$skipToken") or 0)
        body: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            extra = {k: v for k, v in self.query.items() if k not in ("api-version", "$skiptoken", "$skipToken")}
            body["nextLink"] = self.url(self.path, **extra, **{"$skiptoken": str(start + size)})
        return Reply(200, body)


Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    mutating: bool


ROUTES: list[Route] = []


def _compile(pattern: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[a-z_]+(?::path)?\})", pattern):
        if part.startswith("{"):
            name, _, kind = part[1:-1].partition(":")
            out += f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$", re.IGNORECASE)


def route(method: str, pattern: str, *, mutating: bool | None = None) -> Callable[[Handler], Handler]:
    """Register a handler for ``METHOD pattern`` (see the module docstring)."""

    def register(func: Handler) -> Handler:
        ROUTES.append(
            Route(
                method.upper(),
                pattern,
                _compile(pattern),
                func,
                method.upper() != "GET" if mutating is None else mutating,
            )
        )
        return func

    return register


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for r in ROUTES:
        if r.method == method:
            m = r.regex.match(path)
            if m:
                return r, m.groupdict()
    return None


def load_routes() -> list[Route]:
    """Import every route module of ``lab/azure/api`` once and return the table."""
    import importlib
    import pkgutil

    from remediate.lab.azure import api

    for info in pkgutil.iter_modules(api.__path__):
        importlib.import_module(f"{api.__name__}.{info.name}")
    return ROUTES
