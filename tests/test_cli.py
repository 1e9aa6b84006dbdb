"""The command line: help stays light, errors are clear, list/show describe every remediation."""

from __future__ import annotations

import json
import subprocess
import sys

from remediate import cli

HEAVY = ("winrm", "paramiko", "fabric", "requests", "tenacity", "structlog", "yaml", "cryptography")


def test_help_imports_no_transport_or_logging_library() -> None:
    code = (
        "import sys\n"
        "from remediate import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_no_hosts_is_a_clear_error(capsys) -> None:
    assert cli.main(["vss-writers", "--dry-run"]) == cli.EXIT_ERROR
    assert "no hosts" in capsys.readouterr().err


def test_unknown_remediation_names_the_known_ones(capsys) -> None:
    assert cli.main(["--host", "vm1", "no-such-fix"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "unknown remediation 'no-such-fix'" in err


def test_bad_param_is_rejected_before_anything_runs(capsys) -> None:
    assert cli.main(["--host", "vm1", "vss-writers", "--param", "novalue"]) == cli.EXIT_ERROR
    assert "KEY=VALUE" in capsys.readouterr().err


def test_list_json_has_every_field(capsys) -> None:
    assert cli.main(["list", "--output", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows, "no remediation registered"
    for row in rows:
        assert {"slug", "os", "risk", "answers", "title"} <= set(row)
        assert row["risk"] in ("safe", "disruptive", "destructive")


def test_for_an_azure_side_row_names_the_documented_action(capsys) -> None:
    assert cli.main(["--host", "vm1", "--for", "ResourceNotFound"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "no in-guest fix applies" in err and "documented action:" in err


def test_for_an_unknown_text_says_so(capsys) -> None:
    assert cli.main(["--host", "vm1", "--for", "the printer is out of paper"]) == cli.EXIT_ERROR
    assert "no catalog row matches" in capsys.readouterr().err
