"""What Windows PowerShell 5.1 does to a script that the lab's handlers cannot see by themselves.

The lab never runs PowerShell: a handler models what a packaged script does to the machine. A few of 5.1's
behaviours depend on how the script is written, not on the machine, and a real host trips a script on them.
The lab finds them in the script's text (comments left out) and trips it the same way:

- ``& program ... 2>&1`` under ``$ErrorActionPreference = 'Stop'`` (the bootstrap sets it): the first line the
  program writes on stderr becomes a terminating ``NativeCommandError`` (a ``RemoteException`` carrying that
  line), so the script's ``$LASTEXITCODE`` branch never runs (:func:`redirects_stderr`);
- a CIM call without ``-OperationTimeoutSec`` waits as long as WMI does; on a host whose WMI is stuck (the WMI
  writer failed) it fails the script (:func:`unguarded_cim`);
- ``SetAccessControl`` / ``Set-Acl`` enable no privilege: a DACL written so needs WRITE_DAC on the object, where
  ``icacls /setowner`` and ``/restore`` use the administrator's SeRestorePrivilege
  (:func:`writes_dacl_with_privileges`);
- ``TcpClient.BeginConnect`` then ``AsyncWaitHandle.WaitOne``: a refused connection signals the handle at once
  with ``Connected`` false; only ``EndConnect`` throws the refusal, so a script without it reports a refusal as
  silence (:func:`observes_connect_errors`);
- ``[int]`` on a ``ServiceSpecificExitCode`` that is an HRESULT above 0x7FFFFFFF (COM+'s 0x8004E00F) is a cast
  error instead of the service's reason (:func:`int_cast_of_specific_code`);
- a service that fails before the script's first poll is never seen ``StartPending``: a wait that counts
  ``Stopped`` as a failure only after it saw a pending status waits out its whole timeout and reports a timeout
  instead of the exit reason (:func:`stopped_counts_only_after_pending`);
- whatever fails after ``msdtc -uninstall`` leaves the host without MSDTC unless the script installs it again in
  a ``finally`` (:func:`reinstalls_in_finally`); a service that stays listed after the uninstall is marked for
  deletion (1072), which only a script that knows the code can say (:func:`names_error_code`).
"""

from __future__ import annotations

import re
from typing import Any

CIM_CALL = re.compile(r"\b(Get-CimInstance|Invoke-CimMethod|Get-WmiObject|Invoke-WmiMethod)\b", re.I)
INT_SPECIFIC = re.compile(r"\[int\]\s*\$[\w.]+\.ServiceSpecificExitCode", re.I)
CALL_OPERATOR = re.compile(r"&\s*(\$\w+|'[^']*'|\"[^\"]*\"|[\w.\\:-]+)")


def code_lines(text: str) -> list[str]:
    """The script's lines without comments (``#`` outside quotes is enough for our scripts)."""
    out = []
    for line in text.splitlines():
        quote = None
        for i, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "#":
                line = line[:i]
                break
        out.append(line)
    return out


def _statements(text: str) -> list[str]:
    """Lines joined where a line ends with a pipe or a backtick (one pipeline on several lines)."""
    joined: list[str] = []
    for line in code_lines(text):
        if joined and joined[-1].rstrip().endswith(("|", "`")):
            joined[-1] = joined[-1].rstrip().rstrip("`") + " " + line.strip()
        else:
            joined.append(line)
    return joined


def redirects_stderr(text: str, program: str) -> bool:
    """Whether the script runs ``program`` (``netsh``, ``icacls``...) with its stderr merged by ``2>&1``."""
    name = program.lower().removesuffix(".exe")
    lines = code_lines(text)
    stop = True  # the bootstrap sets $ErrorActionPreference = 'Stop'; a script may lower it around a call
    for line in lines:
        eap = re.search(r"\$ErrorActionPreference\s*=\s*['\"](\w+)['\"]", line, re.I)
        if eap:
            stop = eap.group(1).lower() == "stop"
        if "2>&1" not in line or not stop:
            continue
        bare = re.sub(r"\d?>&\d|\*>&\d", " ", line)
        match = CALL_OPERATOR.search(bare)
        if match:
            target = match.group(1)
        else:  # program.exe args 2>&1, perhaps assigned or in parentheses
            words = re.sub(r"^\s*(\$[\w:]+\s*=\s*)?\(?\s*", "", bare).split()
            target = words[0] if words else ""
        if target.startswith("$"):  # & $icacls ...: what the variable was set to
            assigned = [other for other in lines if re.match(rf"\s*{re.escape(target)}\s*=", other, re.I) is not None]
            target = " ".join(assigned)
        if re.search(rf"\b{re.escape(name)}(\.exe)?\b", target, re.I):
            return True
    return False


def unguarded_cim(text: str) -> bool:
    """Whether a CIM/WMI call in the script has no ``-OperationTimeoutSec`` (it waits as long as WMI does)."""
    for statement in _statements(text):
        for match in CIM_CALL.finditer(statement):
            rest = statement[match.end() :].split("|", 1)[0]
            if "-operationtimeoutsec" not in rest.lower():
                return True
    return False


def int_cast_of_specific_code(text: str) -> bool:
    return any(INT_SPECIFIC.search(line) for line in code_lines(text))


