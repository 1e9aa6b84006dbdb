"""Every cmdlet call in every packaged .ps1 against Windows PowerShell 5.1's reference, and every native program
call against its documented syntax.

The grammar (tests/test_powershell_grammar.py) proves a script parses; it does not know that a parameter
exists. Here each cmdlet a script calls must be in ``tests/fixtures/ps51_cmdlets.json`` (extracted from
Microsoft's reference pages by ``bench/extract_ps51_cmdlets.py``, which names its source commits), each named
parameter must be one of that cmdlet's parameters, one of their aliases, an unambiguous prefix of one (as
PowerShell binds them) or a common parameter, and the named parameters of one call must share a parameter set.
Calls of our own library functions are checked against the functions' declared parameters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*(ROOT / "remediations").rglob("*.ps1"), ROOT / "remediate" / "bootstrap.ps1"])
LIBRARY = ROOT / "remediations" / "common" / "library.ps1"
REFERENCE = json.loads((ROOT / "tests" / "fixtures" / "ps51_cmdlets.json").read_text(encoding="utf-8"))
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

# about_CommonParameters (5.1), with their aliases.
COMMON = {
    "Verbose": ("vb",),
    "Debug": ("db",),
    "ErrorAction": ("ea",),
    "WarningAction": ("wa",),
    "InformationAction": ("infa",),
    "ErrorVariable": ("ev",),
    "WarningVariable": ("wv",),
    "InformationVariable": ("iv",),
    "OutVariable": ("ov",),
    "OutBuffer": ("ob",),
    "PipelineVariable": ("pv",),
}

# Native programs: the syntax we may use, from their documentation. "commands": the leading words a call must
# start with (one of these sequences); "options": switches (/x, -x) and name= keywords, lower case.
DOCS = "https://learn.microsoft.com/windows-server/administration/windows-commands/"
NATIVE = {
    "sc": {
        "doc": DOCS + "sc-config (and sc-query, sc-qc, sc-start, sc-stop, sc-delete)",
        "commands": [["config"], ["query"], ["queryex"], ["qc"], ["start"], ["stop"], ["delete"], ["qfailure"]],
        "options": ["type=", "start=", "error=", "binpath=", "group=", "tag=", "depend=", "obj=", "displayname=",
                    "password="],
    },
    "icacls": {
        "doc": DOCS + "icacls",
        "commands": [],
        "options": ["/save", "/restore", "/setowner", "/findsid", "/verify", "/reset", "/grant", "/grant:r", "/deny",
                    "/remove", "/remove:g", "/remove:d", "/setintegritylevel", "/inheritance:e", "/inheritance:d",
                    "/inheritance:r", "/t", "/c", "/l", "/q", "/substitute"],
    },
    "vssadmin": {
        "doc": DOCS + "vssadmin (vssadmin-list-writers)",
        "commands": [["list", "writers"], ["list", "shadows"], ["list", "providers"], ["list", "volumes"],
                     ["list", "shadowstorage"]],
        "options": [],
    },
    "msdtc": {
        "doc": "https://learn.microsoft.com/azure/backup/backup-azure-vms-troubleshoot (msdtc -uninstall, "
               "msdtc -install)",
        "commands": [],
        "options": ["-install", "-uninstall", "-resetlog"],
    },
    "msiexec": {
        "doc": DOCS + "msiexec",
        "commands": [],
        "options": ["/i", "/a", "/j", "/x", "/f", "/p", "/update", "/uninstall", "/package", "/quiet", "/passive",
                    "/qn", "/qb", "/norestart", "/forcerestart", "/promptrestart", "/l*v", "/log", "/unregister",
                    "/regserver"],
    },
    "manage-bde": {
        "doc": DOCS + "manage-bde",
        "commands": [],
        "options": ["-status", "-on", "-off", "-pause", "-resume", "-lock", "-unlock", "-autounlock", "-protectors",
                    "-tpm", "-forcerecovery", "-changepassword", "-changepin", "-changekey", "-keypackage",
                    "-upgrade", "-wipefreespace", "-computername", "-cn", "-recoverypassword", "-rp"],
    },
    "route": {
        "doc": DOCS + "route_ws2008",
        "commands": [["print"], ["add"], ["delete"], ["change"]],
        "options": ["-f", "-p", "-4", "-6"],
    },
    "netsh": {
        "doc": "https://learn.microsoft.com/windows/win32/winhttp/netsh-exe-commands",
        "commands": [["winhttp", "show", "proxy"], ["winhttp", "set", "proxy"], ["winhttp", "reset", "proxy"],
                     ["winhttp", "import", "proxy"]],
        "options": ["proxy-server=", "bypass-list=", "source="],
    },
}  # fmt: skip


def _walk(node: tree_sitter.Node, kind: str) -> list[tree_sitter.Node]:
    found, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.type == kind:
            found.append(n)
        stack.extend(reversed(n.children))
    return sorted(found, key=lambda n: n.start_byte)


def _functions(text: str) -> dict[str, list[str]]:
    """Our functions and their parameters: ``function Name([type]$a, $b)`` or a ``param(...)`` block."""
    out = {}
    for m in re.finditer(r"^\s*function\s+([\w-]+)\s*(\((?P<inline>.*)\))?\s*\{", text, re.M | re.I):
        params = re.findall(r"\$(\w+)", m.group("inline") or "")
        if not m.group("inline"):
            block = re.match(r"\s*param\s*\(([^)]*)\)", text[m.end() :], re.I)
            params = re.findall(r"\$(\w+)", block.group(1)) if block else []
        out[m.group(1)] = params
    return out


@dataclass
class Problem:
    script: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.script}:{self.line}: {self.text}"


def resolve_parameter(cmdlet: str, given: str) -> tuple[str | None, str | None]:
    """PowerShell's binding of ``-given``: (parameter, None) or (None, why not)."""
    ref = REFERENCE["cmdlets"][cmdlet]
    names = sorted({p for params in ref["sets"].values() for p in params} | set(COMMON))
    aliases = {a.lower(): p for a, p in ref["aliases"].items()}
    aliases.update({a: p for p, short in COMMON.items() for a in short})
    low = given.lower()
    exact = [n for n in names if n.lower() == low]
    if exact:
        return exact[0], None
    if low in aliases:
        return aliases[low], None
    prefixed = [n for n in names if n.lower().startswith(low)]
    if len(prefixed) == 1:
        return prefixed[0], None
    if prefixed:
        return None, f"-{given} is ambiguous for {cmdlet}: {', '.join(prefixed)}"
    return None, f"{cmdlet} has no parameter -{given}"


