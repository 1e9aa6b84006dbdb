"""The lab's ``powershell.exe``: recognises our bootstrap and scripts by identity, runs the model's handler.

It never interprets PowerShell text. A command is accepted only when it is exactly the bootstrap command
line that :mod:`remediate.scripts` builds; the stdin envelope names a packaged script whose text and
SHA-256 must match the package's. Anything else fails the way Windows would (a CLIXML error record on
stderr, in the host's console code page).
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from remediate.lab.state import HostState, OpLog
from remediate.lab.windows import traps
from remediate.lab.windows.model import Call, ScriptFailure, load_handlers

from remediate import scripts

# Windows' limit on a command line (cmd.exe / CreateProcess through WinRS).
MAX_COMMAND_LINE = 8191


@dataclass
class Execution:
    stdout: bytes
    stderr: bytes
    exit_code: int


def codepage_of(state: dict[str, Any], console: int | None = None) -> str:
    """The Python codec of the console: the shell's WINRS_CODEPAGE when it asked for one, else the OEM one."""
    cp = int(console or state.get("machine", {}).get("codepage", 437))
    return {65001: "utf-8"}.get(cp, f"cp{cp}")


def reads_stdin_to_end(command: str, arguments: list[str]) -> bool:
    """Whether a command line reads its stdin to the end before it does anything (our bootstrap does)."""
    exe, args = scripts.powershell_command()
    return command.lower() in (exe, "powershell") and arguments == args


# What Windows PowerShell says when a restricted language mode meets a method call on a non-core type.
CLM_METHOD_ERROR = "Cannot invoke method. Method invocation is supported only on core types in this language mode."
_TYPE_CALL = re.compile(r"\[(?:System\.)?(?:Console|Convert|ScriptBlock|Text\.Encoding|regex|IO\.\w+)\]::", re.I)
_MODE_CHECK = "$ExecutionContext.SessionState.LanguageMode"


def checks_language_mode_first(bootstrap: str) -> bool:
    """Whether a bootstrap reads the language mode before its first call on a .NET type (comments aside)."""
    code = "\n".join(line for line in bootstrap.splitlines() if not line.lstrip().startswith("#"))
    check = code.find(_MODE_CHECK)
    call = _TYPE_CALL.search(code)
    return check >= 0 and (call is None or check < call.start())


def _restricted(mode: str, bootstrap: str, codec: str) -> Execution:
    """The bootstrap where AppLocker or WDAC enforce script rules: PowerShell runs in a restricted language."""
    if checks_language_mode_first(bootstrap):
        return Execution(f"{scripts.LANGUAGE_MODE_MARKER}{mode}\r\n".encode("ascii"), b"", 3)
    return Execution(b"", clixml_error(CLM_METHOD_ERROR).encode(codec, "replace"), 1)


def _clixml(stream: str, message: str, line_end: str = "") -> str:
    """PowerShell's serialized output stream, as it reaches a WinRS client on stderr."""
    text = escape(message).replace("\r", "_x000D_").replace("\n", "_x000A_")
    return (
        "#< CLIXML\r\n"
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        f'<S S="{stream}">{text}{line_end}</S></Objs>'
    )


def clixml_error(message: str) -> str:
    """An error record (PowerShell ends each error line with CR LF)."""
    return _clixml("Error", message, "_x000D__x000A_")


def clixml_warning(message: str) -> str:
    return _clixml("warning", message)


def not_recognized(name: str, language: str) -> str:
    if language == "ja-JP":
        return (
            f"用語 '{name}' は、コマンドレット、関数、スクリプト ファイル、または操作可能なプログラムの名前として"
            "認識されません。"
        )
    if language == "de-DE":
        return f"Die Benennung '{name}' wurde nicht als Name eines Cmdlet, einer Funktion, einer Skriptdatei erkannt."
    if language == "fr-FR":
        return f"Le terme '{name}' n'est pas reconnu comme nom d'applet de commande, fonction, fichier de script."
    return f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program."


