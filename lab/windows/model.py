"""The Windows state model of a lab host, and the registry of script handlers.

A lab Windows host is the ``machine`` section of its state file (see :func:`default_machine` for every
section). The lab never interprets PowerShell: it recognises one of our packaged scripts by its identity
(path and SHA-256) and runs the handler registered for it here against the model, with the operation's
decoded arguments. A handler module per area lives in ``lab/windows/handlers/``.

Writing a handler::

    @handler("common/service_get.ps1", mutating=False)
    def service_get(call: Call) -> dict:
        svc = call.service(call.args["name"])
        return {"name": ..., "status": svc["status"], ...}

A mutating handler may change ``call.machine``; the change is saved when it returns. ``ScriptFailure`` is
what a script's ``throw`` would be: the bootstrap reports it as a failed result with that message.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ScriptFailure(Exception):
    """A script's own failure (a ``throw``), with the message Windows would give.

    ``error_type`` is the .NET type of the exception the bootstrap reports (a ``throw`` of a string is a
    RuntimeException; PowerShell's NativeCommandError is a RemoteException).
    """

    def __init__(self, message: str, error_type: str = "System.Management.Automation.RuntimeException") -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass
class Call:
    """One script invocation on the model."""

    machine: dict[str, Any]
    args: dict[str, Any]
    host: dict[str, Any]  # the whole state file (name, faults, ...)
    console_codepage: int | None = None  # the shell's console code page (WINRS_CODEPAGE), None: the OEM one
    now: float = field(default_factory=time.time)
    warnings: list[str] = field(default_factory=list)
    script: str = ""  # the script's text (what lab.windows.traps reads)
    library: str = ""  # the shared library's text

    def native(self, program: str, exit_code: int = 0, stdout: str = "", stderr: str = "") -> tuple[int, str, str]:
        """One run of a native program by the script: its exit code, stdout and stderr as the script sees them.

        Where the script merges the program's stderr with ``2>&1``, Windows PowerShell 5.1 turns the first
        stderr line into a terminating NativeCommandError (see :mod:`lab.windows.traps`).
        """
        from remediate.lab.windows import traps

        first = next((line for line in stderr.splitlines() if line.strip()), "")
        if first and traps.redirects_stderr(self.script, program):
            raise ScriptFailure(first, "System.Management.Automation.RemoteException")
        return exit_code, stdout, stderr

    @property
    def wmi_broken(self) -> bool:
        """WMI does not answer on this host (``faults.wmi`` or a failed WMI writer): CIM calls fail."""
        from remediate.lab.windows import traps

        return traps.wmi_broken(self.host)

    def exit_reason(self, svc: dict[str, Any]) -> str:
        """What the library's Get-ExitReason says for a service that stopped: Windows' words for its exit code."""
        from remediate.lab.windows import traps

        if self.wmi_broken:
            return "its exit code could not be read (WMI: Call cancelled)"
        specific = svc.get("service_specific_exit_code")
        if specific is not None:
            code = int(specific) & 0xFFFFFFFF
            if traps.int_cast_of_specific_code(self.library):
                raise ScriptFailure(
                    f'Cannot convert value "{code}" to type "System.Int32". Error: "Value was either too large '
                    'or too small for an Int32."'
                )
            return f"service-specific error 0x{code:08X}"
        return str(svc.get("fail_start") or "it is Stopped")

    @property
    def language(self) -> str:
        return self.machine.get("language", "en-US")

    def service(self, name: str) -> dict[str, Any]:
        """The model of a service, by its (case-insensitive) service name; ScriptFailure when absent."""
        for key, value in self.machine.get("services", {}).items():
            if key.lower() == str(name).lower():
                value.setdefault("name", key)
                return value
        raise ScriptFailure(f"Cannot find any service with service name '{name}'.")

    def has_service(self, name: str) -> bool:
        return any(k.lower() == str(name).lower() for k in self.machine.get("services", {}))

    def registry_key(self, path: str, create: bool = False) -> dict[str, Any] | None:
        """The values of a registry key (``HKLM\\SOFTWARE\\...``), by case-insensitive path."""
        reg = self.machine.setdefault("registry", {})
        for key, values in reg.items():
            if key.lower() == path.lower():
                return values
        if create:
            reg[path] = {}
            return reg[path]
        return None

    @property
    def oem_codepage(self) -> int:
        """The host's OEM code page: what console programs such as vssadmin write, whatever the console's."""
        return int(self.machine.get("codepage", 437))

    def native_output(self, text: str) -> bytes:
        """A native program's text as the bytes it writes to a pipe: in the OEM code page."""
        return text.encode(_codec(self.oem_codepage), errors="replace")

    def native_text(self, text: str) -> str:
        """What a script gets from ``& program`` (or ``| Out-String``): the OEM bytes decoded by PowerShell with
        [Console]::OutputEncoding, the shell's code page. Under a 65001 shell, cp932 or cp850 text comes out
        with U+FFFD where a byte is not UTF-8, as on Windows."""
        console = self.console_codepage or self.oem_codepage
        return self.native_output(text).decode(_codec(console), errors="replace")


def _codec(codepage: int) -> str:
    return "utf-8" if codepage == 65001 else f"cp{codepage}"


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class HandlerSpec:
    script: str
    mutating: bool
    func: Handler


HANDLERS: dict[str, HandlerSpec] = {}


def handler(script: str, *, mutating: bool) -> Callable[[Handler], Handler]:
    """Register the model's implementation of one packaged script."""

    def register(func: Handler) -> Handler:
        if script in HANDLERS:
            raise RuntimeError(f"two lab handlers for {script}")
        HANDLERS[script] = HandlerSpec(script, mutating, func)
        return func

    return register


StartCheck = Callable[[Call], "str | None"]
START_CHECKS: dict[str, list[StartCheck]] = {}


def start_check(service: str) -> Callable[[StartCheck], StartCheck]:
    """Register why a service cannot start now (a message), from the state of the machine it depends on.

    A handler module uses it for a dependency the service model cannot express: COMSysApp will not start
    while MSDTC is broken (``lab/windows/handlers/msdtc.py``). The check returns None when it can start.
    """

    def register(func: StartCheck) -> StartCheck:
        START_CHECKS.setdefault(service.lower(), []).append(func)
        return func

    return register


def start_refusal(call: Call, service: str) -> str | None:
    """The first registered reason why ``service`` cannot start now, or None."""
    load_handlers()
    for check in START_CHECKS.get(service.lower(), []):
        reason = check(call)
        if reason:
            return reason
    return None


def load_handlers() -> dict[str, HandlerSpec]:
    """Import every handler module once and return the registry."""
    import importlib
    import pkgutil

    from remediate.lab.windows import handlers

    for info in pkgutil.iter_modules(handlers.__path__):
        importlib.import_module(f"{handlers.__name__}.{info.name}")
    return HANDLERS


LANGUAGES = {"en-US": 437, "ja-JP": 932, "de-DE": 850, "fr-FR": 850}

SYSTEM_WRITER_ID = "{e8132975-6f93-4464-a53e-1050253ae220}"


def _svc(status: str, start_type: str, logon: str = "LocalSystem", **extra: Any) -> dict[str, Any]:
    return {"status": status, "start_type": start_type, "logon": logon, **extra}


def default_machine(language: str = "en-US", hostname: str = "WIN01") -> dict[str, Any]:
    """A healthy Windows Server 2022 Azure VM: every remediation finds nothing to change on it.

    Sections: services, vss_writers, registry, machinekeys, certificates, msdtc, msiexec, vcredist,
    snapshot_extension_versions, bitlocker, agent, network. Handlers own the meaning of their section; a
    ready-made broken machine (``lab/machines/*.yml``) is this default with a few values changed.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown lab language {language!r}; one of {', '.join(LANGUAGES)}")
    machine: dict[str, Any] = {
        "hostname": hostname,
        "language": language,
        "codepage": LANGUAGES[language],
        "os_version": "10.0.20348",
        "services": {
            "VSS": _svc("Stopped", "Manual"),
            "CryptSvc": _svc("Running", "Automatic", "NT Authority\\NetworkService"),
            "Winmgmt": _svc("Running", "Automatic"),
            "BITS": _svc("Stopped", "Manual"),
            "EventSystem": _svc("Running", "Automatic", "NT AUTHORITY\\LocalService"),
            "COMSysApp": _svc("Running", "Manual"),
            "MSDTC": _svc("Running", "Automatic", "NT AUTHORITY\\NetworkService"),
            "msiserver": _svc("Stopped", "Manual"),
            "WindowsAzureGuestAgent": _svc("Running", "Automatic"),
            "RdAgent": _svc("Running", "Automatic"),
        },
        # state: the [N] code (1 stable); last_error: 0 no error, else the VSS error code;
        # recover_after_s: seconds after its service restarts until the writer is stable (null: never).
        "vss_writers": [
            _writer("System Writer", SYSTEM_WRITER_ID, "{a1b8e7a5-3c0b-4a5e-9d1e-3b5f0c2d7e11}", "CryptSvc"),
            _writer(
                "ASR Writer",
                "{be000cbe-11fe-4426-9c58-531aa6355fc4}",
                "{1d3f6a0e-7b4c-4b45-8a62-6f4a0c9e2b31}",
                "VSS",
            ),
            _writer(
                "COM+ REGDB Writer",
                "{542da469-d3e1-473c-9f4f-7847f01fc64f}",
                "{4b1c0c6e-0b4e-4f43-9f9b-2b7a1f0e6d52}",
                "VSS",
            ),
            _writer(
                "Registry Writer",
                "{afbab4a2-367d-4d15-a586-71dbb18f8485}",
                "{9e0d5b54-8f5e-44a7-a1a6-3c9e7b2d4f63}",
                "VSS",
            ),
            _writer(
                "Shadow Copy Optimization Writer",
                "{4dc3bdd4-ab48-4d07-adb0-3bee2926fd7f}",
                "{c7a1e2f0-54b3-4d1a-9a6c-8e2f3b4d5a74}",
                "VSS",
            ),
            _writer(
                "WMI Writer",
                "{a6ad56c2-b509-4e6c-bb19-49d8f43532f0}",
                "{3f1d2c4b-6a5e-4b7d-8c9e-0a1b2c3d4e85}",
                "Winmgmt",
            ),
            _writer(
                "BITS Writer",
                "{4969d978-be47-48b0-b100-f328f07ac1e0}",
                "{5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c96}",
                "BITS",
            ),
        ],
        # Registry keys by path; each value {type: REG_SZ | REG_DWORD | ..., data: ...}.
        "registry": {
            "HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v2.0.50727": {
                "SchUseStrongCrypto": {"type": "REG_DWORD", "data": 1},
            },
            "HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319": {
                "SchUseStrongCrypto": {"type": "REG_DWORD", "data": 1},
                "SystemDefaultTlsVersions": {"type": "REG_DWORD", "data": 1},
            },
            "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\.NETFramework\\v2.0.50727": {
                "SchUseStrongCrypto": {"type": "REG_DWORD", "data": 1},
            },
            "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\.NETFramework\\v4.0.30319": {
                "SchUseStrongCrypto": {"type": "REG_DWORD", "data": 1},
                "SystemDefaultTlsVersions": {"type": "REG_DWORD", "data": 1},
            },
            "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent": {
                "USEVSSCOPYBACKUP": {"type": "REG_SZ", "data": "TRUE"},
            },
            "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys": {
                "SnapshotMethod": {"type": "REG_SZ", "data": "firstHostThenGuest"},
                "CalculateSnapshotTimeFromHost": {"type": "REG_SZ", "data": "True"},
            },
            "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Msiserver": {
                "Start": {"type": "REG_DWORD", "data": 3},
            },
        },
        "machinekeys": {
            "path": "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys",
            "sddl": "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)",
            "saved": [],  # ACL backups written by icacls /save, as {path, sddl}
        },
        # Cert:\LocalMachine\My
        "certificates": [],
        # broken: COMSysApp will not start until MSDTC is reinstalled (msdtc -uninstall, msdtc -install).
        "msdtc": {"installed": True, "broken": False},
        # registered: msiexec /regserver done; fail_register: the message msiexec gives instead.
        "msiexec": {"registered": True},
        # Visual C++ redistributables; fail_exit_code: every vcredist run exits with it and installs nothing.
        "vcredist": {"2012_x64": True, "2013_x64": True},
        # C:\Packages\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot\<version>\ folders and their files.
        "snapshot_extension_versions": [
            {"name": "1.0.9169.0", "files": ["vcredist2012_x64.exe", "vcredist2013_x64.exe"]},
        ],
        "bitlocker": [{"mount_point": "C:", "lock_status": "Unlocked", "protection_status": "On"}],
        "agent": {"path": "C:\\WindowsAzure\\Packages\\WaAppAgent.exe", "version": "2.7.41491.1102"},
        "network": {
            "adapters": [{"name": "Ethernet", "index": 4, "dhcp": True, "ipv4": "10.0.0.4"}],
            "routes": [
                {"prefix": "0.0.0.0/0", "next_hop": "10.0.0.1", "interface_index": 4, "metric": 0},
            ],
            "reachable": {"168.63.129.16:80": True, "168.63.129.16:32526": True},
            "dns": {},
            "winhttp_proxy": None,
        },
    }
    return machine


def _writer(name: str, writer_id: str, instance_id: str, service: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": writer_id,
        "instance_id": instance_id,
        "state": 1,
        "last_error": 0,
        "service": service,
        "recover_after_s": 0,
    }


def clone(machine: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(machine)


START_TYPES_BY_VALUE = {2: "Automatic", 3: "Manual", 4: "Disabled"}


def reboot(machine: dict[str, Any]) -> dict[str, Any]:
    """The machine after a restart: the Service Control Manager reads its database again, so a service's
    ``Services\\<name>\\Start`` value written straight to the registry becomes its start type; services marked
    for deletion are gone; automatic services run, the others are stopped."""
    services = machine.setdefault("services", {})
    prefix = "hklm\\system\\currentcontrolset\\services\\"
    for path, values in (machine.get("registry") or {}).items():
        if not path.lower().startswith(prefix):
            continue
        name = path[len(prefix) :]
        start = next((v.get("data") for k, v in values.items() if k.lower() == "start"), None)
        for key, svc in services.items():
            if key.lower() == name.lower() and start in START_TYPES_BY_VALUE:
                svc["start_type"] = START_TYPES_BY_VALUE[start]
    for key in [k for k, svc in services.items() if svc.get("marked_for_deletion")]:
        del services[key]
    for svc in services.values():
        automatic = svc.get("start_type") == "Automatic" and not svc.get("fail_start")
        svc["status"] = "Running" if automatic else "Stopped"
    return machine