def check_cmdlet_call(cmdlet: str, given: list[str]) -> list[str]:
    problems, bound = [], []
    for name in given:
        param, why = resolve_parameter(cmdlet, name)
        if why:
            problems.append(why)
        elif param not in COMMON:
            bound.append(param)
    sets = REFERENCE["cmdlets"][cmdlet]["sets"]
    if bound and not problems and not any(set(bound) <= set(params) for params in sets.values()):
        problems.append(f"{cmdlet}: no parameter set has all of -{', -'.join(bound)}")
    return problems


def _literal(node: tree_sitter.Node) -> str | None:
    """A string or bare word as PowerShell passes it to a native program (expandable strings up to a $)."""
    text = node.text.decode()
    if node.type == "generic_token":
        return text
    if node.type == "string_literal":
        if text.startswith("'"):
            return text[1:-1]
        return text[1:-1].split("$", 1)[0]
    return None


def _native_name(text: str) -> str | None:
    name = text.strip("'\"").rsplit("\\", 1)[-1].lower().removesuffix(".exe")
    return name if name in NATIVE else None


def _program_of(node: tree_sitter.Node, source: str) -> str | None:
    """The native program an argument names: a literal, or a variable assigned a path to one in the script."""
    text = node.text.decode().strip()
    if text.startswith("$"):
        for m in re.finditer(rf"^\s*{re.escape(text)}\s*=\s*(.+)$", source, re.M | re.I):
            exe = re.search(r"([\w-]+)\.exe", m.group(1), re.I)
            if exe and _native_name(exe.group(1)):
                return _native_name(exe.group(1))
        return None
    return _native_name(text)


