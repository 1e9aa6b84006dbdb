"""Remote scripts and the envelopes that carry their arguments as data.

Every remote operation runs a script file shipped in the ``remediations`` package; nothing is ever pasted
into script text. The wire formats are defined here once, for the connections (which encode them) and for
the lab (which decodes them):

PowerShell
    Command line: ``powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand B``
    where ``B`` is the fixed ``bootstrap.ps1`` (about 3 KB, far below Windows' 8191-character limit).
    Stdin (ASCII only): one line of JSON ``{"v": 2, "library_sha256": DIGEST, "ops": [{"script": ID,
    "sha256": DIGEST, "args": BASE64(JSON)}, ...]}``, the line ``#REMEDIATE-LIBRARY``, ``common/library.ps1``
    (shared functions, as ``prelude.sh`` is for sh), then for each operation the line ``#REMEDIATE-SCRIPT``
    and its script text. The bootstrap dot-sources the library, runs each script in order with its decoded
    arguments and writes, for each, ``#REMEDIATE-RESULT:`` + base64(UTF-8 JSON ``{"ok", "data", "error"}``).
    Several read-only operations (a batch, :func:`remediate.operation.batch`) thus cost one command.
    In a restricted language mode (ConstrainedLanguage where AppLocker or WDAC enforce script rules) it runs
    nothing and writes ``#REMEDIATE-LANGUAGE-MODE:`` + the mode's name.

sh
    Command line: ``/bin/sh -s -- A1 A2 ...`` (or under ``sudo -n``) where each ``A`` is the base64 of one
    argument value, in the operation's order. Stdin: ``common/prelude.sh`` then the script text. Structured
    output lines are ``#REMEDIATE-KV:KEY:BASE64(VALUE)``; ``data`` is ``{KEY: [VALUE, ...]}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from functools import cache
from pathlib import Path
from typing import Any

from remediate.operation import Operation

PS_SCRIPT_SEPARATOR = "#REMEDIATE-SCRIPT"
PS_LIBRARY_SEPARATOR = "#REMEDIATE-LIBRARY"
PS_LIBRARY = "common/library.ps1"
RESULT_MARKER = "#REMEDIATE-RESULT:"
# Written instead of a result when PowerShell runs in a restricted language mode (AppLocker, WDAC).
LANGUAGE_MODE_MARKER = "#REMEDIATE-LANGUAGE-MODE:"
KV_MARKER = "#REMEDIATE-KV:"
POWERSHELL_EXE = "powershell.exe"
POWERSHELL_FLAGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")
SH_PRELUDE = "common/prelude.sh"


@cache
def scripts_root() -> Path:
    from remediate import remediations

    return Path(remediations.__file__).resolve().parent


@cache
def script_text(script: str) -> str:
    """The text of a packaged script, by its path under ``remediations/``. Refuses paths outside it."""
    root = scripts_root()
    path = (root / script).resolve()
    if root not in path.parents or not path.is_file():
        raise FileNotFoundError(f"no packaged script {script!r}")
    text = path.read_text(encoding="utf-8")
    if not text.isascii():
        raise ValueError(f"script {script} must be ASCII so that no console code page can change it")
    return text


def script_digest(script: str) -> str:
    return hashlib.sha256(script_text(script).encode("ascii")).hexdigest()


@cache
def bootstrap_text() -> str:
    return (Path(__file__).parent / "bootstrap.ps1").read_text(encoding="ascii")


@cache
def powershell_encoded_bootstrap() -> str:
    """The bootstrap as ``-EncodedCommand`` takes it, without its comment lines (the command line is limited)."""
    code = "\n".join(line for line in bootstrap_text().splitlines() if not line.lstrip().startswith("#"))
    return base64.b64encode(code.encode("utf-16-le")).decode("ascii")


def powershell_command() -> tuple[str, list[str]]:
    """The executable and arguments that start the bootstrap (the same for every operation)."""
    return POWERSHELL_EXE, [*POWERSHELL_FLAGS, powershell_encoded_bootstrap()]


def powershell_command_line() -> str:
    exe, args = powershell_command()
    return " ".join([exe, *args])


def encode_args(args: Any) -> str:
    return base64.b64encode(json.dumps(args, ensure_ascii=True, sort_keys=True).encode("utf-8")).decode("ascii")


def powershell_stdin(op: Operation) -> bytes:
    """The stdin payload of a PowerShell operation or batch: envelope line, library, script texts. Pure ASCII."""
    envelope = {
        "v": 2,
        "library_sha256": script_digest(PS_LIBRARY),
        "ops": [
            {"script": part.script, "sha256": script_digest(part.script), "args": encode_args(dict(part.args))}
            for part in op.parts
        ],
    }
    parts = [json.dumps(envelope, sort_keys=True), PS_LIBRARY_SEPARATOR, script_text(PS_LIBRARY)]
    for part in op.parts:
        parts += [PS_SCRIPT_SEPARATOR, script_text(part.script)]
    return "\n".join(parts).encode("ascii")


def _split_lines(text: str, marker: str) -> list[str]:
    newline = "\r\n" if "\r\n" + marker + "\r\n" in text else "\n"
    return text.split(newline + marker + newline)


def decode_powershell_batch(payload: bytes) -> tuple[str, list[tuple[dict[str, Any], Any, str]]]:
    """Inverse of :func:`powershell_stdin` (used by the lab): ``(library_text, [(envelope, args, script_text)])``
    where each envelope is the operation's own (script, sha256, args) with the batch's ``v`` and
    ``library_sha256``."""
    text = payload.decode("utf-8")
    head_and_library, *bodies = _split_lines(text, PS_SCRIPT_SEPARATOR)
    pieces = _split_lines(head_and_library, PS_LIBRARY_SEPARATOR)
    if len(pieces) != 2:
        raise ValueError(f"stdin has no {PS_LIBRARY_SEPARATOR} line")
    head, library = pieces
    batch_envelope = json.loads(head)
    ops = batch_envelope["ops"]
    if not isinstance(ops, list) or not ops or len(ops) != len(bodies):
        raise ValueError(
            f"the envelope names {len(ops) if isinstance(ops, list) else 0} script(s), stdin has {len(bodies)}"
        )
    out = []
    for entry, body in zip(ops, bodies, strict=True):
        envelope = {**entry, "v": batch_envelope.get("v"), "library_sha256": batch_envelope.get("library_sha256")}
        out.append((envelope, json.loads(base64.b64decode(entry["args"]).decode("utf-8")), body))
    return library, out


def decode_powershell_stdin(payload: bytes) -> tuple[dict[str, Any], Any, str, str]:
    """The first (or only) operation of a payload: ``(envelope, args, script_text, library_text)``."""
    library, ops = decode_powershell_batch(payload)
    envelope, args, body = ops[0]
    return envelope, args, body, library


def encode_result(ok: bool, data: Any = None, error: dict[str, Any] | None = None) -> str:
    """The result line the bootstrap writes (the lab renders it the same way)."""
    payload = json.dumps({"ok": ok, "data": data, "error": error}, ensure_ascii=False)
    return RESULT_MARKER + base64.b64encode(payload.encode("utf-8")).decode("ascii")


def language_mode(stdout: str) -> str | None:
    """The restricted language mode the bootstrap reported instead of running, or None."""
    for line in stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith(LANGUAGE_MODE_MARKER):
            return stripped[len(LANGUAGE_MODE_MARKER) :].strip() or "unknown"
    return None


def split_result(stdout: str) -> tuple[dict[str, Any] | None, str]:
    """Find the bootstrap's result line: ``(result or None, the other output)``."""
    results, rest = split_results(stdout)
    return (results[-1] if results else None), rest


