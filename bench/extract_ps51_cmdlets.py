"""Regenerate ``tests/fixtures/ps51_cmdlets.json``: the Windows PowerShell 5.1 cmdlets our scripts call or could
plausibly call, with their parameter sets, parameter names and parameter aliases, from Microsoft's reference.

Sources (git checkouts, read with ``git show`` at one commit, named in the output):

- ``MicrosoftDocs/PowerShell-Docs``, ``reference/5.1/<module>/<cmdlet>.md`` (the modules of Windows PowerShell
  5.1 itself);
- ``MicrosoftDocs/windows-powershell-docs``, ``docset/winserver2022-ps/<module>/<cmdlet>.md`` (the Windows
  Server modules our scripts use: NetTCPIP, BitLocker, DnsClient, NetAdapter).

Each page's ``## SYNTAX`` section holds one code block per parameter set (``### <set name>``, with the provider
for provider-specific sets such as ``Remove-Item -DeleteKey``); its ``## PARAMETERS`` section gives each
parameter's aliases. Usage::

    python3 bench/extract_ps51_cmdlets.py PATH/TO/PowerShell-Docs PATH/TO/windows-powershell-docs

Every cmdlet any packaged ``.ps1`` calls must be in :data:`CMDLETS` (the check in
``tests/test_powershell_reference.py`` says which are missing).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ps51_cmdlets.json"

# PowerShell-Docs reference/5.1 modules.
CORE = {
    "Microsoft.PowerShell.Core": [
        "ForEach-Object", "Where-Object", "Get-Command", "Import-Module", "Get-Module", "Set-StrictMode", "Out-Null",
    ],
    "Microsoft.PowerShell.Management": [
        "Get-ChildItem", "Get-Item", "Get-ItemProperty", "Set-ItemProperty", "New-ItemProperty",
        "Remove-ItemProperty", "New-Item", "Remove-Item", "Copy-Item", "Move-Item", "Test-Path", "Join-Path",
        "Split-Path", "Resolve-Path", "Get-Content", "Set-Content", "Get-Service", "Set-Service", "Start-Service",
        "Stop-Service", "Restart-Service", "Start-Process", "Stop-Process", "Wait-Process", "Get-Process",
        "Get-WmiObject", "Invoke-WmiMethod", "Get-EventLog", "Restart-Computer", "Get-HotFix", "Get-Location",
        "Set-Location",
    ],
    "Microsoft.PowerShell.Utility": [
        "Add-Type", "ConvertFrom-Json", "ConvertTo-Json", "Get-Culture", "Get-Date", "New-Object",
        "Out-String", "Out-File", "Select-Object", "Sort-Object", "Measure-Object", "Group-Object", "Start-Sleep",
        "Invoke-WebRequest", "Write-Output", "Write-Warning", "Write-Error", "Write-Verbose", "Get-Member",
        "Select-String", "New-TimeSpan", "Compare-Object", "Format-List", "Format-Table", "Get-Random",
        "Write-Host", "Get-Variable", "Set-Variable", "Export-Clixml", "Import-Clixml", "Get-FileHash", "Get-Host",
    ],
    "Microsoft.PowerShell.Security": ["Get-Acl", "Set-Acl", "Get-ExecutionPolicy"],
    "Microsoft.PowerShell.Diagnostics": ["Get-WinEvent", "Get-Counter"],
    "CimCmdlets": ["Get-CimInstance", "Invoke-CimMethod", "Get-CimClass"],
}  # fmt: skip
# windows-powershell-docs docset/winserver2022-ps modules.
SERVER = {
    "NetTCPIP": [
        "Find-NetRoute", "Get-NetIPAddress", "Get-NetIPInterface", "Get-NetRoute", "New-NetRoute", "Remove-NetRoute",
        "Set-NetRoute", "Test-NetConnection",
    ],
    "BitLocker": [
        "Get-BitLockerVolume", "Lock-BitLocker", "Unlock-BitLocker", "Disable-BitLocker", "Enable-BitLocker",
        "Suspend-BitLocker", "Resume-BitLocker",
    ],
    "DnsClient": ["Resolve-DnsName", "Get-DnsClientServerAddress"],
    "NetAdapter": ["Get-NetAdapter"],
}  # fmt: skip

PARAM = re.compile(r"(?:^|[\s\[])-([A-Za-z][A-Za-z0-9]*)")


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def section(text: str, title: str) -> str:
    m = re.search(rf"^## {title}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


def parse_page(text: str) -> dict:
    """Parameter sets (name -> parameters) and aliases (alias -> parameter) of one cmdlet page."""
    syntax = section(text, "SYNTAX")
    sets: dict[str, list[str]] = {}
    name = "Default"
    for m in re.finditer(r"^### (?P<title>.+?)\s*$|^```[^\n]*\n(?P<code>.*?)^```", syntax, re.M | re.S):
        if m.group("title"):
            name = " ".join(m.group("title").replace("(Default)", "").split()) or "Default"
            continue
        params = [p for p in PARAM.findall(m.group("code")) if p != "CommonParameters"]
        key, n = name, 2
        while key in sets:
            key, n = f"{name} ({n})", n + 1
        sets[key] = sorted(set(params), key=params.index)
    aliases: dict[str, str] = {}
    params_text = section(text, "PARAMETERS")
    for m in re.finditer(r"^### -(\w+)\s*$(.*?)(?=^### |\Z)", params_text, re.M | re.S):
        in_sets = re.search(r"^Parameter Sets:[ \t]*(.*)$", m.group(2), re.M)
        if in_sets and in_sets.group(1).strip() == "(All)":  # provider parameters the syntax shows in one set only
            for params in sets.values():
                if m.group(1) not in params:
                    params.append(m.group(1))
        a = re.search(r"^Aliases:[ \t]*(.*)$", m.group(2), re.M)
        for alias in (a.group(1) if a else "").split(","):
            alias = alias.strip().strip("[]")
            if alias:
                aliases[alias] = m.group(1)
    return {"sets": sets, "aliases": aliases}


def main(powershell_docs: str, windows_docs: str) -> None:
    sources = [
        (powershell_docs, "MicrosoftDocs/PowerShell-Docs", "reference/5.1", CORE),
        (windows_docs, "MicrosoftDocs/windows-powershell-docs", "docset/winserver2022-ps", SERVER),
    ]
    out: dict = {"sources": [], "cmdlets": {}}
    for repo, name, root, modules in sources:
        commit = git(repo, "rev-parse", "HEAD").strip()
        out["sources"].append({"repository": name, "commit": commit, "path": root})
        pages = {Path(p).stem.lower(): p for p in git(repo, "ls-tree", "-r", "--name-only", commit, root).split()}
        for cmdlet in (c for cmdlets in modules.values() for c in cmdlets):
            path = pages[cmdlet.lower()]  # the module folder is the page's, whatever the list above says
            page = git(repo, "show", f"{commit}:{path}")
            module = path.split("/")[-2]
            out["cmdlets"][cmdlet] = {"module": module, "source": name, **parse_page(page)}
    # One line per cmdlet: small, and a diff names the cmdlets that changed.
    lines = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(out["cmdlets"].items())]
    text = '{"sources": ' + json.dumps(out["sources"]) + ',\n"cmdlets": {\n' + ",\n".join(lines) + "\n}}\n"
    json.loads(text)
    OUT.write_text(text, encoding="utf-8")
    print(f"{len(out['cmdlets'])} cmdlets written to {OUT}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
