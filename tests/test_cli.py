"""The command line: help stays light, errors are clear, list/show describe every remediation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


# -- usage and configuration errors exit 1, before anything runs -------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["--forks", "x", "--host", "vm1", "vss-writers"],
        ["--no-such-option"],
        ["list", "--no-such-option"],
        ["lab", "no-such-verb"],
        ["--output", "xml", "list"],
    ],
)
def test_usage_errors_exit_1_in_one_line(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("remediate"), err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--forks", "0"), ("--forks", "-1"), ("--host-timeout", "0"), ("--host-timeout", "-5"),
     ("--host-timeout", "nan"), ("--retries", "0"), ("--connect-timeout", "0"), ("--retry-wait", "-1")],
)  # fmt: skip
def test_numbers_that_would_silently_mean_something_else_are_refused(option, value, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--host", "vm1", "vss-writers", option, value])
    assert exc.value.code == cli.EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and option in err and value in err, err


def test_the_api_refuses_zero_forks_and_a_zero_host_timeout() -> None:
    from remediate.inventory import ad_hoc_host

    from remediate import playbook
    from remediate.errors import ConfigError

    host = ad_hoc_host("vm1", os="windows")
    for options in (playbook.RunOptions(forks=0), playbook.RunOptions(host_timeout=0), playbook.RunOptions(forks=-1)):
        with pytest.raises(ConfigError):
            playbook.run([host], ["vss-copy-backup"], options)


def _journal_files(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "journal").glob("*")) if (tmp_path / "journal").exists() else []


def test_an_invalid_host_name_is_refused_before_anything_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("REMEDIATE_PASSWORD", "pw-for-test")
    code = cli.main(["--host", "a;rm -rf ~/x", "--user", "u", "vss-copy-backup"])
    assert code == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert "'a;rm -rf ~/x' is not a host name or an IP address" in captured.err
    assert "nothing was run" in captured.err and captured.out == ""
    assert _journal_files(tmp_path) == []


def test_no_user_for_an_ad_hoc_host_names_the_option(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("REMEDIATE_PASSWORD", "pw-for-test")
    monkeypatch.delenv("REMEDIATE_USER", raising=False)
    assert cli.main(["--host", "vm1", "vss-copy-backup"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "no user name" in err and "--user" in err and "inventory" not in err
    assert _journal_files(tmp_path) == []


def test_no_password_and_an_unset_password_env_are_refused_for_every_host(tmp_path: Path, capsys) -> None:
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "hosts:\n"
        "  w1: {address: 10.0.0.1, os: windows, user: admin}\n"
        "  w2: {address: 10.0.0.2, os: windows, user: admin, password_env: NO_SUCH_VARIABLE_FOR_TEST}\n"
        "  l1: {address: '::1', os: linux}\n"
    )
    assert cli.main(["-i", str(inv), "vss-copy-backup", "--dry-run"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "w1: no password for WinRM" in err and "password_file" in err
    assert "w2: " in err and "NO_SUCH_VARIABLE_FOR_TEST" in err
    assert "l1:" not in err


def test_wrong_winrm_settings_in_an_inventory_are_refused_before_anything_runs(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("REMEDIATE_PASSWORD", "pw-for-test")
    inv = tmp_path / "hosts.yml"
    inv.write_text("hosts:\n  w1: {address: 10.0.0.1, os: windows, user: admin, winrm_scheme: http, "
                   "winrm_transport: basic}\n")  # fmt: skip
    assert cli.main(["-i", str(inv), "vss-copy-backup"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "[w1]" in err and "Basic authentication over plain HTTP" in err and "nothing was run" in err
    assert _journal_files(tmp_path) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "-o", "json"],
        ["show", "vss-writers"],
        ["diagnose", "UserErrorVmNotInDesirableState"],
        ["inventory", "-i", "inventory/lab.yml", "--list"],
        ["ping", "--host", "vm1", "--forks", "3"],
        ["lab", "up", "--windows", "2", "--detach"],
        ["automation", "package", "out", "--extra", "azure"],
        ["completion", "bash"],
    ],
)
def test_a_verb_parsed_alone_reads_as_with_every_verb_built(argv: list[str]) -> None:
    """``remediate list`` builds its own parser only; what it reads must not differ from the full parser's."""
    assert cli._verb_parser(argv[0]).parse_args(argv) == cli._verb_parser().parse_args(argv)


def _command(tmp_path: Path, argv: list[str], before: str = "") -> subprocess.CompletedProcess[str]:
    """``remediate ARGV`` as the console script runs it (remediate.cli:run), in a fresh interpreter."""
    code = (
        "import atexit, sys\n"
        f"tmp = {str(tmp_path)!r}\n"
        "atexit.register(lambda: open(tmp + '/atexit', 'w').write('ran'))\n"
        "import threading\n"
        "# run by the interpreter's teardown only (it waits for the threads first), never by os._exit\n"
        "threading._register_atexit(lambda: open(tmp + '/finalized', 'w').write('ran'))\n"
        f"{before}\n"
        "from remediate.cli import run\n"
        f"run({argv!r})\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_the_command_skips_the_interpreter_teardown_but_not_what_an_exit_must_do(tmp_path: Path) -> None:
    """Tearing the interpreter down costs ~0.1 s a run for nothing; the output, the atexit hooks (logging's
    among them) and the exit code are kept."""
    done = _command(tmp_path, ["list", "-o", "json"])
    assert done.returncode == 0, done.stderr
    assert {r["slug"] for r in json.loads(done.stdout)} >= {"vss-writers", "fs-freeze"}  # all of it, flushed
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "finalized").exists()  # no teardown
    usage = _command(tmp_path, ["--forks", "0", "vss-writers"])
    assert usage.returncode == 1 and "--forks" in usage.stderr
    helped = _command(tmp_path, ["--help"])
    assert helped.returncode == 0 and "usage: remediate" in helped.stdout


def test_the_command_exits_normally_while_a_thread_still_works(tmp_path: Path) -> None:
    """A thread that is not a daemon would be waited for at a normal exit: then the exit is the normal one."""
    worker = (
        "import threading, time\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    open(tmp + '/worker', 'w').write('done')\n"
        "threading.Thread(target=late).start()\n"
    )
    done = _command(tmp_path, ["list"], before=worker)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "worker").read_text() == "done"
    assert (tmp_path / "finalized").read_text() == "ran"


def test_the_collector_is_held_back_while_starting_only(tmp_path: Path) -> None:
    """run() holds the cyclic collector back while the command parses and imports; a run gets it back (the
    start-up's objects frozen) once the transports are imported, any other verb before its handler runs."""
    probe = (
        "import gc\n"
        "from remediate import cli, playbook\n"
        "def seen(*a, **k):\n"
        "    print('run', gc.isenabled(), gc.get_freeze_count() > 0)\n"
        "    raise SystemExit(0)\n"
        "playbook.run = seen\n"
        "real_preflight, real_parser = cli._preflight, cli._verb_parser\n"
        "cli._preflight = lambda *a: print('preflight', gc.isenabled()) or real_preflight(*a)\n"
        "cli._verb_parser = lambda *a: print('parser', gc.isenabled()) or real_parser(*a)\n"
        "cli._cmd_list = lambda args: print('list', gc.isenabled()) or 0\n"
    )
    env_argv = ["--host", "127.0.0.1:5985", "--user", "u", "--password-env", "HOME", "vss-writers", "--dry-run"]
    done = _command(tmp_path, env_argv, before=probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["preflight False", "run True True"]
    listed = _command(tmp_path, ["list"], before=probe)
    assert listed.stdout.splitlines() == ["parser False", "list True"]