def split_results(stdout: str) -> tuple[list[dict[str, Any]], str]:
    """The bootstrap's result lines, one per operation in order, and the other output."""
    results = []
    rest = []
    for line in stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith(RESULT_MARKER):
            results.append(json.loads(base64.b64decode(stripped[len(RESULT_MARKER) :]).decode("utf-8")))
        else:
            rest.append(line)
    return results, "\n".join(rest)


def sh_argv(op: Operation, sudo: bool = False) -> str:
    """The command line of an sh operation: only base64 tokens follow the fixed words."""
    tokens = [shlex.quote(base64.b64encode(_sh_value(v).encode("utf-8")).decode("ascii")) for v in op.args.values()]
    words = (["sudo", "-n"] if sudo else []) + ["/bin/sh", "-s", "--", *tokens]
    return " ".join(words)


def _sh_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return "\n".join(_sh_value(v) for v in value)
    if value is None:
        return ""
    return str(value)


def sh_stdin(op: Operation) -> bytes:
    return (script_text(SH_PRELUDE) + "\n" + script_text(op.script)).encode("ascii")


def split_kv(stdout: str) -> tuple[dict[str, list[str]], str]:
    """Collect ``#REMEDIATE-KV`` lines: ``({key: [values]}, the other output)``."""
    data: dict[str, list[str]] = {}
    rest = []
    for line in stdout.splitlines():
        if line.startswith(KV_MARKER):
            key, _, value = line[len(KV_MARKER) :].partition(":")
            data.setdefault(key, []).append(base64.b64decode(value).decode("utf-8", errors="replace"))
        else:
            rest.append(line)
    return data, "\n".join(rest)
