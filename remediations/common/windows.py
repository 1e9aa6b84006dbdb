"""Windows building blocks shared by every Windows remediation: services and registry values.

Each reads state with one read-only operation and turns a wanted state into a :class:`~remediate.contract.Change`
that carries ``before``, ``after`` and its undo::

    svc = ServiceState.read(conn, "COMSysApp")
    if svc.exists and svc.status != "Running":
        changes.append(svc.start("start COMSysApp"))

    value = RegistryValue.read(conn, r"HKLM\\SOFTWARE\\Microsoft\\BcdrAgent", "USEVSSCOPYBACKUP")
    if not value.equals("TRUE", "REG_SZ"):
        changes.append(value.change_to("TRUE", "REG_SZ", "set USEVSSCOPYBACKUP to TRUE"))

Service and value names travel as operation arguments, never as script text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediate.contract import Change
from remediate.operation import Operation, mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

SERVICE_GET = "common/service_get.ps1"
SERVICE_CONTROL = "common/service_control.ps1"
SERVICE_CONFIG = "common/service_config.ps1"
REGISTRY_GET = "common/registry_get.ps1"
REGISTRY_SET = "common/registry_set.ps1"
REGISTRY_REMOVE = "common/registry_remove.ps1"

LOCAL_SYSTEM = "S-1-5-18"
LOCAL_SERVICE = "S-1-5-19"
NETWORK_SERVICE = "S-1-5-20"
WELL_KNOWN_ACCOUNTS = {
    LOCAL_SYSTEM: "LocalSystem",
    LOCAL_SERVICE: "NT AUTHORITY\\LocalService",
    NETWORK_SERVICE: "NT AUTHORITY\\NetworkService",
}
START_TYPES = ("Automatic", "Manual", "Disabled")
SERVICE_ACTIONS = ("start", "stop", "restart")
REGISTRY_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_DWORD", "REG_QWORD", "REG_MULTI_SZ", "REG_BINARY")
DEFAULT_SERVICE_TIMEOUT = 60.0


def service_control(name: str, action: str, timeout_s: float = DEFAULT_SERVICE_TIMEOUT) -> Operation:
    """The mutating operation that starts, stops or restarts a service and waits for it (bounded)."""
    if action not in SERVICE_ACTIONS:
        raise ValueError(f"unknown service action {action!r}; one of {', '.join(SERVICE_ACTIONS)}")
    return mutate(SERVICE_CONTROL, timeout=timeout_s * 2 + 30, name=name, action=action, timeout_s=timeout_s)


def service_config(name: str, *, start_type: str | None = None, logon: str | None = None) -> Operation:
    """The mutating operation that sets a service's start type and/or (built-in) logon account."""
    if start_type is not None and start_type not in START_TYPES:
        raise ValueError(f"unknown start type {start_type!r}; one of {', '.join(START_TYPES)}")
    if start_type is None and logon is None:
        raise ValueError("service_config needs a start type or a logon account")
    args: dict[str, Any] = {"name": name}
    if start_type is not None:
        args["start_type"] = start_type
    if logon is not None:
        args["logon"] = logon
    return mutate(SERVICE_CONFIG, **args)


def service_change(
    name: str,
    action: str,
    summary: str | None = None,
    *,
    before: Any = None,
    timeout_s: float = DEFAULT_SERVICE_TIMEOUT,
) -> Change:
    """A start/stop/restart as a plan change. It cannot be undone (``undo_note`` says so)."""
    target = "Stopped" if action == "stop" else "Running"
    return Change(
        summary=summary or f"{action} service {name}",
        operation=service_control(name, action, timeout_s),
        before=before,
        after={"status": target},
        undo=None,
        undo_note=f"a service {action} cannot be undone; the service keeps running as configured"
        if action != "stop"
        else f"start service {name} again to undo",
    )


