"""Logging with structlog: context bound once, secrets redacted by a processor in the chain.

``configure()`` sets readable console lines on stderr and, on request, JSON lines to a file. The console is
coloured only on a terminal and never when ``NO_COLOR`` is set; events whose content the run's results already
carry (a remote operation that failed, its retries, an internal error) go to the file and not to the console,
unless the console asked for ``info`` or ``debug``. Every event
passes :func:`redact` first: values of secret-looking keys are masked, and any value registered with
:func:`register_secret` (a password read from the environment, a file or a prompt) is masked wherever it
appears, inside any string.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import MutableMapping
from typing import Any, TextIO

MASK = "********"
_SECRET_KEY = re.compile(
    r"(?<!by)pass(word|wd|phrase)?|secret|token|credential|api[_-]?key|private[_-]?key(?!_file)", re.I
)  # "bypass" (a proxy's bypass list) is no secret
# Names of references to a secret (an environment variable's name, a file's path) are not secrets.
_REFERENCE = re.compile(r"(_env|_file|_path|_name)$", re.I)


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and not _REFERENCE.search(key)


_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this value wherever it would appear in a log event, a result file or an error text."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """Replace every registered secret inside a string."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: (MASK if _is_secret_key(k) and v else _clean(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(v) for v in value)
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask secret keys and registered secret values."""
    for key in list(event):
        value = event[key]
        if _is_secret_key(key) and value not in (None, "", False):
            event[key] = MASK
        else:
            event[key] = _clean(value)
    return event


# Events that a host's result (the table, --output json) already reports: the file has them, the console not.
REPORTED_EVENTS = frozenset({"remote_op", "remote_op_retry", "internal_error", "dry_run_refused"})


def use_color(stream: TextIO) -> bool:
    """Colour for a terminal only, and never with ``NO_COLOR`` set (https://no-color.org) or ``TERM=dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _NotReported(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        event = record.msg.get("event") if isinstance(record.msg, dict) else None
        return event not in REPORTED_EVENTS


# The libraries under the transports. Their records go through remediate's logging (redacted, rendered like ours),
# never straight to stderr: paramiko alone logs a 20-line traceback at ERROR for every refused connection.
LIBRARY_LOGGERS = ("paramiko", "urllib3", "requests", "requests_ntlm", "spnego", "winrm", "fabric", "invoke")


def library_level(record: logging.LogRecord) -> int:
    """The level a library's record gets in our log. Its errors and tracebacks are debug: remediate reports the
    failure itself, with the host, the step and what to do; its warnings are info; the rest debug."""
    if record.levelno >= logging.ERROR or record.exc_info:
        return logging.DEBUG
    if record.levelno >= logging.WARNING:
        return logging.INFO
    return logging.DEBUG


class LibraryHandler(logging.Handler):
    """Hands a library's log record to structlog's ``remediate.lib`` logger at :func:`library_level`."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = library_level(record)
            target = logging.getLogger("remediate.lib")
            if not target.isEnabledFor(level):
                return
            fields: dict[str, Any] = {"library": record.name, "message": record.getMessage()}
            if record.exc_info and record.exc_info[0] is not None:
                fields["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            get_logger("remediate.lib").log(level, "library_log", **fields)
        except Exception:  # logging must never break a run
            self.handleError(record)


def _route_libraries(level: int) -> None:
    handler = LibraryHandler()
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, LibraryHandler)] + [handler]
        logger.propagate = False
        # paramiko at debug logs every packet: libraries speak from info when we listen at debug
        logger.setLevel(logging.INFO if level <= logging.DEBUG else logging.WARNING)


# configure() records what structlog must do; structlog itself is imported by the first event that some handler
# would write (a run at the default level that logs nothing at warning never imports it: ~35 ms of start-up).
_setup_lock = threading.RLock()
_configured = False  # configure() ran
_applied = False  # ... and structlog has been configured accordingly


def configure(level: str = "warning", json_file: str | None = None, stream: TextIO | None = None) -> None:
    """Console lines at ``level`` on stderr; every event at debug and above as JSON lines to ``json_file``."""
    global _configured, _applied
    console_level = getattr(logging, level.upper(), logging.WARNING)
    stream = stream or sys.stderr
    handlers: list[logging.Handler] = []
    console = logging.StreamHandler(stream)
    console.setLevel(console_level)
    if console_level >= logging.WARNING:
        console.addFilter(_NotReported())
    console.setFormatter(_Deferred("console", use_color(stream)))
    handlers.append(console)
    if json_file:
        fh = logging.FileHandler(json_file, encoding="utf-8")
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(_Deferred("json"))
        handlers.append(fh)
    root = logging.getLogger("remediate")
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if json_file else console_level)
    root.propagate = False
    _route_libraries(root.level)
    with _setup_lock:
        _configured, _applied = True, False
    if "structlog" in sys.modules:  # already paid for: configure it now, as before
        _structlog()


def is_configured() -> bool:
    """Whether logging was set up, by :func:`configure` or by the application through structlog itself."""
    if _configured:
        return True
    structlog = sys.modules.get("structlog")
    return bool(structlog is not None and structlog.is_configured())


def _structlog() -> Any:
    """The structlog module, configured by what :func:`configure` recorded (once, on first use)."""
    global _applied
    import structlog

    if _configured and not _applied:
        with _setup_lock:
            if _configured and not _applied:
                structlog.configure(
                    processors=[
                        structlog.stdlib.filter_by_level,  # an event no handler would write costs nothing more
                        structlog.contextvars.merge_contextvars,
                        structlog.stdlib.add_log_level,
                        structlog.processors.TimeStamper(fmt="iso", utc=True),
                        redact,
                        structlog.processors.format_exc_info,
                        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
                    ],
                    logger_factory=_RemediateLoggerFactory(),
                    wrapper_class=structlog.stdlib.BoundLogger,
                    cache_logger_on_first_use=False,
                )
                _applied = True
    return structlog


class _Deferred(logging.Formatter):
    """structlog's ProcessorFormatter, built when the first record is formatted."""

    def __init__(self, kind: str, colors: bool = False) -> None:
        super().__init__()
        self._kind, self._colors = kind, colors
        self._real: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._real is None:
            structlog = _structlog()
            if self._kind == "console":
                self._real = structlog.stdlib.ProcessorFormatter(
                    processor=structlog.dev.ConsoleRenderer(colors=self._colors), foreign_pre_chain=[redact]
                )
            else:
                self._real = structlog.stdlib.ProcessorFormatter(processor=structlog.processors.JSONRenderer())
        return self._real.format(record)


def _stdlib_name(name: str) -> str:
    return name if name.startswith("remediate") else "remediate." + name


class Logger:
    """A structlog logger that imports and configures structlog on its first event that would be written.

    ``bind`` keeps the context; ``debug`` ... ``exception`` and ``log`` are structlog's. Before structlog is imported,
    an event below every handler's level (the usual case at the default level) returns at once."""

    __slots__ = ("_context", "_name")

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self._name = name
        self._context = context or {}

    def bind(self, **values: Any) -> Logger:
        return Logger(self._name, {**self._context, **values})

    def _bound(self, level: int) -> Any:
        """structlog's bound logger, or None for an event that no handler would write (checked before importing)."""
        if (
            _configured
            and "structlog" not in sys.modules
            and not logging.getLogger(_stdlib_name(self._name)).isEnabledFor(level)
        ):
            return None
        bound = _structlog().get_logger(self._name)
        return bound.bind(**self._context) if self._context else bound

    def debug(self, event: str, **values: Any) -> None:
        self.log(logging.DEBUG, event, **values)

    def info(self, event: str, **values: Any) -> None:
        self.log(logging.INFO, event, **values)

    def warning(self, event: str, **values: Any) -> None:
        self.log(logging.WARNING, event, **values)

    def error(self, event: str, **values: Any) -> None:
        self.log(logging.ERROR, event, **values)

    def exception(self, event: str, **values: Any) -> None:
        bound = self._bound(logging.ERROR)
        if bound is not None:
            bound.exception(event, **values)

    def log(self, level: int, event: str, **values: Any) -> None:
        bound = self._bound(level)
        if bound is not None:
            bound.log(level, event, **values)


def get_logger(name: str, **context: Any) -> Logger:
    """The logger of that name (under ``remediate``), with this context bound."""
    return Logger(name, context)


class _RemediateLoggerFactory:
    """Every structlog logger writes under the ``remediate`` stdlib logger."""

    def __call__(self, *args: Any) -> logging.Logger:
        name = args[0] if args and isinstance(args[0], str) else "remediate"
        return logging.getLogger(_stdlib_name(name))
