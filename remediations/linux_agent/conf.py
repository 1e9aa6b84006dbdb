"""``/etc/waagent.conf`` read exactly as WALinuxAgent reads it, and edited on the line the agent reads.

The agent's parser (``azurelinuxagent/common/conf.py``, ``ConfigurationProvider.load``) is, in full::

    for line in content.split('\\n'):
        if not line.startswith("#") and "=" in line:
            parts = line.split('=', 1)
            key = parts[0].strip()
            value = parts[1].split('#')[0].strip("\\" ").strip()
            self.values[key] = value if value != "None" else None

so: lines split on ``\\n`` only (a CRLF line keeps its ``\\r``, which the final ``strip()`` removes); a comment is
a ``#`` in the first column only (``  # Key=n`` is a line whose key is ``# Key``, which nothing reads); everything
after the first ``#`` of a value is dropped (an inline comment, or half of a value that contains ``#``); double
quotes and spaces around the value go, single quotes stay; the last line of a key wins; ``None`` means "not set".
A switch (``get_switch``) is ``y``/``Y`` true, ``n``/``N`` false, and anything else (``yes``, ``true``, an empty
value) is the default; a string (``get``) is the value as written, compared case-sensitively. The agent refuses an
empty file (``AgentConfigError``) and reads the file as UTF-8 (strict), so a file that is not UTF-8 stops it.

An edit replaces the line the agent reads last for the key (its content, not its line ending), or appends one line
with the file's own line ending; every other byte is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Edit", "Setting", "agent_values", "edits_for", "effective", "parse_conf", "render_edits"]


def _agent_line(line: str) -> tuple[str, str | None] | None:
    """``(key, value)`` of one line as the agent reads it, or None when the agent skips the line."""
    if line.startswith("#") or "=" not in line:
        return None
    key, rest = line.split("=", 1)
    value = rest.split("#")[0].strip('" ').strip()
    return key.strip(), (value if value != "None" else None)


def agent_values(text: str) -> dict[str, str | None]:
    """Every key the agent reads, with the value it keeps (None for ``None``): ``ConfigurationProvider.load``."""
    values: dict[str, str | None] = {}
    for line in text.split("\n"):
        parsed = _agent_line(line)
        if parsed is not None:
            values[parsed[0]] = parsed[1]
    return values


def parse_conf(text: str) -> dict[str, str]:
    """The keys the agent reads with a value (``None`` and unset keys left out): what ``conf.get`` sees."""
    return {k: v for k, v in agent_values(text).items() if v is not None}


@dataclass(frozen=True)
class Setting:
    """One key the remediation checks: how the agent reads it and the value it must end with."""

    key: str
    kind: str  # "switch" (get_switch) or "string" (get)
    default: str  # the agent's default, as the value that means it ("y" for True)
    required: str

    def effective(self, value: str | None) -> str:
        """The value the agent works with: for a switch "y" or "n", for a string the value or the default."""
        if value is None:
            return self.default
        if self.kind == "switch":
            if value.lower() == "y":
                return "y"
            if value.lower() == "n":
                return "n"
            return self.default
        return value

    def compliant(self, value: str | None) -> bool:
        return self.effective(value) == self.required

    def describe(self, value: str | None, present: bool) -> str:
        """The value as the agent reads it, for a finding: ``n``, ``(default y)``, ``yes (read as the default y)``."""
        if not present:
            return f"(absent: default {self.default})"
        if value is None:
            return f"None (default {self.default})"
        effective = self.effective(value)
        if effective != value:
            return f"{value} (read as the default {effective})"
        return value


def effective(setting: Setting, text: str) -> str:
    values = agent_values(text)
    return setting.effective(values.get(setting.key))


@dataclass(frozen=True)
class Edit:
    """Replace bytes ``[start, end)`` of the file's UTF-8 encoding with ``text``."""

    start: int
    end: int
    text: str


def _eol(text: str) -> str:
    """The file's line ending: CRLF when most of its lines end so, else LF."""
    lf = text.count("\n")
    crlf = text.count("\r\n")
    return "\r\n" if lf and crlf * 2 > lf else "\n"


def edits_for(text: str, settings: dict[str, str]) -> list[Edit]:
    """The edits that make the agent read ``settings`` (``{key: value}``) from ``text``, last edit first.

    The line the agent reads last for a key gets ``Key=value`` (its line ending kept); a key the agent reads from
    no line gets a line appended, with the file's line ending (and one before it when the file does not end with a
    line break). Offsets are in the UTF-8 encoding of ``text``.
    """
    last: dict[str, tuple[int, int]] = {}
    offset = 0
    for line in text.split("\n"):
        size = len(line.encode("utf-8"))
        parsed = _agent_line(line)
        if parsed is not None and parsed[0] in settings:
            content = size - 1 if line.endswith("\r") else size
            last[parsed[0]] = (offset, offset + content)
        offset += size + 1
    total = len(text.encode("utf-8"))
    edits = [Edit(start, end, f"{key}={settings[key]}") for key, (start, end) in last.items()]
    missing = [key for key in settings if key not in last]
    if missing:
        eol = _eol(text)
        lead = eol if text and not text.endswith("\n") else ""
        edits.append(Edit(total, total, lead + "".join(f"{key}={settings[key]}{eol}" for key in missing)))
    return sorted(edits, key=lambda e: -e.start)


def apply_edits(text: str, edits: list[Edit]) -> str:
    """What the file becomes (``set_conf.sh`` does the same on the bytes)."""
    data = text.encode("utf-8")
    for edit in sorted(edits, key=lambda e: -e.start):
        data = data[: edit.start] + edit.text.encode("utf-8") + data[edit.end :]
    return data.decode("utf-8")


def render_edits(edits: list[Edit]) -> list[str]:
    """``set_conf.sh``'s EDITS argument: one ``START END TEXT`` line each (CR and LF in TEXT as ``\\r``, ``\\n``)."""
    out = []
    for edit in edits:
        if "\\" in edit.text:
            raise ValueError(f"an edit of waagent.conf cannot carry {edit.text!r}")
        text = edit.text.replace("\r", "\\r").replace("\n", "\\n")
        out.append(f"{edit.start} {edit.end} {text}")
    return out