@dataclass(frozen=True)
class ServiceState:
    """One Windows service as ``common/service_get.ps1`` reads it. ``logon_sid`` is language-independent."""

    name: str
    exists: bool
    status: str | None = None  # Running, Stopped, StartPending, StopPending, Paused, ...
    start_type: str | None = None  # Automatic, Manual, Disabled (Boot, System for drivers)
    logon: str | None = None
    logon_sid: str | None = None
    display_name: str | None = None
    exit_code: int | None = None
    wmi_error: str | None = None  # WMI did not answer: logon, start mode (maybe) and exit code are unknown

    @classmethod
    def read(cls, conn: Connection, name: str) -> ServiceState:
        return cls.read_many(conn, [name])[0]

    @classmethod
    def read_many(cls, conn: Connection, names: Sequence[str]) -> list[ServiceState]:
        """Several services, read in one remote command where the transport batches."""
        results = conn.run_many([cls.operation(name) for name in names])
        return [cls.from_data(name, r.data) for name, r in zip(names, results, strict=True)]

    @staticmethod
    def operation(name: str) -> Operation:
        """The read-only operation that reads it (to batch with others: ``conn.run_many``)."""
        return read(SERVICE_GET, name=name)

    @classmethod
    def from_data(cls, name: str, data: Mapping[str, Any] | None) -> ServiceState:
        data = data or {}
        if not data.get("exists"):
            return cls(name=str(data.get("name") or name), exists=False)
        return cls(
            name=str(data.get("name") or name),
            exists=True,
            status=data.get("status"),
            start_type=data.get("start_type"),
            logon=data.get("logon"),
            logon_sid=data.get("logon_sid"),
            display_name=data.get("display_name"),
            exit_code=data.get("exit_code"),
            wmi_error=data.get("wmi_error"),
        )

    @property
    def running(self) -> bool:
        return self.exists and self.status == "Running"

    @property
    def disabled(self) -> bool:
        return self.exists and self.start_type == "Disabled"

    def snapshot(self) -> dict[str, Any]:
        """What a plan records as ``before``."""
        return {
            "exists": self.exists,
            "status": self.status,
            "start_type": self.start_type,
            "logon": self.logon,
            "logon_sid": self.logon_sid,
        }

    def start(self, summary: str | None = None, timeout_s: float = DEFAULT_SERVICE_TIMEOUT) -> Change:
        return service_change(self.name, "start", summary, before=self.snapshot(), timeout_s=timeout_s)

    def restart(self, summary: str | None = None, timeout_s: float = DEFAULT_SERVICE_TIMEOUT) -> Change:
        return service_change(self.name, "restart", summary, before=self.snapshot(), timeout_s=timeout_s)

    def stop(self, summary: str | None = None, timeout_s: float = DEFAULT_SERVICE_TIMEOUT) -> Change:
        change = service_change(self.name, "stop", summary, before=self.snapshot(), timeout_s=timeout_s)
        if self.running:
            change.undo = service_control(self.name, "start", timeout_s)
            change.undo_note = None
        return change

    def configure(
        self, summary: str | None = None, *, start_type: str | None = None, logon: str | None = None
    ) -> Change:
        """Set the start type and/or logon account; the undo sets back what was there."""
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        undo_args: dict[str, Any] = {}
        if start_type is not None:
            before["start_type"] = self.start_type
            after["start_type"] = start_type
            if self.start_type in START_TYPES:
                undo_args["start_type"] = self.start_type
        if logon is not None:
            before["logon"] = self.logon
            before["logon_sid"] = self.logon_sid
            after["logon"] = WELL_KNOWN_ACCOUNTS.get(logon, logon)
            previous = self.logon_sid if self.logon_sid in WELL_KNOWN_ACCOUNTS else None
            if previous:
                undo_args["logon"] = previous
        op = service_config(self.name, start_type=start_type, logon=logon)
        undo = service_config(self.name, **undo_args) if undo_args else None
        note = None
        if undo is None or (logon is not None and "logon" not in undo_args):
            note = f"the previous configuration of {self.name} ({before}) must be set back by hand"
        words = ", ".join(f"{k} {v}" for k, v in after.items())
        return Change(
            summary=summary or f"set {words} on service {self.name}",
            operation=op,
            before=before,
            after=after,
            undo=undo,
            undo_note=note,
        )


