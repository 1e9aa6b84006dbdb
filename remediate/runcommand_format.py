"""How an operation travels through Azure Run Command (the action API), for the transport and for the lab.

Run Command has no stdin, no exit code and keeps only the last 4,096 bytes of each output stream. So:

PowerShell (``RunPowerShellScript``)
    ``script`` is the packaged bootstrap, preceded by ``param([string]$RemediateEnvelope)``, whose stdin read is
    replaced by the envelope (base64, the one parameter) joined with the library and the script, which are
    carried as single-quoted here-strings: packaged code only, never a value. The result line
    (``#REMEDIATE-RESULT:``) is the same as over WinRM.
sh (``RunShellScript``)
    ``script`` is ``common/prelude.sh`` and the script in a subshell whose output and a last line
    ``#REMEDIATE-EXIT:<status>`` come back gzip-compressed and base64-encoded after a line ``#REMEDIATE-GZ``;
    the parameters are the same base64 tokens as over SSH, as positional parameters.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from remediate import scripts
from remediate.operation import Operation

OUTPUT_LIMIT = 4096
GZ_RESULT_MARKER = "#REMEDIATE-RESULT-GZ:"
_RESULT_LINE = "[Console]::Out.WriteLine('#REMEDIATE-RESULT:' + [Convert]::ToBase64String($remediateBytes))"
_GZ_RESULT_LINES = (
    "$remediateStream = New-Object System.IO.MemoryStream\n"
    "$remediateGzip = New-Object System.IO.Compression.GZipStream($remediateStream, "
    "[System.IO.Compression.CompressionMode]::Compress)\n"
    "$remediateGzip.Write($remediateBytes, 0, $remediateBytes.Length)\n"
    "$remediateGzip.Close()\n"
    "[Console]::Out.WriteLine('" + GZ_RESULT_MARKER + "' + [Convert]::ToBase64String($remediateStream.ToArray()))"
)
EXIT_MARKER = "#REMEDIATE-EXIT:"
ENVELOPE_PARAM = "RemediateEnvelope"
_STDIN_LINE = "$remediateRaw = [Console]::In.ReadToEnd()"


def _here_string(name: str, text: str) -> str:
    if "\n'@" in "\n" + text:
        raise ValueError(f"{name}: a packaged script may not contain a line starting with '@")
    return f"${name} = @'\n{text.rstrip(chr(10))}\n'@\n"


def powershell_script(script: str) -> str:
    """The Run Command script text of a packaged PowerShell script (the same for every argument value)."""
    bootstrap = scripts.bootstrap_text()
    if _STDIN_LINE not in bootstrap:
        raise RuntimeError("the bootstrap no longer reads its operation from stdin as Run Command expects")
    raw = (
        "$remediateNewLine = [string][char]10\n"
        "$remediateRaw = [Text.Encoding]::ASCII.GetString([Convert]::FromBase64String($RemediateEnvelope))"
        f" + $remediateNewLine + '{scripts.PS_LIBRARY_SEPARATOR}' + $remediateNewLine + $remediateLibrary"
        f" + $remediateNewLine + '{scripts.PS_SCRIPT_SEPARATOR}' + $remediateNewLine + $remediateScript"
    )
    if _RESULT_LINE not in bootstrap:
        raise RuntimeError("the bootstrap no longer writes its result line as Run Command expects")
    head, _, tail = bootstrap.partition(_STDIN_LINE)
    tail = tail.replace(_RESULT_LINE, _GZ_RESULT_LINES)
    return (
        "param([string]$RemediateEnvelope)\n"
        + head
        + _here_string("remediateLibrary", scripts.script_text(scripts.PS_LIBRARY))
        + _here_string("remediateScript", scripts.script_text(script))
        + raw
        + tail
    )


def envelope(op: Operation) -> str:
    """The base64 of the envelope line (script name, digests, base64 JSON arguments): the only parameter."""
    line = scripts.powershell_stdin(op).split(b"\n", 1)[0]
    return base64.b64encode(line).decode("ascii")


SH_GZ_MARKER = "#REMEDIATE-GZ"


def sh_script(op: Operation) -> str:
    """The prelude and script in a subshell whose output, with its exit status, comes back gzip-compressed."""
    return (
        "remediate_tmp=$(mktemp) || exit 1\n(\n"
        + scripts.sh_stdin(op).decode("ascii").rstrip("\n")
        + '\n) > "$remediate_tmp"\nremediate_rc=$?\necho "'
        + SH_GZ_MARKER
        + '"\n'
        + '{ cat "$remediate_tmp"; echo "'
        + EXIT_MARKER
        + '$remediate_rc"; } | gzip -c | base64\n'
        + 'rm -f "$remediate_tmp"\n'
    )


def sh_output(stdout: str) -> str | None:
    """The script's own output (its exit line last) from a Run Command shell run; None when it was cut off."""
    import gzip

    _, sep, encoded = stdout.partition(SH_GZ_MARKER + "\n")
    if not sep:
        return None
    try:
        return gzip.decompress(base64.b64decode("".join(encoded.split()))).decode("utf-8", errors="replace")
    except (ValueError, OSError, EOFError):
        return None


