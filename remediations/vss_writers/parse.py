"""Parse ``vssadmin list writers`` in any display language.

Labels are translated ("Writer name", "ライター名", "Nom du rédacteur", "Verfassername"), so they are never read.
A record is found by its structure: a line whose value is a quoted name, then the two ``{GUID}`` lines (writer
id, then instance id), then the ``[N]`` state line, then the last-error line (its text after the colon).

    >>> writers = parse_vss_writers(text)
    >>> [(w.name, w.state) for w in writers if not w.healthy]
    [('System Writer', 8)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from remediate.connection.codepage import decode_console

STABLE = 1
WAITING_FOR_COMPLETION = 5

_QUOTES_OPEN = "'\u2018\u2019"
_QUOTES_CLOSE = "'\u2019\u2018"
_NAME_LINE = re.compile(r"^[^'\u2018\u2019{}\[\]]*?[:\uff1a]\s*['\u2018\u2019](?P<name>.*)['\u2019\u2018]\s*$")
_GUID = re.compile(r"\{([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}")
_STATE = re.compile(r"[:\uff1a]\s*\[(?P<code>\d+)\]\s*(?P<text>.*)$")
_HEX = re.compile(r"0x[0-9A-Fa-f]{1,8}\b")
_COLON = re.compile(r"[:\uff1a]")


@dataclass(frozen=True)
class VssWriter:
    """One writer as ``vssadmin list writers`` shows it.

    ``writer_id`` and ``instance_id`` are lower-case ``{GUID}`` strings; ``state`` is the ``[N]`` code
    (1 stable, 2-4 waiting, 5 waiting for completion, 6-15 failed at a step, 0 unknown); ``state_text`` and
    ``last_error`` are the host's own words, in its language; ``last_error_code`` is the number when the text
    carries one (``0x800423f3``).
    """

    name: str
    writer_id: str
    instance_id: str | None
    state: int
    state_text: str
    last_error: str
    last_error_code: int | None = None

    @property
    def stable(self) -> bool:
        return self.state == STABLE

    @property
    def healthy(self) -> bool:
        """Stable, or waiting for completion after a backup (normal, not a failure by itself)."""
        return self.state in (STABLE, WAITING_FOR_COMPLETION)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "writer_id": self.writer_id,
            "instance_id": self.instance_id,
            "state": self.state,
            "state_text": self.state_text,
            "last_error": self.last_error,
            "last_error_code": self.last_error_code,
        }


def decode_output(raw: bytes, codepage: str | int | None = None) -> str:
    """Text from vssadmin's raw bytes: UTF-16 or UTF-8 when marked or valid, else the OEM code page (the hint),
    else what :func:`remediate.connection.codepage.decode_console` recognises. Never raises."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return decode_console(raw, codepage)


def _after_colon(line: str) -> str:
    match = _COLON.search(line)
    return (line[match.end() :] if match else line).strip()


def _error_code(text: str) -> int | None:
    match = _HEX.search(text)
    return int(match.group(0), 16) if match else None


def parse_vss_writers(text: str | bytes) -> list[VssWriter]:
    """Every complete writer record in the output, in order.

    Accepts CRLF or LF, blank lines, a UTF-8 BOM, the banner lines and a prompt line. A record cut off before
    its ``[N]`` state line (a truncated output) is left out rather than guessed.
    """
    if isinstance(text, bytes):
        text = decode_output(text)
    text = text.lstrip("\ufeff")
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    writers: list[VssWriter] = []
    current: dict[str, Any] | None = None
    awaiting_error = False

    def finish() -> None:
        if current and current.get("writer_id") and current.get("state") is not None:
            writers.append(
                VssWriter(
                    name=current["name"],
                    writer_id=current["writer_id"],
                    instance_id=current.get("instance_id"),
                    state=current["state"],
                    state_text=current.get("state_text", ""),
                    last_error=current.get("last_error", ""),
                    last_error_code=current.get("last_error_code"),
                )
            )

    for line in lines:
        if not line:
            continue
        name = _NAME_LINE.match(line)
        if name and not _GUID.search(line):
            finish()
            current = {"name": name.group("name")}
            awaiting_error = False
            continue
        if current is None:
            continue
        if awaiting_error:
            current["last_error"] = _after_colon(line)
            current["last_error_code"] = _error_code(current["last_error"])
            awaiting_error = False
            continue
        guid = _GUID.search(line)
        if guid and current.get("state") is None:
            value = "{" + guid.group(1).lower() + "}"
            if "writer_id" not in current:
                current["writer_id"] = value
            elif "instance_id" not in current:
                current["instance_id"] = value
            continue
        state = _STATE.search(line)
        if state and current.get("state") is None and "writer_id" in current:
            current["state"] = int(state.group("code"))
            current["state_text"] = state.group("text").strip()
            awaiting_error = True
            continue
    finish()
    return writers