def as_list(value: Any) -> list[Any]:
    """A list from a script's JSON, as Windows PowerShell may send it: null for none, the item for one."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def registry_set(path: str, name: str, data: Any, type: str) -> Operation:
    """The mutating operation that sets one registry value (creating its key when missing)."""
    check_registry_data(data, type)
    return mutate(REGISTRY_SET, path=path, name=name, type=type, data=data)


def registry_remove(path: str, name: str) -> Operation:
    return mutate(REGISTRY_REMOVE, path=path, name=name)


def check_registry_data(data: Any, type: str) -> None:
    """Refuse data that does not fit its registry type before anything is sent."""
    if type not in REGISTRY_TYPES:
        raise ValueError(f"unknown registry type {type!r}; one of {', '.join(REGISTRY_TYPES)}")
    if type in ("REG_DWORD", "REG_QWORD"):
        limit = 0xFFFFFFFF if type == "REG_DWORD" else 0xFFFFFFFFFFFFFFFF
        if isinstance(data, bool) or not isinstance(data, int) or not 0 <= data <= limit:
            raise ValueError(f"{type} data must be an integer from 0 to {limit}, not {data!r}")
    elif type in ("REG_SZ", "REG_EXPAND_SZ"):
        if not isinstance(data, str):
            raise ValueError(f"{type} data must be a string, not {data!r}")
    elif type == "REG_MULTI_SZ":
        if not isinstance(data, (list, tuple)) or not all(isinstance(s, str) for s in data):
            raise ValueError(f"REG_MULTI_SZ data must be a list of strings, not {data!r}")
    elif type == "REG_BINARY" and (
        not isinstance(data, (list, tuple))
        or not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in data)
    ):
        raise ValueError(f"REG_BINARY data must be a list of bytes, not {data!r}")


@dataclass(frozen=True)
class RegistryValue:
    """One registry value as ``common/registry_get.ps1`` reads it (64-bit view)."""

    path: str
    name: str
    exists: bool
    type: str | None = None
    data: Any = None
    key_exists: bool = False

    @classmethod
    def read(cls, conn: Connection, path: str, name: str) -> RegistryValue:
        return cls.from_data(path, name, conn.run(cls.operation(path, name)).data)

    @staticmethod
    def operation(path: str, name: str) -> Operation:
        """The read-only operation that reads it (to batch with others: ``conn.run_many``)."""
        return read(REGISTRY_GET, path=path, name=name)

    @classmethod
    def from_data(cls, path: str, name: str, data: Mapping[str, Any] | None) -> RegistryValue:
        data = data or {}
        data_value = data.get("data")
        if isinstance(data_value, list):
            data_value = list(data_value)
        return cls(
            path=path,
            name=name,
            exists=bool(data.get("exists")),
            type=data.get("type") if data.get("exists") else None,
            data=data_value if data.get("exists") else None,
            key_exists=bool(data.get("key_exists")),
        )

    def equals(self, data: Any, type: str) -> bool:
        """True when the value exists with exactly this type and data."""
        if not self.exists or self.type != type:
            return False
        if isinstance(data, (list, tuple)):
            return list(self.data or []) == list(data)
        return self.data == data

    def snapshot(self) -> dict[str, Any]:
        return {"exists": self.exists, "type": self.type, "data": self.data}

    def undo_operation(self) -> Operation:
        """What restores this value as it is now: set it back, or remove it when it did not exist."""
        if self.exists and self.type in REGISTRY_TYPES:
            return registry_set(self.path, self.name, self.data, self.type)
        return registry_remove(self.path, self.name)

    def change_to(self, data: Any, type: str, summary: str | None = None) -> Change:
        """Set this value to ``data`` of ``type``; ``before`` is what is there now, ``undo`` restores it."""
        op = registry_set(self.path, self.name, data, type)
        restorable = not self.exists or self.type in REGISTRY_TYPES
        return Change(
            summary=summary or f"set {self.path}\\{self.name} to {data!r} ({type})",
            operation=op,
            before=self.snapshot(),
            after={"exists": True, "type": type, "data": list(data) if isinstance(data, tuple) else data},
            undo=self.undo_operation() if restorable else None,
            undo_note=None if restorable else f"the previous value has type {self.type}, which cannot be written back",
        )
