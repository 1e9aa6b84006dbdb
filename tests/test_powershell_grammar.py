"""Every packaged .ps1 parses under the PowerShell grammar, and stays within Windows PowerShell 5.1 and ASCII."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = sorted((ROOT / "runbooks").glob("*.ps1"))
SCRIPTS = sorted([*(ROOT / "remediations").rglob("*.ps1"), ROOT / "remediate" / "bootstrap.ps1", *RUNBOOKS])
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

# Syntax of PowerShell 7 that Windows PowerShell 5.1 (Server 2012 R2 .. 2025) rejects.
PS7_ONLY = [
    (re.compile(r"\?\?=?"), "null-coalescing ?? / ??="),
    (re.compile(r"\?\.|\?\["), "null-conditional ?. / ?["),
    (re.compile(r"(?<![|&])(&&|\|\|)(?![|&])"), "pipeline chain && / ||"),
    (re.compile(r"-Parallel\b", re.I), "ForEach-Object -Parallel"),
    (re.compile(r"\bclean\s*\{", re.I), "clean block"),
]


def _errors(node: tree_sitter.Node) -> list[tuple[int, int]]:
    found = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" or n.is_missing:
            found.append((n.start_point[0] + 1, n.start_point[1] + 1))
        stack.extend(n.children)
    return sorted(found)


def test_there_are_scripts() -> None:
    assert len(SCRIPTS) >= 2


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_parses(path: Path) -> None:
    source = path.read_bytes()
    tree = PARSER.parse(source)
    assert not tree.root_node.has_error, f"{path.name}: parse errors at (line, column) {_errors(tree.root_node)}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_is_ascii_and_windows_powershell(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.isascii(), f"{path.name} has non-ASCII characters"
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    code = re.sub(r"'[^']*'", "''", code)
    for pattern, what in PS7_ONLY:
        assert not pattern.search(code), f"{path.name} uses PowerShell 7-only syntax: {what}"


def test_grammar_check_catches_broken_powershell() -> None:
    assert PARSER.parse(b"if ($x -eq 1 { Write-Output 1").root_node.has_error
    assert not PARSER.parse(b"if ($x -eq 1) { Write-Output 1 }").root_node.has_error


# Windows PowerShell 5.1 cmdlets (and their Windows Server modules) that the scripts may call: the reference
# extracted from Microsoft's documentation (tests/test_powershell_reference.py checks their parameters too).
WINDOWS_CMDLETS = set(
    json.loads((ROOT / "tests" / "fixtures" / "ps51_cmdlets.json").read_text(encoding="utf-8"))["cmdlets"]
)
LIBRARY = ROOT / "remediations" / "common" / "library.ps1"
# What a PowerShell runbook may call in Azure Automation: the Az.Accounts module and the sandbox's own cmdlets.
AUTOMATION_CMDLETS = {"Connect-AzAccount", "Get-AzContext", "Invoke-AzRestMethod", "Get-AutomationVariable",
                      "Write-Output"}  # fmt: skip


def _nodes(path: Path, kind: str) -> list[str]:
    tree = PARSER.parse(path.read_bytes())
    found, stack = [], [tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == kind:
            found.append(n.text.decode())
        stack.extend(n.children)
    return found


def _defined(path: Path) -> set[str]:
    return set(_nodes(path, "function_name"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_a_script_calls_exists(path: Path) -> None:
    """A misspelt or missing function (say, one moved into the library) is caught here, without Windows."""
    known = WINDOWS_CMDLETS | _defined(path) | _defined(LIBRARY) | (AUTOMATION_CMDLETS if path in RUNBOOKS else set())
    unknown = {c for c in _nodes(path, "command_name") if c not in known and not c.lower().endswith(".exe")}
    assert not unknown, f"{path.name} calls commands defined nowhere: {sorted(unknown)}"


def test_the_library_only_defines_functions() -> None:
    tree = PARSER.parse(LIBRARY.read_bytes())
    stack, statements = [tree.root_node], []
    while stack:
        n = stack.pop()
        if n.type == "function_statement":
            continue
        if n.type in ("pipeline", "assignment_expression", "if_statement", "foreach_statement", "try_statement"):
            statements.append(n.text.decode()[:60])
            continue
        stack.extend(n.children)
    assert _defined(LIBRARY) >= {"Resolve-RegistryPath", "Read-RegistryValue", "Get-ExitReason"}
    assert statements == [], f"library.ps1 runs code when it is loaded: {statements}"
