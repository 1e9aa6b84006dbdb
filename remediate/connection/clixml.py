"""PowerShell's CLIXML on stderr, turned into what a person reads in a console.

When ``powershell.exe`` runs with redirected streams (as under WinRS), it writes its error, warning, verbose,
debug and progress records to stderr as serialized objects after a ``#< CLIXML`` line::

    #< CLIXML
    <Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">
      <S S="Error">Cannot find path 'C:\\x' because it does not exist._x000D__x000A_</S>
      <S S="warning">...</S>
      <Obj S="progress" RefId="0">...</Obj>
    </Objs>

Characters that XML cannot hold are escaped as ``_xHHHH_`` (UTF-16 code units, so emoji come as surrogate
pairs, and ``_x005F_`` is an underscore). :func:`parse` splits the streams; :func:`readable` gives the text an
operator should see (the errors, else the text that was not CLIXML). Progress records are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

MARKER = "#< CLIXML"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_STRING = re.compile(r'<S S="([^"]*)">(.*?)</S>', re.S)


def unescape(text: str) -> str:
    """Undo PowerShell's ``_xHHHH_`` escapes (surrogate pairs joined into one character)."""
    if "_x" not in text:
        return text
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    try:
        return raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le", errors="replace")


@dataclass
class Streams:
    """The records of one stderr text, by stream, plus whatever text was not CLIXML."""

    error: list[str] = field(default_factory=list)
    warning: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    debug: list[str] = field(default_factory=list)
    information: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def error_text(self) -> str:
        return _lines("".join(self.error))

    @property
    def warnings(self) -> list[str]:
        return [w for w in (_lines(x) for x in self.warning) if w]


def _lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _add(streams: Streams, stream: str, value: str) -> None:
    bucket = {
        "error": streams.error,
        "warning": streams.warning,
        "verbose": streams.verbose,
        "debug": streams.debug,
        "information": streams.information,
    }.get(stream.lower())
    if bucket is not None:
        bucket.append(value)


def _parse_document(doc: str, streams: Streams) -> None:
    try:
        root = ET.fromstring(doc)
    except (ET.ParseError, UnicodeEncodeError):  # cut short, not well-formed, or a lone surrogate the XML parser
        # cannot take: the string records we can see
        for stream, value in _STRING.findall(doc):
            _add(streams, stream, unescape(_xml_text(value)))
        return
    for node in root:
        stream = node.get("S", "")
        if _local(node.tag) == "S":
            _add(streams, stream, unescape(node.text or ""))
        elif stream.lower() == "information":
            # An InformationRecord: its MessageData, as Write-Host shows it.
            for child in node.iter():
                if child.get("N") == "MessageData" and child.text:
                    _add(streams, stream, unescape(child.text))
                    break


def _xml_text(value: str) -> str:
    return (
        value.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def parse(stderr: str) -> Streams:
    """Split a stderr text into its CLIXML streams; text outside any CLIXML document is kept as ``text``."""
    streams = Streams()
    if MARKER not in stderr:
        streams.text = stderr
        return streams
    rest: list[str] = []
    pos = 0
    while True:
        start = stderr.find(MARKER, pos)
        if start < 0:
            rest.append(stderr[pos:])
            break
        rest.append(stderr[pos:start])
        body_start = start + len(MARKER)
        end = stderr.find("</Objs>", body_start)
        if end < 0:
            _parse_document(stderr[body_start:].strip(), streams)
            break
        end += len("</Objs>")
        _parse_document(stderr[body_start:end].strip(), streams)
        pos = end
    streams.text = "".join(rest).strip()
    return streams


def readable(stderr: str) -> str:
    """The text a person should see for a stderr: its error records, and any plain text around them."""
    streams = parse(stderr)
    parts = [p for p in (streams.error_text, _lines(streams.text)) if p]
    return "\n".join(parts)