def _assigned_literals(variable: str, source: str) -> list[str]:
    """What a variable holds when the script sets it from literals: ``foreach ($v in @('a', 'b'))``."""
    m = re.search(rf"foreach\s*\(\s*{re.escape(variable)}\s+in\s+@\(([^)]*)\)\s*\)", source, re.I)
    return re.findall(r"'([^']*)'", m.group(1)) if m else []


def _tokens(nodes: list[tree_sitter.Node], source: str = "") -> list[str]:
    """The literal words among a native call's arguments, in order (a variable only when set from literals)."""
    out = []
    for n in nodes:
        if n.type == "array_literal_expression" and re.fullmatch(r"\$\w+", n.text.decode()):
            out += _assigned_literals(n.text.decode(), source)
            continue
        leaves = [n] if n.type in ("string_literal", "generic_token") else []
        leaves += [x for x in _walk(n, "string_literal") + _walk(n, "generic_token") if x is not n]
        for leaf in sorted(leaves, key=lambda x: x.start_byte):
            value = _literal(leaf)
            if value:
                out.append(value)
    return out


def check_native_call(program: str, tokens: list[str]) -> list[str]:
    spec = NATIVE[program]
    problems = []
    options = set(spec["options"])
    words = []
    for token in tokens:
        low = token.lower()
        keyword = re.match(r"^([a-z][\w-]*=)", low)
        if low.startswith(("/", "-")) and len(low) > 1:
            if low not in options and low.split(":", 1)[0] not in options:
                problems.append(f"{program}: unknown option {token} (see {spec['doc']})")
        elif keyword and "\\" not in low:
            if keyword.group(1) not in options:
                problems.append(f"{program}: unknown keyword {keyword.group(1)} (see {spec['doc']})")
        elif not problems and len(words) < 3 and re.fullmatch(r"[a-z]+", low):
            words.append(low)
    if spec["commands"] and not any(words[: len(c)] == c for c in spec["commands"]):
        problems.append(f"{program}: {' '.join(words) or '(nothing)'} is not one of its commands (see {spec['doc']})")
    return problems


def _arguments(command: tree_sitter.Node) -> list[tree_sitter.Node]:
    elements = next((c for c in command.children if c.type == "command_elements"), None)
    if elements is None:
        return []
    return [c for c in elements.children if c.type not in ("command_argument_sep", "command_parameter")]


def check_source(name: str, source: str, functions: dict[str, list[str]]) -> list[Problem]:
    tree = PARSER.parse(source.encode("utf-8"))
    problems: list[Problem] = []
    for command in _walk(tree.root_node, "command"):
        line = command.start_point[0] + 1
        head = next((c for c in command.children if c.type in ("command_name", "command_name_expr")), None)
        if head is None:
            continue
        cmd = head.text.decode()
        elements = next((c for c in command.children if c.type == "command_elements"), None)
        items = [c for c in (elements.children if elements else []) if c.type != "command_argument_sep"]
        own = [c.text.decode()[1:].rstrip(":") for c in items if c.type == "command_parameter"]
        args = _arguments(command)
        native = _native_name(cmd) if head.type == "command_name" else _program_of(head, source)
        if native:  # & vssadmin.exe list writers / & $icacls ...
            problems += [Problem(name, line, p) for p in check_native_call(native, _tokens(args))]
            continue
        if head.type != "command_name":
            continue
        if cmd in functions:
            for given in own:
                match = [p for p in functions[cmd] if p.lower().startswith(given.lower())]
                exact = [p for p in functions[cmd] if p.lower() == given.lower()]
                if not exact and len(match) != 1:
                    problems.append(Problem(name, line, f"{cmd} has no parameter -{given} (or it is ambiguous)"))
            if cmd == "Invoke-Native" and args:
                program = _program_of(args[0], source)
                if program is None:
                    problems.append(Problem(name, line, "Invoke-Native of a program the native table does not know"))
                else:
                    problems += [Problem(name, line, p) for p in check_native_call(program, _tokens(args[1:2], source))]
            continue
        if cmd not in REFERENCE["cmdlets"]:
            problems.append(Problem(name, line, f"{cmd} is not a Windows PowerShell 5.1 cmdlet we know"))
            continue
        problems += [Problem(name, line, p) for p in check_cmdlet_call(cmd, own)]
        if cmd == "Start-Process":
            file_path = arg_list = None
            for i, item in enumerate(items[:-1]):
                if item.type == "command_parameter":
                    bound, _ = resolve_parameter("Start-Process", item.text.decode()[1:].rstrip(":"))
                    if bound == "FilePath":
                        file_path = items[i + 1]
                    elif bound == "ArgumentList":
                        arg_list = items[i + 1]
            program = _program_of(file_path, source) if file_path is not None else None
            if program and arg_list is not None:
                problems += [Problem(name, line, p) for p in check_native_call(program, _tokens([arg_list], source))]
    return problems


