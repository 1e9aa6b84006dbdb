"""The Azure side of the lab: one subscription whose VMs are the lab's hosts.

State lives beside the hosts' state files, reloaded at every request like theirs:

``DIR/azure.yml``
    ``subscription``, ``tenant``, ``location``, ``resource_group`` (where the VMs are), ``vaults``
    (``[{name, resource_group}]``), ``jobs`` (the vault's backup jobs), ``locks`` (``[{resource_group, name,
    level}]``), ``restore_point_collections`` (``[{resource_group, name, vm, restore_points: [{name, time}]}]``),
    ``key_vaults`` (``[{resource_group, name, access_policies: [...]}]``) and ``faults``:
    ``throttle: N`` (the next N requests answer 429), ``http_5xx: N`` (500), ``retry_after: S`` (the
    Retry-After those and every long-running operation carry; default 0 so tests run fast),
    ``runcommand_busy: N`` (the next N Run Commands find one still running: 409).

``azure:`` of each host's state file (``DIR/hosts/NAME.yml``): the VM's Azure facts, defaults from
:func:`default_vm`: ``power_state`` (running, stopped, deallocated), ``provisioning_state``, ``private_ip``,
``tags``, ``extensions`` (``[{name, type, state}]``: VMSnapshot / VMSnapshotLinux with state Succeeded,
Failed or Deleting), ``key_vault`` (the vault holding the disk encryption keys, when the disks are encrypted),
``protected`` (backed up by the vault).

A VM's backup job succeeds or fails from its host's state by the page's rules (:mod:`lab.azure.outcome`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from remediate.lab.state import HostState

DEFAULT_SUBSCRIPTION = "00000000-0000-4000-8000-00000000a5b1"
DEFAULT_TENANT = "00000000-0000-4000-8000-0000000074e7"
SNAPSHOT_PUBLISHER = "Microsoft.Azure.RecoveryServices"
RESTORE_POINT_LIMIT = 18


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def default_settings(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "subscription": DEFAULT_SUBSCRIPTION,
        "tenant": DEFAULT_TENANT,
        "location": "japaneast",
        "resource_group": "lab-rg",
        "vaults": [{"name": "lab-vault", "resource_group": "lab-rg"}],
        "jobs": [],
        "locks": [],
        "restore_point_collections": [],
        "key_vaults": [],
        "faults": {},
    }
    settings.update(overrides)
    return settings


def default_vm(os_name: str, index: int) -> dict[str, Any]:
    snapshot = "VMSnapshot" if os_name == "windows" else "VMSnapshotLinux"
    return {
        "power_state": "running",
        "provisioning_state": "Succeeded",
        "private_ip": f"10.0.0.{4 + index}",
        "tags": {},
        "extensions": [{"name": snapshot, "type": snapshot, "state": "Succeeded"}],
        "key_vault": None,
        "protected": True,
    }


class VM:
    """One lab host seen as an Azure VM."""

    def __init__(self, arm: ARM, name: str, state: HostState) -> None:
        self.arm = arm
        self.name = name
        self.state = state
        data = state.read()
        self.data = data
        self.os = data.get("os", "linux")
        self.facts = {**default_vm(self.os, arm.vm_index(name)), **(data.get("azure") or {})}
        if self.os == "linux":  # the lab paths of the files Linux remediations edit, as remediate.* tags
            from remediate.lab.linux.host import host_vars

            lab_paths = {f"remediate.{k}": v for k, v in host_vars(state.path.parent / name).items()}
            self.facts["tags"] = {**lab_paths, **(self.facts.get("tags") or {})}
        self.resource_group = self.facts.get("resource_group") or arm.resource_group

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.arm.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.name}"
        )

    @property
    def vm_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.id.lower()))

    @property
    def nic_id(self) -> str:
        return (
            f"/subscriptions/{self.arm.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Network/networkInterfaces/{self.name}-nic"
        )

    def edit_facts(self) -> Any:
        """``with vm.edit_facts() as facts:`` change the VM's ``azure:`` section."""
        import contextlib

        @contextlib.contextmanager
        def block() -> Any:
            with self.state.edit() as data:
                facts = {**default_vm(self.os, self.arm.vm_index(self.name)), **(data.get("azure") or {})}
                yield facts
                data["azure"] = facts
            self.facts = facts

        return block()

    def agent_ready(self) -> bool:
        machine = self.data.get("machine") or {}
        services = {k.lower(): v for k, v in (machine.get("services") or {}).items()}
        if self.os == "windows":
            agent = services.get("windowsazureguestagent") or {}
            return agent.get("status") == "Running"
        agent = services.get("walinuxagent") or services.get("waagent") or {}
        if agent.get("load") == "not-found":
            agent = services.get("waagent") or {}
        return agent.get("active") == "active"

    def agent_version(self) -> str:
        machine = self.data.get("machine") or {}
        if self.os == "windows":
            return str((machine.get("agent") or {}).get("version", "2.7.41491.1102"))
        return str((machine.get("waagent") or {}).get("goal_state_version", "2.9.1.1"))