def sh_tokens(op: Operation) -> list[str]:
    return [base64.b64encode(scripts._sh_value(v).encode("utf-8")).decode("ascii") for v in op.args.values()]


def request_body(op: Operation) -> dict[str, Any]:
    """The ``RunCommandInput`` of an operation."""
    if op.shell == "powershell":
        return {
            "commandId": "RunPowerShellScript",
            "script": powershell_script(op.script).split("\n"),
            "parameters": [{"name": ENVELOPE_PARAM, "value": envelope(op)}],
        }
    return {
        "commandId": "RunShellScript",
        "script": sh_script(op).split("\n"),
        "parameters": [{"name": f"arg{i + 1}", "value": t} for i, t in enumerate(sh_tokens(op))],
    }


def decode_powershell(body: dict[str, Any]) -> tuple[str, bytes]:
    """For the lab: ``(script, the stdin the bootstrap would read)``; ValueError when it is not ours."""
    params = {p.get("name"): p.get("value") for p in body.get("parameters") or []}
    line = base64.b64decode(str(params.get(ENVELOPE_PARAM, ""))).decode("ascii")
    envelope = json.loads(line)
    ops = envelope.get("ops") or [envelope]
    if len(ops) != 1:
        raise ValueError("Run Command carries one operation at a time")
    script = ops[0]["script"]
    if "\n".join(body.get("script") or []) != powershell_script(script):
        raise ValueError(f"the Run Command script is not the packaged {script}")
    stdin = "\n".join([line, scripts.PS_LIBRARY_SEPARATOR, scripts.script_text(scripts.PS_LIBRARY)])
    return script, (stdin + "\n" + scripts.PS_SCRIPT_SEPARATOR + "\n" + scripts.script_text(script)).encode("ascii")


def compress_result_line(stdout: str) -> str:
    """For the lab: the bootstrap's result line as the Run Command form writes it (gzip, then base64)."""
    import gzip

    out = []
    for line in stdout.splitlines():
        if line.strip().startswith(scripts.RESULT_MARKER):
            raw = base64.b64decode(line.strip()[len(scripts.RESULT_MARKER) :])
            line = GZ_RESULT_MARKER + base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")
        out.append(line)
    return "\r\n".join(out) + ("\r\n" if out else "")


def split_result(stdout: str) -> tuple[dict[str, Any] | None, str]:
    """The result of a Run Command PowerShell run: ``(result or None, the other output)``."""
    import gzip

    result = None
    rest = []
    for line in stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith(GZ_RESULT_MARKER):
            raw = gzip.decompress(base64.b64decode(stripped[len(GZ_RESULT_MARKER) :]))
            result = json.loads(raw.decode("utf-8"))
        else:
            rest.append(line)
    return result, "\n".join(rest)


def tail(data: bytes) -> str:
    """What Run Command keeps of an output stream: its last 4,096 bytes."""
    return data[-OUTPUT_LIMIT:].decode("utf-8", errors="replace")


def linux_message(stdout: bytes, stderr: bytes) -> str:
    return f"Enable succeeded: \n[stdout]\n{tail(stdout)}\n[stderr]\n{tail(stderr)}"


def split_linux_message(message: str) -> tuple[str, str]:
    _, _, rest = message.partition("[stdout]\n")
    out, _, err = rest.rpartition("\n[stderr]\n")
    return out, err
