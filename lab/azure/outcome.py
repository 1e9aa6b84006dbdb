"""Why a lab VM's backup fails: the page's rules applied to the host's state, first match wins.

Each rule reads the same model the host's WinRM or SSH endpoint serves and returns the page's error code,
or None. The order is the order in which a real backup meets the problems: the VM resource, the agent and
its route to the wire server, the snapshot extension, then the snapshot inside the guest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from remediate.lab.azure.model import RESTORE_POINT_LIMIT

if TYPE_CHECKING:
    from remediate.lab.azure.model import ARM, VM

WIRE_TARGETS = ("168.63.129.16:80", "168.63.129.16:32526")
WINDOWS_AGENT_FLOOR = (2, 7, 41491, 1010)
LINUX_AGENT_FLOOR = (2, 2, 53, 1)
MACHINEKEYS_DEFAULT = "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"
BACKUP_MANAGEMENT_SERVICE = "262044b1-e2ce-469f-a196-69ab7ada62d3"

Rule = Callable[["ARM", "VM", dict[str, Any]], "str | None"]
RULES: list[Rule] = []


def rule(func: Rule) -> Rule:
    RULES.append(func)
    return func


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(text).split("."))
    except ValueError:
        return (0,)


def _services(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k.lower(): v for k, v in (machine.get("services") or {}).items()}


@rule
def provisioning_failed(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    if vm.facts.get("provisioning_state") == "Failed":
        return "UserErrorVmProvisioningStateFailed"
    for ext in vm.facts.get("extensions") or []:
        if ext.get("state") == "Deleting":
            return "ExtensionStuckInDeletionState"
        if ext.get("state") == "Failed":
            return "UserErrorVmProvisioningStateFailed"
    return None


@rule
def agent(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    if not vm.agent_ready():
        return "UserErrorGuestAgentStatusUnavailable"
    floor = WINDOWS_AGENT_FLOOR if vm.os == "windows" else LINUX_AGENT_FLOOR
    if _version(vm.agent_version()) < floor:
        return "GuestAgentSnapshotTaskStatusError"
    return None


@rule
def wire_server(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    from remediate.lab.linux.model import reachable

    network = machine.get("network") or {}
    if not all(reachable(network, t) for t in WIRE_TARGETS):
        return "ExtensionSnapshotFailedNoNetwork"
    return None


@rule
def linux_agent_config(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    if vm.os != "linux":
        return None
    from remediate.lab.linux.host import root_dir
    from remediate.lab.linux.model import file_text

    path = root_dir(vm.state) / "etc" / "waagent.conf"
    text = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else file_text((machine.get("files") or {}).get("/etc/waagent.conf"))
    )
    for line in (text or "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "Extensions.Enabled" and value.strip().lower() in ("n", "no", "false"):
            return "GuestAgentSnapshotTaskStatusError"
    return None


@rule
def selinux(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    se = machine.get("selinux") or {}
    enforcing = vm.os == "linux" and se.get("installed") and se.get("mode") == "Enforcing"
    if enforcing and (se.get("labels") or {}).get("/var/lib/waagent") not in (None, "waagent_var_lib_t"):
        return "UserErrorVmNotInDesirableState"
    return None


@rule
def restore_points(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    if _collection_full(arm, vm) and _cleanup_blocked(arm):
        return "UserErrorRpCollectionLimitReached"
    return None


@rule
def key_vault(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    name = vm.facts.get("key_vault")
    if not name:
        return None
    for kv in arm.settings().get("key_vaults") or []:
        if kv["name"].lower() == str(name).lower():
            for policy in kv.get("access_policies") or []:
                keys = {p.lower() for p in (policy.get("permissions") or {}).get("keys") or []}
                secrets = {p.lower() for p in (policy.get("permissions") or {}).get("secrets") or []}
                if (
                    policy.get("objectId") == kv.get("backup_object_id", BACKUP_MANAGEMENT_SERVICE)
                    and {"get", "list"} <= secrets
                    and {"backup", "get", "list"} <= keys
                ):
                    return None
    return "UserErrorKeyvaultPermissionsNotConfigured"


@rule
def windows_guest(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    if vm.os != "windows":
        return None
    from remediate.lab.windows.vssadmin import effective_writer

    services = _services(machine)
    if (services.get("vss") or {}).get("broken"):
        return "ExtensionFailedVssServiceInBadState"
    for volume in machine.get("bitlocker") or []:
        if volume.get("lock_status") == "Locked":
            return "ExtensionSnapshotBitlockerError"
    if (machine.get("machinekeys") or {}).get("sddl", MACHINEKEYS_DEFAULT) != MACHINEKEYS_DEFAULT:
        return "ExtensionConfigParsingFailure"
    if not (machine.get("msiexec") or {}).get("registered", True):
        return "ExtensionVCRedistInstallationFailure"
    net4 = (machine.get("registry") or {}).get("HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319") or {}
    strong = net4.get("SchUseStrongCrypto") or {}
    if strong.get("type") != "REG_DWORD" or strong.get("data") != 1:
        return "ExtensionSnapshotFailedNoSecureNetwork"
    if (machine.get("msdtc") or {}).get("broken") or (services.get("comsysapp") or {}).get("status") != "Running":
        return "ExtensionSnapshotFailedCOM"
    now = time.time()
    for writer in machine.get("vss_writers") or []:
        state, _error = effective_writer(machine, writer, now)
        if state != 1:
            return "ExtensionFailedVssWriterInBadState"
    return None


@rule
def linux_freeze(arm: ARM, vm: VM, machine: dict[str, Any]) -> str | None:
    if vm.os != "linux":
        return None
    for mount in machine.get("mounts") or []:
        if mount.get("fstype") not in ("ext4", "ext3", "xfs") or not mount.get("mounted", True):
            continue
        if mount.get("target") in ("/mnt", "/mnt/resource"):
            continue  # the resource disk is not backed up
        if mount.get("state") not in (None, "clean") or mount.get("freeze_fails") or mount.get("frozen"):
            return "UserErrorFsFreezeFailed"
    return None


def _collection(arm: ARM, vm: VM) -> dict[str, Any] | None:
    for rpc in arm.settings().get("restore_point_collections") or []:
        if str(rpc.get("vm", "")).lower() == vm.name.lower():
            return rpc
    return None


def _collection_full(arm: ARM, vm: VM) -> bool:
    rpc = _collection(arm, vm)
    return rpc is not None and len(rpc.get("restore_points") or []) >= RESTORE_POINT_LIMIT


def _cleanup_blocked(arm: ARM) -> bool:
    """A lock on the restore point collection's resource group (AzureBackupRG_*) keeps Backup from cleaning."""
    groups = {str(r.get("resource_group", "")).lower() for r in arm.settings().get("restore_point_collections") or []}
    return any(str(lock.get("resource_group", "")).lower() in groups for lock in arm.settings().get("locks") or [])


def backup_error(arm: ARM, vm: VM) -> str | None:
    """The page's error code a backup of ``vm`` fails with now, or None when it succeeds."""
    machine = vm.data.get("machine") or {}
    for check in RULES:
        code = check(arm, vm, machine)
        if code:
            return code
    return None


def message_of(code: str) -> tuple[str, list[str]]:
    """The page's English message and documented action for a code (the job's errorString, recommendations)."""
    from remediate import diagnose

    for row in diagnose.rows():
        if code in row.codes:
            messages = row.messages.get("en") or (row.title,)
            return str(messages[0]), [row.action]
    return code, []