def wmi_broken(host: dict[str, Any]) -> bool:
    """WMI does not answer on this host: ``faults.wmi`` (``fail`` or ``hang``), or a WMI writer marked
    ``wmi_stuck`` (the failed writer of the troubleshooting page is WMI itself) until its service, Winmgmt, is
    restarted."""
    if (host.get("faults") or {}).get("wmi"):
        return True
    machine = host.get("machine") or {}
    writers = machine.get("vss_writers") or []
    stuck = any(str(w.get("name", "")).lower() == "wmi writer" and w.get("wmi_stuck") for w in writers)
    winmgmt = next((s for n, s in (machine.get("services") or {}).items() if n.lower() == "winmgmt"), {})
    return stuck and not winmgmt.get("restarted_at")


def writes_dacl_with_privileges(text: str) -> bool:
    """Whether the script writes a DACL through icacls (/restore), which enables SeRestorePrivilege."""
    return any(re.search(r"['\"]/restore['\"]", line, re.I) for line in code_lines(text))


def observes_connect_errors(text: str) -> bool:
    """Whether the script ends its BeginConnect with EndConnect (which throws the refusal)."""
    return any(".endconnect(" in line.lower() for line in code_lines(text))


def _code(text: str) -> str:
    return "\n".join(code_lines(text))


def _closing_brace(code: str, start: int) -> int:
    """The index of the ``}`` that closes the ``{`` at ``start`` (braces inside quotes left out)."""
    depth, quote = 0, None
    for i in range(start, len(code)):
        ch = code[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(code)


def _block_after(code: str, pattern: str, start: int = 0) -> tuple[str, int] | None:
    """The body of the first block opened right after ``pattern`` (a regex ending before the ``{``) at or after
    ``start``, and the index after its closing brace."""
    match = re.compile(pattern + r"\s*\{", re.I).search(code, start)
    if match is None:
        return None
    end = _closing_brace(code, match.end() - 1)
    return code[match.end() : end], end + 1


def _functions(code: str) -> dict[str, str]:
    bodies = {}
    for match in re.finditer(r"\bfunction\s+([\w-]+)\s*(\([^)]*\))?\s*\{", code, re.I):
        end = _closing_brace(code, match.end() - 1)
        bodies[match.group(1).lower()] = code[match.end() : end]
    return bodies


def _expanded(body: str, functions: dict[str, str], depth: int = 3) -> str:
    """A block with the bodies of the script's functions it calls appended (a few levels deep)."""
    out = body
    for _ in range(depth):
        called = [f for name, f in functions.items() if re.search(rf"(?<![\w-]){re.escape(name)}\b", out, re.I)]
        grown = body + "\n" + "\n".join(called)
        if grown == out:
            break
        out = grown
    return out


def reinstalls_in_finally(text: str, uninstall: str = "-uninstall", install: str = "-install") -> bool:
    """Whether a ``try`` whose block runs ``uninstall`` ends in a ``finally`` that runs ``install`` under a
    condition (directly or through the script's functions)."""
    code = _code(text)
    functions = _functions(code)
    quoted = re.compile(r"['\"]{}['\"]")
    position = 0
    while (found := _block_after(code, r"(?<![\w-])try", position)) is not None:
        body, position = found
        rest = code[position:]
        clauses = re.match(r"(\s*catch\s*(\[[^\]]*\]\s*)*\{)", rest, re.I)
        after = position
        while clauses:
            after += clauses.end() - 1
            after = _closing_brace(code, after) + 1
            clauses = re.match(r"(\s*catch\s*(\[[^\]]*\]\s*)*\{)", code[after:], re.I)
        final = re.match(r"\s*finally\s*\{", code[after:], re.I)
        if final is None:
            continue
        start = after + final.end() - 1
        cleanup = code[start + 1 : _closing_brace(code, start)]
        runs_uninstall = quoted.pattern.format(re.escape(uninstall))
        runs_install = quoted.pattern.format(re.escape(install))
        if re.search(runs_uninstall, _expanded(body, functions), re.I) is None:
            continue
        conditional = _block_after(cleanup, r"\bif\s*\([^{]*\)")
        if conditional and re.search(runs_install, _expanded(conditional[0], functions), re.I):
            return True
    return False


def names_error_code(text: str, code: int) -> bool:
    """Whether the script's code (not its comments) knows a Win32 error code, e.g. 1072 (marked for deletion)."""
    return re.search(rf"(?<![\w.]){code}(?![\w.])", _code(text)) is not None


def stopped_counts_only_after_pending(text: str) -> bool:
    """Whether the script's start wait treats ``Stopped`` as a failure only once it saw a ``*Pending`` status
    (``if ($status -like '*Pending') { $seen = $true }`` ... ``if ($seen -and $status -eq 'Stopped')``), with no
    other way out than its deadline. A grace period (``-or``) is another way out: the reason comes after it."""
    lines = code_lines(text)
    flags = {
        m.group(1).lower()
        for line in lines
        if re.search(r"pending", line, re.I)
        for m in re.finditer(r"\$(\w+)\s*=\s*\$true", line, re.I)
    }
    for line in lines:
        condition = re.search(r"\bif\s*\((.*)\)\s*\{", line, re.I)
        if condition is None or not re.search(r"['\"]Stopped['\"]", condition.group(1), re.I):
            continue
        used = {v.lower() for v in re.findall(r"\$(\w+)", condition.group(1))}
        if used & flags and not re.search(r"-or\b", condition.group(1), re.I):
            return True
    return False
