"""CLIXML stderr and console code pages, on samples captured from real hosts (tests/captures/clixml/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediate.connection import clixml
from remediate.connection.codepage import decode_console, encoding_for, looks_japanese

CAPTURES = Path(__file__).parent / "captures" / "clixml"


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def test_not_recognized_error_lines_are_joined_into_the_message_a_console_shows() -> None:
    text = decode_console(capture("manageiq-10473-not-recognized.txt"))
    streams = clixml.parse(text)
    assert len(streams.error) == 10
    lines = streams.error_text.split("\n")
    assert lines[0] == "Bogus : The term 'Bogus' is not recognized as the name of a cmdlet, function,"
    assert lines[3] == "At line:1 char:40"
    assert "    + FullyQualifiedErrorId : CommandNotFoundException" in lines
    assert "_x000D_" not in streams.error_text and "<S" not in streams.error_text
    assert clixml.readable(text) == streams.error_text


def test_progress_only_stderr_has_nothing_to_read() -> None:
    text = decode_console(capture("pywinrm-245-progress-only.txt"))
    streams = clixml.parse(text)
    assert streams.error == [] and streams.warning == []
    assert clixml.readable(text) == ""


def test_plain_error_string() -> None:
    assert clixml.readable(decode_console(capture("winrb-106-error-stream.txt"))) == ", world!"


def test_german_oem_bytes_need_the_code_page() -> None:
    data = capture("pywinrm-333-german-progress.cp850.bin")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "Module werden für erstmalige Verwendung vorbereitet." in decode_console(data, 850)
    assert "für" in decode_console(data, "cp437")
    blind = decode_console(data)  # no hint: never raises, the rest of the text survives
    assert "erstmalige Verwendung vorbereitet." in blind and "für" not in blind
    assert clixml.readable(decode_console(data, 850)) == ""  # a progress record: nothing to show


def test_japanese_stdout_is_recognised_without_a_hint() -> None:
    data = capture("winrb-125-japanese-stdout.cp932.bin")
    assert decode_console(data) == "日本語Test\r\n"
    assert decode_console(data, 932) == "日本語Test\r\n"
    assert decode_console(data, "shift_jis") == "日本語Test\r\n"


def test_japanese_clixml_error_from_a_japanese_host() -> None:
    message = (
        "用語 'Get-Nothing' は、コマンドレット、関数、スクリプト ファイル、"
        "または操作可能なプログラムの名前として認識されません。"
    )
    stderr = (
        "#< CLIXML\r\n"
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        f'<S S="Error">{message}_x000D__x000A_</S></Objs>'
    ).encode("cp932")
    assert clixml.readable(decode_console(stderr)) == message


def test_utf8_wins_and_latin_text_is_not_mistaken_for_japanese() -> None:
    assert decode_console("Größe 日本".encode()) == "Größe 日本"
    # cp1252 bytes pair into random kanji when read as cp932, but without kana they are not taken for Japanese
    data = "Kälte und Wärme".encode("cp1252")
    assert data.decode("cp932")  # decodes "cleanly"...
    assert decode_console(data) == "Kälte und Wärme"  # ...and is still read as cp1252
    assert decode_console("Élément café".encode("cp1252")) == "Élément café"
    assert decode_console(b"\x81\x8d\x8f\x90\x9d") == "\ufffd" * 5  # never raises


def test_code_page_names() -> None:
    assert encoding_for(932) == "cp932"
    assert encoding_for("65001") == "utf-8"
    assert encoding_for("cp850") == "cp850"
    assert encoding_for("no-such-page") is None
    assert encoding_for(None) is None
    assert looks_japanese("エラー") and looks_japanese("日本語") and not looks_japanese("error")


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        ("a_x000D__x000A_b", "a\r\nb"),
        ("snake_x005F_case_name", "snake_case_name"),
        ("emoji _xD83D__xDE00_", "emoji \U0001f600"),
        ("no escapes_here", "no escapes_here"),
    ],
)
def test_unescape(escaped: str, plain: str) -> None:
    assert clixml.unescape(escaped) == plain


def test_streams_warning_verbose_and_text_around_documents() -> None:
    stderr = (
        "before\r\n#< CLIXML\r\n"
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        '<S S="warning">disk &lt;C:&gt; nearly full</S><S S="verbose">step 1</S>'
        '<S S="Error">boom &amp; bust_x000D__x000A_</S></Objs>after'
    )
    streams = clixml.parse(stderr)
    assert streams.warnings == ["disk <C:> nearly full"]
    assert streams.verbose == ["step 1"]
    assert streams.error_text == "boom & bust"
    assert streams.text == "before\r\nafter"
    assert clixml.readable(stderr) == "boom & bust\nbefore\nafter"


def test_truncated_document_still_yields_its_errors() -> None:
    stderr = '#< CLIXML\r\n<Objs Version="1.1.0.1"><S S="Error">cut &amp; short_x000D__x000A_</S><S S="Err'
    assert clixml.readable(stderr) == "cut & short"


@pytest.mark.parametrize(
    "stderr", ["#< CLIXML\n\ud800", '#< CLIXML\n<Objs Version="1.1.0.1"><S S="Error">a\udcffb</S></Objs>']
)
def test_a_lone_surrogate_in_stderr_is_read_not_raised(stderr: str) -> None:
    """A console decoded with surrogateescape can hand the decoder a lone surrogate: the records are still read."""
    assert isinstance(clixml.readable(stderr), str)
    assert clixml.parse(stderr).error == ([] if "Objs" not in stderr else ["a\udcffb"])
