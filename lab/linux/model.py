"""The Linux state model of a lab host.

A lab Linux host is the ``machine`` section of its state file (see :func:`default_machine`). Our sh scripts run
in a real ``/bin/sh``; the machine's commands (``findmnt``, ``tune2fs``, ``systemctl``, ``waagent``, ``ip``,
``curl``, ...) are the shims in ``lab/linux/shims/`` (implemented in :mod:`lab.linux.commands`), which answer
from this model and change it.

Files. The host's file system root is ``HOSTDIR/root``: ``/etc/waagent.conf`` of the VM is
``HOSTDIR/root/etc/waagent.conf`` in the lab. The model's ``files`` section gives each file's first content
(``text``, or ``template`` + ``set`` for waagent.conf); it is written once, when the host first runs a command.
Scripts take such paths as arguments whose defaults are the real paths; the lab inventory supplies the lab paths
(:func:`lab.linux.host.host_vars`), so the scripts are the ones that run on a real VM.

Mounts. Each entry of ``mounts`` is ``{device, target, fstype, options}`` plus the model's facts:
``mounted`` (default true), ``state`` (tune2fs' ``Filesystem state``: ``clean``, ``not clean``, ``clean with
errors``), ``errors`` (``Continue``, ``Remount read-only``, ``Panic``), ``busy`` (in use: umount fails, fuser
reports it), ``fsck_fixes`` (default true: fsck makes it clean), ``freeze_fails`` and ``frozen``. An entry with
``real: {loop, dir, image}`` is backed by a real image on a real loop device mounted under the host directory;
the shims then run the real e2fsprogs/mount/umount/fsfreeze on that loop device only.

Network. ``routes`` are ``{prefix, next_hop, dev}`` (``prefix`` ``default`` or CIDR; a ``type`` of
``blackhole``/``unreachable`` drops). A target ``IP:PORT`` is reachable when the longest-prefix route for the IP
(any of them, where routes sit side by side) goes through one of ``working_gateways``
(every gateway works when the list is absent) or is on-link and ``reachable`` does not say ``false`` for it.
``dns`` maps a name to an address, or to null for a name that does not resolve; unlisted names resolve.
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

FILES_DIR = Path(__file__).parent / "files"
RESOURCE_DISK_TARGETS = ("/mnt", "/mnt/resource")


def default_machine() -> dict[str, Any]:
    """A healthy Ubuntu 22.04 Azure VM: every Linux remediation finds nothing to change on it."""
    return {
        "hostname": "lin01",
        "distro": {"id": "ubuntu", "version": "22.04"},
        "mounts": [
            _mount("/dev/sda1", "/", "ext4", "rw,relatime,discard,errors=remount-ro", busy=True),
            _mount("/dev/sda15", "/boot/efi", "vfat", "rw,relatime,fmask=0077,dmask=0077", state=None),
            _mount("/dev/sdb1", "/mnt", "ext4", "rw,relatime,x-systemd.requires=cloud-init.service"),
            _mount("/dev/loop0", "/snap/core20/2015", "squashfs", "ro,nodev,relatime", state=None),
            _mount("/dev/sdc1", "/data", "ext4", "rw,relatime"),
            _mount("/dev/sdd1", "/logs", "xfs", "rw,relatime,attr2,inode64,logbufs=8,logbsize=32k,noquota"),
        ],
        "files": {
            "/etc/waagent.conf": {"template": "waagent.conf", "set": {}},
            "/etc/azure/vmbackup.conf": None,  # absent on a fresh VM
        },
        "services": {
            "walinuxagent": {"load": "loaded", "active": "active", "sub": "running", "start_fails": False},
        },
        "waagent": {"package_version": "2.2.45", "goal_state_version": "2.9.1.1", "python": "3.10.12"},
        "selinux": {
            "installed": False,
            "mode": "Disabled",
            "fcontext": [],  # local customizations: {pattern, type}
            "labels": {"/var/lib/waagent": "var_lib_t"},
            "permissive": [],
        },
        "network": {
            "interfaces": [{"name": "eth0", "ipv4": "10.0.0.4/24", "dhcp": True}],
            "routes": [
                {"prefix": "default", "next_hop": "10.0.0.1", "dev": "eth0"},
                {"prefix": "10.0.0.0/24", "next_hop": None, "dev": "eth0"},
                {"prefix": "168.63.129.16/32", "next_hop": "10.0.0.1", "dev": "eth0"},
                {"prefix": "169.254.169.254/32", "next_hop": "10.0.0.1", "dev": "eth0"},
            ],
            "working_gateways": ["10.0.0.1"],
            "reachable": {},
            "dns": {},
        },
    }


def _mount(device: str, target: str, fstype: str, options: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"device": device, "target": target, "fstype": fstype, "options": options}
    entry.update({"mounted": True, "state": "clean", "errors": "Continue", "busy": False})
    entry.update(extra)
    return entry


def file_text(spec: Any) -> str | None:
    """The first content of a modelled file, or None when it is absent."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec
    if "text" in spec:
        return spec["text"]
    text = (FILES_DIR / spec["template"]).read_text(encoding="utf-8")
    return set_conf_values(text, spec.get("set") or {})


def set_conf_values(text: str, values: dict[str, Any]) -> str:
    """``Key=value`` lines changed in place (or appended); ``None`` removes the key's line."""
    lines = text.splitlines(keepends=True)
    for key, value in values.items():
        found = False
        for i, line in enumerate(lines):
            if line.split("=", 1)[0].strip() == key and not line.lstrip().startswith("#"):
                found = True
                lines[i] = "" if value is None else f"{key}={value}\n"
        if not found and value is not None:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines.append(f"{key}={value}\n")
    return "".join(lines)


# -- network ---------------------------------------------------------------------------------------------------
def route_network(prefix: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network("0.0.0.0/0" if prefix == "default" else prefix, strict=False)


def lookup_routes(network: dict[str, Any], ip: str) -> list[dict[str, Any]]:
    """The longest-prefix routes for ``ip`` (several when a system keeps routes side by side, as Windows does)."""
    addr = ipaddress.IPv4Address(ip)
    best: list[dict[str, Any]] = []
    length = -1
    for route in network.get("routes", []):
        net = route_network(route["prefix"])
        if addr in net:
            if net.prefixlen > length:
                best, length = [route], net.prefixlen
            elif net.prefixlen == length:
                best.append(route)
    return best


def route_works(network: dict[str, Any], route: dict[str, Any]) -> bool:
    if route.get("type") in ("blackhole", "unreachable", "prohibit"):
        return False
    hop = route.get("next_hop")
    if hop in (None, "", "0.0.0.0"):
        return True  # on-link
    gateways = network.get("working_gateways")
    return gateways is None or hop in gateways


def reachable(network: dict[str, Any], target: str) -> bool:
    """Whether ``IP:PORT`` (or ``NAME:PORT``) answers, by the model's routes and its ``reachable`` table."""
    if network.get("reachable", {}).get(target) is False:
        return False
    host = target.rsplit(":", 1)[0]
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        resolved = resolve(network, host)
        if resolved is None:
            return False
        host = resolved
    return any(route_works(network, r) for r in lookup_routes(network, host))


def resolve(network: dict[str, Any], name: str) -> str | None:
    dns = network.get("dns") or {}
    if name in dns:
        return dns[name]
    return "20.60.0.4"  # an address of the model only: nothing is ever sent to it


def clone(machine: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(machine)
