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
  error instead of the service's reason (:func:`int_cast_of_specific_code`).
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
