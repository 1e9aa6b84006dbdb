"""Logging with structlog: context bound once, secrets redacted by a processor in the chain.

``configure()`` sets readable console lines on stderr and, on request, JSON lines to a file. Every event
passes :func:`redact` first: values of secret-looking keys are masked, and any value registered with
:func:`register_secret` (a password read from the environment, a file or a prompt) is masked wherever it
appears, inside any string.
"""

from __future__ import annotations

import logging
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
            import structlog  # configured already: this handler is installed by configure()

            structlog.get_logger("remediate.lib").log(level, "library_log", **fields)
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


def configure(level: str = "warning", json_file: str | None = None, stream: TextIO | None = None) -> None:
    """Console lines at ``level`` on stderr; every event at debug and above as JSON lines to ``json_file``."""
    import structlog  # here, not at the top: the secret registry above is imported by commands that never log

    console_level = getattr(logging, level.upper(), logging.WARNING)
    stream = stream or sys.stderr
    handlers: list[logging.Handler] = []
    console = logging.StreamHandler(stream)
    console.setLevel(console_level)
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.dev.ConsoleRenderer(colors=stream.isatty()),
            foreign_pre_chain=[redact],
        )
    )
    handlers.append(console)
    if json_file:
        fh = logging.FileHandler(json_file, encoding="utf-8")
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(structlog.stdlib.ProcessorFormatter(processor=structlog.processors.JSONRenderer()))
        handlers.append(fh)
    root = logging.getLogger("remediate")
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if json_file else console_level)
    root.propagate = False
    _route_libraries(root.level)
    structlog.configure(
        processors=[
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


class _RemediateLoggerFactory:
    """Every structlog logger writes under the ``remediate`` stdlib logger."""

    def __call__(self, *args: Any) -> logging.Logger:
        name = args[0] if args and isinstance(args[0], str) else "remediate"
        if not name.startswith("remediate"):
            name = "remediate." + name
        return logging.getLogger(name)
