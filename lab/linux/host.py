"""A lab Linux host: the environment its commands run in, its files, and its real loop-backed file systems.

The lab's SSH server runs each exec request as ``/bin/sh -c COMMAND`` with :func:`exec_environment`, whose
``PATH`` starts with ``lab/linux/shims``: our real sh scripts run in a real shell and the machine's commands are
the shims (:mod:`lab.linux.commands`) that answer from the host's state file.

Paths: the VM's ``/`` is ``HOSTDIR/root`` (``HOSTDIR`` = the lab's ``hosts/NAME`` directory). Remediations take
the files they edit as parameters defaulting to the real paths; :func:`host_vars` gives the lab's inventory the
lab paths under the same names.

Real file systems: :func:`attach_image` makes a small ext4 image, attaches it to a loop device and mounts it under
``HOSTDIR/mnt``; the model presents it under a virtual device name (``/dev/sdc1``) and mount point (``/data``).
:func:`cleanup` unmounts and detaches every loop device whose image lies in the lab directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from remediate.lab.linux import model
from remediate.lab.state import HostState, OpLog

import remediate

SHIMS_DIR = Path(__file__).resolve().parent / "shims"
# Where the `remediate` package is imported from (a source checkout or site-packages): the shims' import path.
IMPORT_ROOT = Path(remediate.__file__).resolve().parents[1]
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def default_machine() -> dict[str, Any]:
    """A healthy Azure Linux VM model (see :mod:`lab.linux.model`)."""
    return model.default_machine()


def host_dir(state: HostState) -> Path:
    """``hosts/NAME`` beside the state file ``hosts/NAME.yml``."""
    return state.path.parent / state.name


def root_dir(state_or_dir: HostState | Path) -> Path:
    base = host_dir(state_or_dir) if isinstance(state_or_dir, HostState) else Path(state_or_dir)
    return base / "root"


def host_vars(directory: str | Path) -> dict[str, str]:
    """Inventory vars naming the lab paths of the files remediations edit (parameters of the same names)."""
    root = Path(directory) / "root"
    return {
        "waagent_conf": str(root / "etc/waagent.conf"),
        "vmbackup_conf": str(root / "etc/azure/vmbackup.conf"),
    }


def materialize(state: HostState, data: dict[str, Any] | None = None) -> None:
    """Write the modelled files that do not exist yet under ``HOSTDIR/root``."""
    data = data or state.read()
    root = root_dir(state)
    marker = root / ".lab-files"
    if marker.exists():
        return
    for path, spec in (data.get("machine", {}).get("files") or {}).items():
        text = model.file_text(spec)
        target = root / path.lstrip("/")
        if text is not None and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text("written from the model\n", encoding="utf-8")


def exec_environment(state: HostState, oplog: OpLog) -> dict[str, str]:
    """The environment of one exec request on the lab host."""
    data = state.read()
    materialize(state, data)
    hdir = host_dir(state)
    pythonpath = os.pathsep.join(p for p in (str(IMPORT_ROOT), _yaml_root(), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PATH": f"{SHIMS_DIR}:{SYSTEM_PATH}",
        "LC_ALL": "C",
        "LANG": "C",
        "HOME": str(hdir),
        "USER": str(data.get("user") or "azureuser"),
        "LOGNAME": str(data.get("user") or "azureuser"),
        "SHELL": "/bin/sh",
        "TMPDIR": str(_tmp(hdir)),
        "PYTHONPATH": pythonpath,
        "REMEDIATE_LAB_PYTHON": sys.executable,
        "REMEDIATE_LAB_STATE": str(state.path),
        "REMEDIATE_LAB_OPLOG": str(oplog.path),
        "REMEDIATE_LAB_HOST": state.name,
        # Read by the `hostname` shim, which is plain sh: it is on the path of every probe.
        "REMEDIATE_LAB_HOSTNAME": str(data.get("machine", {}).get("hostname") or state.name),
        "REMEDIATE_LAB_HOSTDIR": str(hdir),
    }


def _yaml_root() -> str:
    """Where PyYAML is installed: the shims' Python runs without site processing, so it is named here."""
    import yaml

    return str(Path(yaml.__file__).resolve().parent.parent)


