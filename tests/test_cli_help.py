"""Help and discovery: the commands are listed, every option says what it does and its default, --version,
shell completion."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import remediate
from remediate import cli
from remediate.journal import default_dir


def _all_parsers() -> list[argparse.ArgumentParser]:
    out: list[argparse.ArgumentParser] = []
    from remediate import azurecli

    todo = [cli._run_parser(), cli._verb_parser(), azurecli.parser()]
    while todo:
        parser = todo.pop()
        out.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(p for name, p in action.choices.items() if name != "serve")
    return out


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_help_lists_every_command_with_one_line(capsys) -> None:
    out = _help(["--help"], capsys)
    for name in ("list", "show", "diagnose", "inventory", "undo", "ping", "lab", "azure", "completion"):
        line = next((x for x in out.splitlines() if x.strip().startswith(name)), "")
        assert len(line.split()) > 3, f"{name} has no line in --help"


def test_every_option_has_help_and_shows_its_default(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping inside a hyphenated default
    for parser in _all_parsers():
        text = parser.format_help()
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{parser.prog} {action.option_strings or action.dest} has no help"
            default = action.default
            if action.option_strings and default not in (None, False, [], argparse.SUPPRESS):
                assert f"(default: {default})" in " ".join(text.split()), f"{parser.prog} {action.option_strings}"


@pytest.mark.parametrize("argv", [["lab", "--help"], ["--help"], ["undo", "--help"], ["ping", "--help"]])
def test_no_suppressed_entry_shows(argv, capsys) -> None:
    out = _help(argv, capsys)
    assert "SUPPRESS" not in out and "serve" not in out


def test_the_journal_directory_help_names_the_real_default(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.delenv("REMEDIATE_JOURNAL_DIR", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    out = " ".join(_help(["--help"], capsys).split())
    assert str(default_dir()).replace(str(tmp_path), "~") in out
    assert "$REMEDIATE_JOURNAL_DIR" in out and "$XDG_STATE_HOME/remediate/runs" in out


def test_ping_is_documented_as_reachability(capsys) -> None:
    out = _help(["ping", "--help"], capsys)
    assert "reachable" in out


def test_version(capsys) -> None:
    out = _help(["--version"], capsys)
    assert out.strip() == f"remediate {remediate.__version__}"


def _complete(script: str, *words: str) -> list[str]:
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        script
        + f"\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _remediate; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    )
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_slugs_commands_options_and_values(capsys) -> None:
    assert cli.main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert set(_complete(script, "remediate", "vss-")) == {"vss-writers", "vss-service", "vss-copy-backup"}
    assert "list" in _complete(script, "remediate", "li")
    assert _complete(script, "remediate", "--for") == ["--for", "--forks"]
    assert _complete(script, "remediate", "show", "strong") == ["strong-crypto"]
    assert _complete(script, "remediate", "lab", "br") == ["break"]
    assert _complete(script, "remediate", "azure", "fail") == ["failed-backups"]
    assert "windows-vss-writers-failed" in _complete(script, "remediate", "lab", "break", "win01", "windows-vss")
    assert _complete(script, "remediate", "--os", "") == ["windows", "linux"]
    assert set(_complete(script, "remediate", "lab", "show", "win01", "-o", "")) == {"text", "yaml", "json"}


def test_zsh_completion_is_the_same_function_through_bashcompinit(capsys) -> None:
    assert cli.main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef remediate") and "bashcompinit" in script and "_remediate()" in script
    if shutil.which("zsh"):
        subprocess.run(["zsh", "-n", "-c", script], check=True)


def _slugs() -> list[str]:
    from remediate import remediations

    return sorted(remediations.registry())


@pytest.mark.parametrize("slug", _slugs())
def test_show_renders_for_a_reader(slug, capsys) -> None:
    from remediate import remediations

    cls = remediations.get(slug)
    assert cli.main(["show", slug]) == 0
    out = capsys.readouterr().out
    for raw in ("``", ":func:", ":class:", "seed row", "Example::"):
        assert raw not in out, f"{slug}: {raw!r} in show"
    assert out.startswith(f"{slug} -- ") and f"risk:  {cls.risk.value}: " in out
    answers = out.split("Answers these errors", 1)[1].split("\n\n", 1)[0]
    assert len([line for line in answers.splitlines() if line.startswith("  - ")]) == len(cls.answers)
    for p in cls.params:
        assert re.search(rf"^  {p.name} \([^;]+; (default: |required)", out, re.M), f"{slug}: {p.name}"
    assert "What it does:" in out
    examples = out.split("Examples:\n", 1)[1].splitlines()
    assert examples and all("remediate " in line for line in examples)
    assert any("--dry-run" in line for line in examples)


def test_show_json_gives_parameter_types(capsys) -> None:
    assert cli.main(["show", "vss-writers", "--output", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    (param,) = info["params"]
    assert param["type"] == "true/false" and param["default"] is False


def test_readme_exit_codes_and_statuses_match_the_program() -> None:
    from remediate import playbook

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    codes = {int(line.split("|")[1]) for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()}
    constants = {cli.EXIT_OK, cli.EXIT_ERROR, cli.EXIT_FAILED, cli.EXIT_UNREACHABLE, cli.EXIT_PENDING}
    assert codes == constants | {cli.EXIT_INTERRUPTED, cli.EXIT_PIPE}
    for status in playbook.STATUSES:
        assert f"`{status}`" in readme, status
        assert status in cli.EPILOG, status
    row0 = next(line for line in table.splitlines() if line.startswith("| 0 |"))
    assert all(s in row0 for s in ("ok", "changed", "pending", "skipped"))


def test_a_reader_that_goes_away_is_no_traceback() -> None:
    code = "import sys\nfrom remediate import cli\nsys.exit(cli.main(['diagnose', '--codes', '--output', 'json']))"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte, as after `| head -c 0`
    try:
        proc = subprocess.run([sys.executable, "-c", code], stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert proc.returncode == cli.EXIT_PIPE, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
