"""Console bytes from a Windows host, turned into text whatever code page the console used.

A WinRS command writes its output in the console's code page: UTF-8 when the shell asked for 65001 and the
program obeyed, otherwise the host's OEM code page (437 en-US, 850 de-DE/fr-FR, 932 ja-JP). The bytes carry
no label, so :func:`decode_console` tries, in order: UTF-8 (valid UTF-8 is almost never an accident), the
code page we were told or learned from the probe, Shift-JIS (cp932) when it decodes cleanly into Japanese
text, and finally cp1252 with replacement characters. It never raises.
"""

from __future__ import annotations

import codecs
import re

# Kana, CJK punctuation and full-width ASCII; and the common CJK ideographs.
_KANA = re.compile("[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\uff01-\uff5e]")
_KANJI = re.compile("[\u4e00-\u9fff]")
_ALIASES = {"65001": "utf-8", "utf8": "utf-8", "1200": "utf-16-le", "20127": "ascii"}


def encoding_for(hint: str | int | None) -> str | None:
    """The Python codec of a Windows code page (``932``, ``"cp850"``, ``"shift_jis"``...), or None."""
    if hint is None or hint == "":
        return None
    name = str(hint).strip().lower()
    name = _ALIASES.get(name, name)
    if name.isdigit():
        name = f"cp{name}"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def looks_japanese(text: str) -> bool:
    """Kana, Japanese punctuation or kanji in a text."""
    return bool(_KANA.search(text) or _KANJI.search(text))


def _shift_jis_likely(data: bytes, text: str) -> bool:
    """Whether bytes that decode cleanly as cp932 really are Japanese.

    Kana settle it. Kanji alone do not: a Latin-1 letter followed by an ASCII one (``ä`` + ``l``) also reads
    as a kanji. But those pairs start with a byte of 0xE0-0xFC, while kana, symbols and the common (level 1)
    kanji of real Shift-JIS text start with 0x81-0x9F, which Western text hardly ever contains.
    """
    if _KANA.search(text):
        return True
    if not _KANJI.search(text):
        return False
    low = high = 0
    i = 0
    while i < len(data):
        b = data[i]
        if 0x81 <= b <= 0x9F:
            low += 1
            i += 2
        elif 0xE0 <= b <= 0xFC:
            high += 1
            i += 2
        else:
            i += 1
    return low > high


def decode_console(data: bytes, hint: str | int | None = None) -> str:
    """Decode console output: UTF-8 when valid, else the hinted code page, else cp932 Japanese, else cp1252."""
    if not data:
        return ""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    encoding = encoding_for(hint)
    if encoding and encoding != "utf-8":
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        text = ""
    if text and _shift_jis_likely(data, text):
        return text
    return data.decode("cp1252", errors="replace")