class ARM:
    """The lab subscription: settings, VMs, long-running operations and the request log."""

    def __init__(self, lab_dir: str | Path) -> None:
        self.dir = Path(lab_dir)
        self.state = HostState(self.dir / "azure.yml")
        self.requests_path = self.dir / "arm-requests.jsonl"
        self._ops: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._local = threading.local()
        self.busy: dict[str, int] = {}  # Run Commands in progress per VM (the lab runs them synchronously)

    # -- settings ------------------------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """The settings; inside :meth:`edit` (same thread) the dict being edited."""
        current = getattr(self._local, "data", None)
        return current if current is not None else self.state.read()

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Change ``azure.yml`` under its lock; reads of this thread see the change meanwhile."""
        if getattr(self._local, "data", None) is not None:
            yield self._local.data
            return
        with self.state.edit() as data:
            self._local.data = data
            try:
                yield data
            finally:
                self._local.data = None

    @property
    def subscription(self) -> str:
        return str(self.settings()["subscription"])

    @property
    def location(self) -> str:
        return str(self.settings()["location"])

    @property
    def resource_group(self) -> str:
        return str(self.settings()["resource_group"])

    @property
    def tenant(self) -> str:
        return str(self.settings()["tenant"])

    def retry_after(self) -> int:
        return int((self.settings().get("faults") or {}).get("retry_after", 0))

    def consume_fault(self, name: str) -> bool:
        """Use up one count of a counted fault; True when it fired."""
        if not int((self.settings().get("faults") or {}).get(name) or 0):
            return False  # the common case: nothing to write
        with self.edit() as data:
            faults = data.setdefault("faults", {})
            left = int(faults.get(name) or 0)
            if left <= 0:
                return False
            faults[name] = left - 1
            return True

    # -- VMs -----------------------------------------------------------------------------------------------------
    def vm_names(self) -> list[str]:
        return sorted(p.stem for p in (self.dir / "hosts").glob("*.yml"))

    def vm_index(self, name: str) -> int:
        names = self.vm_names()
        return names.index(name) if name in names else 0

    def vms(self, resource_group: str | None = None) -> list[VM]:
        out = [VM(self, n, HostState(self.dir / "hosts" / f"{n}.yml")) for n in self.vm_names()]
        if resource_group is not None:
            out = [v for v in out if v.resource_group.lower() == resource_group.lower()]
        return out

    def vm(self, resource_group: str, name: str) -> VM:
        from remediate.lab.azure.routes import ARMError

        for v in self.vms(resource_group):
            if v.name.lower() == name.lower():
                return v
        raise ARMError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Compute/virtualMachines/{name}' under resource group '{resource_group}' "
            "was not found.",
        )

    def vm_by_any_name(self, name: str) -> VM | None:
        for v in self.vms():
            if v.name.lower() == name.lower():
                return v
        return None

    # -- long-running operations ---------------------------------------------------------------------------------
    def start_operation(self, run: Callable[[], Any]) -> str:
        op = str(uuid.uuid4())
        with self._lock:
            self._ops[op] = {"run": run, "status": "InProgress", "result": None, "error": None, "polls": 0}
        return op

    def poll_operation(self, op: str) -> dict[str, Any]:
        """The operation's record; the work runs at the second poll, so every client sees InProgress once."""
        from remediate.lab.azure.routes import ARMError

        with self._lock:
            record = self._ops.get(op)
            if record is None:
                raise ARMError(404, "OperationNotFound", f"The operation {op} was not found.")
            record["polls"] += 1
            if record["status"] == "InProgress" and record["polls"] >= 2:
                try:
                    record["result"] = record["run"]()
                    record["status"] = "Succeeded"
                except ARMError as exc:
                    record["status"] = "Failed"
                    record["error"] = {"code": exc.code, "message": exc.message}
            return record

    # -- request log ---------------------------------------------------------------------------------------------
    def log_request(self, method: str, path: str, status: int, mutating: bool, **detail: Any) -> None:
        entry = {"ts": time.time(), "method": method, "path": path, "status": status, "mutating": mutating, **detail}
        with self._lock, open(self.requests_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")

    def requests(self) -> list[dict[str, Any]]:
        if not self.requests_path.exists():
            return []
        return [json.loads(line) for line in self.requests_path.read_text(encoding="utf-8").splitlines() if line]

    def mutating_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["mutating"] and r["status"] < 400]