def _tmp(hdir: Path) -> Path:
    tmp = hdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp


# -- real file systems on loop devices --------------------------------------------------------------------------
def loop_devices_available() -> str | None:
    """None when real loop-backed file systems can be used here, else the reason why not."""
    if os.geteuid() != 0:
        return "real file systems need root (loop devices, mount)"
    if not os.path.exists("/dev/loop-control"):
        return "no /dev/loop-control on this machine"
    for tool in ("losetup", "mkfs.ext4", "debugfs", "mount", "umount", "fsfreeze", "tune2fs", "e2fsck"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in SYSTEM_PATH.split(":")):
            return f"{tool} is not installed"
    return None


def _run(*argv: str) -> str:
    env = {"PATH": SYSTEM_PATH, "LC_ALL": "C"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def attach_image(
    state: HostState,
    device: str = "/dev/sdc1",
    target: str = "/data",
    *,
    size: str = "16M",
    dirty: bool = False,
    options: str = "rw,relatime",
) -> dict[str, Any]:
    """A real ext4 file system for the model's ``device``/``target``: image, loop device, mount under HOSTDIR.

    ``dirty`` marks it not clean (``debugfs -w -R "ssv state 0"`` on the unmounted device). Returns the entry.
    """
    reason = loop_devices_available()
    if reason:
        raise RuntimeError(reason)
    hdir = host_dir(state)
    name = target.strip("/").replace("/", "_") or "root"
    image = hdir / "images" / f"{name}.img"
    mnt = hdir / "mnt" / name
    image.parent.mkdir(parents=True, exist_ok=True)
    mnt.mkdir(parents=True, exist_ok=True)
    _run("truncate", "-s", size, str(image))
    _run("mkfs.ext4", "-q", "-F", str(image))
    loop = _run("losetup", "-f", "--show", str(image)).strip()
    try:
        if dirty:
            _run("debugfs", "-w", "-R", "ssv state 0", loop)
        _run("mount", "-o", options, loop, str(mnt))
    except Exception:
        with contextlib.suppress(Exception):
            _run("losetup", "-d", loop)
        raise
    entry = {
        "device": device,
        "target": target,
        "fstype": "ext4",
        "options": options,
        "mounted": True,
        "busy": False,
        "real": {"loop": loop, "dir": str(mnt), "image": str(image)},
    }
    with state.edit() as data:
        mounts = data["machine"].setdefault("mounts", [])
        mounts[:] = [m for m in mounts if m.get("target") != target and m.get("device") != device]
        mounts.append(entry)
    return entry


def _lab_loops(lab_dir: Path) -> list[tuple[str, str]]:
    """``(loop device, image)`` of every loop device whose image file is inside ``lab_dir``."""
    try:
        out = _run("losetup", "-J", "-l")
    except Exception:
        return []
    found = []
    root = str(lab_dir.resolve())
    for dev in json.loads(out or "{}").get("loopdevices") or []:
        back = (dev.get("back-file") or "").replace(" (deleted)", "")
        if back == root or back.startswith(root + os.sep):
            found.append((dev["name"], back))
    return found


def cleanup(lab: Any) -> None:
    """Unmount and detach every real lab file system of ``lab`` (a ``Lab`` or its directory). Never fails."""
    lab_dir = Path(getattr(lab, "dir", lab)).resolve()
    loops = _lab_loops(lab_dir)
    if not loops:
        return
    mounted: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/self/mounts", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) > 1:
                mounted.setdefault(parts[0], parts[1].replace("\\040", " "))
    for loop, _image in loops:
        target = mounted.get(loop)
        if target and target.startswith(str(lab_dir) + os.sep):
            with contextlib.suppress(Exception):
                _run("fsfreeze", "-u", target)
            with contextlib.suppress(Exception):
                _run("umount", target)
        with contextlib.suppress(Exception):
            _run("losetup", "-d", loop)