LIBRARY_FUNCTIONS = _functions(LIBRARY.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cmdlet_and_native_call_matches_the_reference(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    functions = {**LIBRARY_FUNCTIONS, **_functions(source)}
    problems = check_source(path.name, source, functions)
    assert not problems, "\n".join(map(str, problems))


def test_the_native_calls_of_the_scripts_are_found_and_checked(monkeypatch) -> None:
    seen: dict[str, list[str]] = {}
    real = check_native_call

    def record(program: str, tokens: list[str]) -> list[str]:
        seen.setdefault(program, []).extend(tokens)
        return real(program, tokens)

    monkeypatch.setitem(globals(), "check_native_call", record)
    for path in SCRIPTS:
        source = path.read_text(encoding="utf-8")
        check_source(path.name, source, {**LIBRARY_FUNCTIONS, **_functions(source)})
    assert {"sc", "icacls", "netsh", "vssadmin", "msiexec", "msdtc"} <= set(seen)
    assert {"/restore", "/setowner", "start=", "proxy-server=", "/regserver", "writers"} <= set(seen["sc"]) | set(
        seen["icacls"]
    ) | set(seen["netsh"]) | set(seen["msiexec"]) | set(seen["vssadmin"])


def test_the_reference_names_its_sources() -> None:
    sources = {s["repository"]: s for s in REFERENCE["sources"]}
    assert set(sources) == {"MicrosoftDocs/PowerShell-Docs", "MicrosoftDocs/windows-powershell-docs"}
    assert all(re.fullmatch(r"[0-9a-f]{40}", s["commit"]) for s in sources.values())
    assert sources["MicrosoftDocs/PowerShell-Docs"]["path"] == "reference/5.1"


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ("Remove-Item -LiteralPth $item -DeleteKey", "Remove-Item has no parameter -LiteralPth"),
        ("Get-ChildItem -LiteralPath $root -Directry", "Get-ChildItem has no parameter -Directry"),
        ("Get-ChildItem -F 'x'", "-F is ambiguous for Get-ChildItem"),
        ("Remove-Item -Path $a -LiteralPath $b", "no parameter set has all of -Path, -LiteralPath"),
        ("Get-CimInstance -ClassName Win32_Service -OperationTimeout 20", None),  # a prefix PowerShell accepts
        ("Get-CimInstance -ClassName Win32_Service -OT 20 -ea Stop", None),  # an alias, a common parameter's alias
        ("Get-Servce -Name x", "Get-Servce is not a Windows PowerShell 5.1 cmdlet"),
        ("Set-Service -Name x -Credential $c", "Set-Service has no parameter -Credential"),  # PowerShell 6+ only
        ("Invoke-Native -FilePth $x", "Invoke-Native has no parameter -FilePth"),
        ("$sc = 'C:\\Windows\\System32\\sc.exe'\nInvoke-Native $sc @('config', $n, 'strat=', 'demand')", "strat="),
        ("$n = 'C:\\Windows\\System32\\netsh.exe'\nInvoke-Native $n @('winhttp', 'set', 'proxies')", "commands"),
        ("$i = 'C:\\Windows\\System32\\icacls.exe'\nInvoke-Native $i @($p, '/restor', $f)", "/restor"),
        ("& vssadmin.exe list writer", "is not one of its commands"),
        ("$m = 'C:\\Windows\\System32\\msiexec.exe'\nStart-Process -FilePath $m -ArgumentList @('/quite')", "/quite"),
    ],
)
def test_the_check_finds_a_misspelt_parameter(script: str, why: str | None) -> None:
    problems = check_source("sample.ps1", script, LIBRARY_FUNCTIONS)
    if why is None:
        assert problems == []
    else:
        assert any(why in p.text for p in problems), problems
