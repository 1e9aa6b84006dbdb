"""Arguments travel as data: hostile values never become script text, on either wire format."""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from remediate import scripts
from remediate.operation import mutate, read

HOSTILE = [
    "x'; Remove-Item C:\\ -Recurse -Force #",
    '"; Stop-Computer -Force; "',
    "$(Stop-Computer)",
    "`whoami`",
    "$(reboot)",
    "a\nb\r\nc",
    "; rm -rf / #",
    "' OR 1=1 --",
    "日本語のサービス名",
    "",
    "  spaces  ",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_powershell_envelope_carries_values_as_data(value: str) -> None:
    op = read("common/probe.ps1", echo=value, name=value)
    payload = scripts.powershell_stdin(op)
    assert payload.isascii()
    text = payload.decode("ascii")
    if value.strip() and value.isascii() and len(value) > 3:
        assert value not in text
    envelope, args, body, library = scripts.decode_powershell_stdin(payload)
    assert args == {"echo": value, "name": value}
    assert body == scripts.script_text("common/probe.ps1")
    assert envelope["sha256"] == scripts.script_digest("common/probe.ps1")
    assert library == scripts.script_text(scripts.PS_LIBRARY)
    assert envelope["library_sha256"] == scripts.script_digest(scripts.PS_LIBRARY)


def test_powershell_command_line_is_fixed_and_short() -> None:
    line = scripts.powershell_command_line()
    assert len(line) < 8191
    _exe, args = scripts.powershell_command()
    decoded = base64.b64decode(args[-1]).decode("utf-16-le")
    code = [line for line in scripts.bootstrap_text().splitlines() if not line.startswith("#")]
    assert decoded.splitlines() == code  # the packaged file less its comment lines: the command line is limited
    # the same for every operation: no value can reach the command line
    assert line == scripts.powershell_command_line()


def test_sh_command_line_has_only_base64_tokens() -> None:
    op = mutate("common/probe.sh", echo="x'; rm -rf / #", other="$(reboot)")
    words = shlex.split(scripts.sh_argv(op, sudo=True))
    assert words[:5] == ["sudo", "-n", "/bin/sh", "-s", "--"]
    for token in words[5:]:
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


@pytest.mark.parametrize("value", HOSTILE)
def test_sh_prelude_decodes_hostile_values_in_a_real_shell(value: str, tmp_path: Path) -> None:
    """Runs the prelude with the real /bin/sh: the value comes back byte-identical and nothing ran."""
    marker = tmp_path / "pwned"
    script = 'emit got "$(b64d "$1")"\n'
    op = read("common/probe.sh", echo=value + f"; touch {marker}")
    stdin = scripts.script_text(scripts.SH_PRELUDE) + "\n" + script
    proc = subprocess.run(
        scripts.sh_argv(op), shell=True, input=stdin.encode(), capture_output=True, timeout=10, check=False
    )
    assert proc.returncode == 0, proc.stderr
    data, _ = scripts.split_kv(proc.stdout.decode())
    # command substitution drops trailing newlines, as documented for b64d
    assert data["got"] == [(value + f"; touch {marker}").rstrip("\n")]
    assert not marker.exists()


def test_result_line_round_trip() -> None:
    line = scripts.encode_result(True, {"name": "システム ライター", "state": 1})
    result, rest = scripts.split_result("noise\r\n" + line + "\r\nmore")
    assert result == {"ok": True, "data": {"name": "システム ライター", "state": 1}, "error": None}
    assert rest == "noise\nmore"


def test_scripts_outside_the_package_are_refused() -> None:
    with pytest.raises(FileNotFoundError):
        scripts.script_text("../remediate/bootstrap.ps1")
    with pytest.raises(FileNotFoundError):
        scripts.script_text("/etc/passwd")


def test_every_packaged_script_is_ascii() -> None:
    root = scripts.scripts_root()
    for path in [*root.rglob("*.ps1"), *root.rglob("*.sh")]:
        assert path.read_bytes().isascii(), path
        json.dumps(scripts.script_text(str(path.relative_to(root))))


def test_lab_refuses_an_operation_whose_library_differs(tmp_path) -> None:
    """The lab runs packaged code only: a changed library is refused like a changed script."""
    from remediate.lab.state import HostState, OpLog
    from remediate.lab.windows.model import default_machine
    from remediate.lab.windows.powershell import execute

    state = HostState(tmp_path / "win01.yml")
    state.write({"name": "win01", "os": "windows", "faults": {}, "machine": default_machine()})
    oplog = OpLog(tmp_path / "oplog.jsonl")
    exe, args = scripts.powershell_command()
    good = scripts.powershell_stdin(read("common/probe.ps1", echo="x"))
    assert execute(state, oplog, exe, args, good).exit_code == 0
    bad = good.replace(b"function Get-ExitReason", b"function Remove-Everything")
    assert bad != good
    done = execute(state, oplog, exe, args, bad)
    assert done.exit_code == 1 and b"differs from the packaged one" in done.stderr
    assert oplog.entries()[-1]["op"] == "script-mismatch"