def execute(
    state: HostState,
    oplog: OpLog,
    command: str,
    arguments: list[str],
    stdin: bytes,
    *,
    console_codepage: int | None = None,
) -> Execution:
    """Run one WinRS command on the lab host. ``command`` and ``arguments`` as the client sent them;
    ``console_codepage`` is the shell's WINRS_CODEPAGE (None: the host's OEM code page)."""
    snapshot = state.read()
    console = int(console_codepage or snapshot.get("machine", {}).get("codepage", 437))
    codepage = codepage_of(snapshot, console)
    language = snapshot.get("machine", {}).get("language", "en-US")
    line = " ".join([command, *arguments])
    if len(line) > MAX_COMMAND_LINE:
        message = "The command line is too long."
        if language == "ja-JP":
            message = "コマンド ラインが長すぎます。"
        oplog.record(state.name, "command-line-too-long", False, length=len(line))
        return Execution(b"", (message + "\r\n").encode(codepage, errors="replace"), 1)

    exe, args = scripts.powershell_command()
    if command.lower() not in (exe, "powershell") or arguments != args:
        oplog.record(state.name, "unknown-command", False, command=command[:200])
        return Execution(b"", clixml_error(not_recognized(command, language)).encode(codepage, "replace"), 1)

    mode = str(snapshot.get("machine", {}).get("language_mode") or "FullLanguage")
    if mode != "FullLanguage":
        oplog.record(state.name, "language-mode", False, mode=mode)
        bootstrap = base64.b64decode(arguments[-1]).decode("utf-16-le")
        return _restricted(mode, bootstrap, codepage)

    try:
        library, operations = scripts.decode_powershell_batch(stdin)
        for envelope, _args, _body in operations:
            scripts.script_text(envelope["script"])
    except Exception as exc:  # a garbled envelope or an unknown script: fails like a parse error
        oplog.record(state.name, "bad-envelope", False, error=str(exc)[:200])
        return Execution(b"", clixml_error(f"ParserError: {exc}").encode(codepage, "replace"), 1)
    library_ok = library == scripts.script_text(scripts.PS_LIBRARY)
    for envelope, _args, body in operations:
        script = envelope["script"]
        ok = library_ok and envelope.get("library_sha256") == scripts.script_digest(scripts.PS_LIBRARY)
        if not ok or body != scripts.script_text(script) or envelope.get("sha256") != scripts.script_digest(script):
            oplog.record(state.name, "script-mismatch", False, script=script)
            message = f"the script {script} or the library differs from the packaged one"
            return Execution(b"", clixml_error(message).encode(codepage, "replace"), 1)

    specs = load_handlers()
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    all_ok = True
    for envelope, args_value, body in operations:  # one after the other in one process, as the bootstrap does
        script = envelope["script"]
        spec = specs.get(script)
        if spec is None:
            oplog.record(state.name, script, False, error="no lab handler")
            message = f"the lab has no model of {script}"
            return Execution(b"".join(stdout), clixml_error(message).encode(codepage, "replace"), 1)
        ok, line, warnings = _run_one(state, oplog, script, spec, args_value, body, library, console)
        all_ok = all_ok and ok
        stdout.append(line)
        stderr.extend(clixml_warning(w).encode(codepage, "replace") + b"\r\n" for w in warnings)
    return Execution(b"".join(stdout), b"".join(stderr), 0 if all_ok else 1)


def _run_one(
    state: HostState,
    oplog: OpLog,
    script: str,
    spec: Any,
    args_value: Any,
    body: str,
    library: str,
    console: int,
) -> tuple[bool, bytes, list[str]]:
    """One script of the command: its handler run on the model (``console``: the shell's code page);
    ``(ok, its result line, its warnings)``."""
    snapshot = state.read()
    faults = snapshot.get("faults") or {}
    if traps.wmi_broken(snapshot) and traps.unguarded_cim(body):  # a CIM call without a deadline on a stuck WMI
        oplog.record(state.name, script, spec.mutating, args=args_value, ok=False, error="wmi")
        message = "Call cancelled" if faults.get("wmi") != "hang" else "The operation has timed out"
        error = {"message": message, "type": "Microsoft.Management.Infrastructure.CimException", "line": 0}
        return False, (scripts.encode_result(False, None, error) + "\r\n").encode("ascii"), []

    hang = faults.get("hang_script")
    if hang and hang == script:
        time.sleep(float(faults.get("hang_seconds", 3600)))

    call_args = args_value if isinstance(args_value, dict) else {}
    ok, data, error = True, None, None
    warnings: list[str] = []

    def new_call(current: dict[str, Any]) -> Call:
        machine = current.setdefault("machine", {})
        return Call(machine, call_args, current, script=body, library=library, console_codepage=console)

    try:
        if spec.mutating:
            failure: ScriptFailure | None = None
            with state.edit() as current:
                call = new_call(current)
                try:
                    data = spec.func(call)
                except ScriptFailure as exc:  # what a script did before its throw stays done, as on Windows
                    failure = exc
                warnings = call.warnings
            if failure is not None:
                raise failure
        else:
            current = state.read()
            call = new_call(current)
            data = spec.func(call)
            warnings = call.warnings
    except ScriptFailure as exc:
        ok, error = False, {"message": str(exc), "type": exc.error_type, "line": 0}
    oplog.record(state.name, script, spec.mutating, args=call_args, ok=ok)
    return ok, (scripts.encode_result(ok, data, error) + "\r\n").encode("ascii"), warnings
