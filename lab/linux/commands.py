"""The commands of a lab Linux host, answered from its state model (the shims in ``lab/linux/shims`` call these).

Each command reads the host state file named by ``REMEDIATE_LAB_STATE``, prints what the real command prints
(``LC_ALL=C``), changes the model where the real one changes the machine, and records itself in the lab's
operation log, ``mutating`` only when it changed something. A mount backed by a real loop device
(``real: {loop, dir}``) is handed to the real e2fsprogs/mount/umount/fsfreeze/fuser, on that loop device and
that directory only; nothing else of the machine running the lab is touched. No command sends network traffic:
reachability and name resolution come from the model.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from remediate.lab.linux import model
from remediate.lab.state import HostState, OpLog

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class Ctx:
    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.argv = argv
        self.state = HostState(os.environ["REMEDIATE_LAB_STATE"])
        self.oplog = OpLog(os.environ["REMEDIATE_LAB_OPLOG"])
        self.host = os.environ.get("REMEDIATE_LAB_HOST", self.state.name)
        self.host_dir = os.environ.get("REMEDIATE_LAB_HOSTDIR", str(self.state.path.parent / self.state.name))
        self.recorded = False

    def record(self, mutating: bool, **detail: Any) -> None:
        if not self.recorded:
            self.recorded = True
            self.oplog.record(self.host, " ".join([self.name, *self.argv]), mutating, command=self.name, **detail)

    def machine(self) -> dict[str, Any]:
        return self.state.read()["machine"]


def fail(ctx: Ctx, text: str, code: int = 1, **detail: Any) -> int:
    """A command that changed nothing and failed: recorded as read-only, its message on stderr, its exit code."""
    ctx.record(False, **detail)
    err(text)
    return code


def out(text: str) -> None:
    sys.stdout.write(text)


def err(text: str) -> None:
    sys.stderr.write(text)


# -- mounts ----------------------------------------------------------------------------------------------------
def find_mount(machine: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A mount entry by device or mount point."""
    for entry in machine.get("mounts", []):
        if key in (entry.get("device"), entry.get("target")):
            return entry
    return None


def real_mounted(entry: dict[str, Any]) -> bool:
    real = entry["real"]
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        return any(line.split()[1].replace("\\040", " ") == real["dir"] for line in fh if len(line.split()) > 1)


def is_mounted(entry: dict[str, Any]) -> bool:
    return real_mounted(entry) if entry.get("real") else bool(entry.get("mounted", True))


def lab_device(ctx: Ctx, entry: dict[str, Any]) -> tuple[str, str]:
    """The real loop device and directory of a real-backed mount, after checking both belong to this lab host."""
    real = entry["real"]
    root = os.path.realpath(ctx.host_dir) + os.sep
    loop, directory = real["loop"], os.path.realpath(real["dir"])
    if not re.fullmatch(r"/dev/loop[0-9]+", loop) or not directory.startswith(root):
        raise PermissionError(f"refusing {loop} {directory}: not a lab device of {ctx.host}")
    back = subprocess.run(
        ["losetup", "-n", "-O", "BACK-FILE", loop], capture_output=True, text=True, env=_env(), timeout=30
    ).stdout.strip()
    if not os.path.realpath(back).startswith(root):
        raise PermissionError(f"refusing {loop}: its image {back or '(none)'} is not in {ctx.host_dir}")
    return loop, directory


def _env() -> dict[str, str]:
    return {"PATH": SYSTEM_PATH, "LC_ALL": "C"}


def run_real(argv: list[str], replace: dict[str, str] | None = None) -> int:
    """Run a real command; its output is shown with the lab names in place of the real ones."""
    done = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=300)
    stdout, stderr = done.stdout, done.stderr
    for real, shown in (replace or {}).items():
        stdout, stderr = stdout.replace(real, shown), stderr.replace(real, shown)
    out(stdout)
    err(stderr)
    return done.returncode


def findmnt(ctx: Ctx, args: list[str]) -> int:
    ctx.record(False)
    columns = ["TARGET", "SOURCE", "FSTYPE", "OPTIONS"]
    raw = noheadings = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "--output"):
            columns = args[i + 1].split(",")
            i += 1
        elif a.startswith("-") and not a.startswith("--"):
            raw |= "r" in a
            noheadings |= "n" in a
            if a.endswith("o"):
                columns = args[i + 1].split(",")
                i += 1
        i += 1
    fields = {"SOURCE": "device", "TARGET": "target", "FSTYPE": "fstype", "OPTIONS": "options"}
    rows = [
        [_escape(str(m.get(fields[c.upper()], ""))) for c in columns]
        for m in ctx.machine().get("mounts", [])
        if is_mounted(m)
    ]
    if not noheadings:
        rows.insert(0, [c.upper() for c in columns])
    out("".join(" ".join(r) + "\n" for r in rows))
    return 0 if rows else 1


def _escape(value: str) -> str:
    return "".join(c if c.isprintable() and c not in " \\" else f"\\x{ord(c):02x}" for c in value)


TUNE2FS_BANNER = "tune2fs 1.47.0 (5-Feb-2023)\n"


def tune2fs(ctx: Ctx, args: list[str]) -> int:
    if args[:1] != ["-l"] or len(args) != 2:
        return fail(ctx, "tune2fs (lab): only `tune2fs -l DEVICE` is modelled\n", refused=True)
    ctx.record(False)
    entry = find_mount(ctx.machine(), args[1])
    if entry and entry.get("real"):
        loop, _ = lab_device(ctx, entry)
        return run_real(["tune2fs", "-l", loop], {loop: entry["device"]})
    if entry is None or entry.get("fstype") not in ("ext2", "ext3", "ext4"):
        err(TUNE2FS_BANNER + f"tune2fs: Bad magic number in super-block while trying to open {args[1]}\n")
        return 1
    out(
        TUNE2FS_BANNER
        + f"Filesystem volume name:   <none>\nLast mounted on:          {entry['target']}\n"
        + "Filesystem magic number:  0xEF53\nFilesystem revision #:    1 (dynamic)\n"
        + f"Filesystem state:         {entry.get('state', 'clean')}\n"
        + f"Errors behavior:          {entry.get('errors', 'Continue')}\n"
        + "Filesystem OS type:       Linux\nBlock size:               4096\n"
    )
    return 0


def e2fsck(ctx: Ctx, args: list[str]) -> int:
    device = args[-1] if args else ""
    with ctx.state.edit() as data:
        entry = find_mount(data["machine"], device)
        if entry and entry.get("real"):
            loop, _ = lab_device(ctx, entry)
            ctx.record(True)
            return run_real(["e2fsck", *args[:-1], loop], {loop: entry["device"]})
        if entry is None:
            return fail(ctx, f"e2fsck: No such file or directory while trying to open {device}\n", 8)
        if is_mounted(entry):
            text = f"e2fsck 1.47.0 (5-Feb-2023)\n{device} is mounted.\ne2fsck: Cannot continue, aborting.\n\n\n"
            return fail(ctx, text, 8)
        ctx.record(True)
        out(f"e2fsck 1.47.0 (5-Feb-2023)\n{device}: recovering journal\nPass 1: Checking inodes, blocks, and sizes\n")
        if entry.get("state", "clean") == "clean" and "-f" not in args:
            out(f"{device}: clean, 11/4096 files, 1293/16384 blocks\n")
            return 0
        if entry.get("fsck_fixes", True):
            entry["state"] = "clean"
            out(f"\n{device}: ***** FILE SYSTEM WAS MODIFIED *****\n{device}: 11/4096 files (0.0% non-contiguous)\n")
            return 1
        out(f"\n{device}: ********** WARNING: Filesystem still has errors **********\n\n")
        return 4


def xfs_repair(ctx: Ctx, args: list[str]) -> int:
    device = args[-1] if args else ""
    readonly = "-n" in args
    with ctx.state.edit() as data:
        entry = find_mount(data["machine"], device)
        if entry is None or entry.get("fstype") != "xfs":
            return fail(ctx, f"xfs_repair: {device}: not an XFS file system\n")
        if is_mounted(entry) and not (readonly and "ro" in entry.get("options", "").split(",")):
            ctx.record(False)
            err(
                f"xfs_repair: {device} contains a mounted and writable filesystem\n\nfatal error -- couldn't "
                "initialize XFS library\n"
            )
            return 1
        ctx.record(not readonly)
        out("Phase 1 - find and verify superblock...\nPhase 2 - using internal log\n")
        if entry.get("state", "clean") == "clean":
            out("No modify flag set, skipping filesystem flush and exiting.\n" if readonly else "done\n")
            return 0
        if readonly:
            out("would have reset inode 131 nlinks from 2 to 1\nNo modify flag set, skipping filesystem flush.\n")
            return 1
        if entry.get("fsck_fixes", True):
            entry["state"] = "clean"
            out("done\n")
            return 0
        err("fatal error -- xfs_repair could not repair the filesystem\n")
        return 1


def mount(ctx: Ctx, args: list[str]) -> int:
    options, rest = None, []
    i = 0
    while i < len(args):
        if args[i] == "-o":
            options = args[i + 1]
            i += 1
        elif not args[i].startswith("-"):
            rest.append(args[i])
        i += 1
    if len(rest) != 2:
        return fail(ctx, "mount (lab): only `mount [-o OPTIONS] DEVICE TARGET` is modelled\n", refused=True)
    device, target = rest
    with ctx.state.edit() as data:
        entry = find_mount(data["machine"], device)
        if entry is None or entry.get("target") != target:
            return fail(ctx, f"mount: {target}: special device {device} does not exist.\n", 32)
        if is_mounted(entry):
            return fail(ctx, f"mount: {target}: {device} already mounted on {target}.\n", 32)
        ctx.record(True)
        if entry.get("real"):
            loop, directory = lab_device(ctx, entry)
            opts = ["-o", options] if options else []
            return run_real(["mount", *opts, loop, directory], {loop: device, directory: target})
        entry["mounted"] = True
        if options:
            entry["options"] = options
        return 0


def umount(ctx: Ctx, args: list[str]) -> int:
    target = args[-1] if args else ""
    with ctx.state.edit() as data:
        entry = find_mount(data["machine"], target)
        if entry is None or not is_mounted(entry):
            return fail(ctx, f"umount: {target}: not mounted.\n", 32)
        if entry.get("real"):
            ctx.record(True)
            _loop, directory = lab_device(ctx, entry)
            return run_real(["umount", directory], {directory: entry["target"]})
        if entry.get("busy"):
            return fail(ctx, f"umount: {entry['target']}: target is busy.\n", 32)
        ctx.record(True)
        entry["mounted"] = False
        return 0


def fsfreeze(ctx: Ctx, args: list[str]) -> int:
    if len(args) != 2 or args[0] not in ("-f", "-u", "--freeze", "--unfreeze"):
        return fail(ctx, "fsfreeze (lab): only `fsfreeze -f|-u MOUNTPOINT` is modelled\n", refused=True)
    freeze = args[0] in ("-f", "--freeze")
    with ctx.state.edit() as data:
        entry = find_mount(data["machine"], args[1])
        if entry is None or not is_mounted(entry):
            return fail(ctx, f"fsfreeze: cannot open {args[1]}: No such file or directory\n")
        if entry.get("real"):
            ctx.record(True)
            _loop, directory = lab_device(ctx, entry)
            return run_real(["fsfreeze", args[0], directory], {directory: entry["target"]})
        if freeze and (entry.get("freeze_fails") or entry.get("frozen")):
            ctx.record(False)
            why = "Device or resource busy" if entry.get("frozen") else "Operation not supported"
            err(f"fsfreeze: {entry['target']}: freeze failed: {why}\n")
            return 1
        if not freeze and not entry.get("frozen"):
            return fail(ctx, f"fsfreeze: {entry['target']}: unfreeze failed: Invalid argument\n")
        ctx.record(True)
        entry["frozen"] = freeze
        return 0


def fuser(ctx: Ctx, args: list[str]) -> int:
    ctx.record(False)
    target = args[-1] if args else ""
    entry = find_mount(ctx.machine(), target)
    if entry is None:
        err(f"Cannot stat {target}: No such file or directory\n")
        return 1
    if entry.get("real"):
        _loop, directory = lab_device(ctx, entry)
        return run_real(["fuser", *args[:-1], directory], {directory: entry["target"]})
    if entry.get("busy"):
        err(f"{target}:")
        out(" 1 812 1044")
        err("\n")
        return 0
    return 1


# -- services and the agent ------------------------------------------------------------------------------------
def _unit(name: str) -> str:
    return name[: -len(".service")] if name.endswith(".service") else name


def systemctl(ctx: Ctx, args: list[str]) -> int:
    words = [a for a in args if not a.startswith("-")]
    props = [args[i + 1] for i, a in enumerate(args) if a == "-p" and i + 1 < len(args)]
    words = [w for w in words if w not in props]
    if not words:
        return fail(ctx, "systemctl (lab): a verb is needed\n", refused=True)
    verb, units = words[0], [_unit(u) for u in words[1:]]
    if verb in ("show", "is-active", "status"):
        ctx.record(False)
        services = ctx.machine().get("services", {})
        rc = 0
        for unit in units:
            svc = services.get(unit)
            if verb == "show":
                values = {
                    "Id": f"{unit}.service",
                    "LoadState": svc.get("load", "loaded") if svc else "not-found",
                    "ActiveState": svc.get("active", "inactive") if svc else "inactive",
                    "SubState": svc.get("sub", "dead") if svc else "dead",
                    "UnitFileState": svc.get("unit_file_state", "enabled") if svc else "",
                }
                wanted = [p for ps in props for p in ps.split(",")] or list(values)
                out("".join(f"{k}={values.get(k, '')}\n" for k in wanted))
            else:
                state = svc.get("active", "inactive") if svc else "inactive"
                out(state + "\n")
                if state != "active":
                    rc = 3 if svc else 4
        return rc
    if verb in ("start", "restart", "stop"):
        with ctx.state.edit() as data:
            services = data["machine"].setdefault("services", {})
            for unit in units:
                svc = services.get(unit)
                if svc is None or svc.get("load", "loaded") != "loaded":
                    return fail(ctx, f"Failed to {verb} {unit}.service: Unit {unit}.service not found.\n", 5)
                ctx.record(True)
                if verb == "stop":
                    svc.update(active="inactive", sub="dead")
                elif svc.get("start_fails") or _agent_refuses_conf(ctx, unit):
                    svc.update(active="failed", sub="failed")
                    err(
                        f"Job for {unit}.service failed because the control process exited with error code.\n"
                        f'See "systemctl status {unit}.service" and "journalctl -xeu {unit}.service" for details.\n'
                    )
                    return 1
                else:
                    svc.update(active="active", sub="running")
        return 0
    return fail(ctx, f"systemctl (lab): verb {verb!r} is not modelled\n", refused=True)


AGENT_UNITS = ("walinuxagent", "waagent")


def _agent_refuses_conf(ctx: Ctx, unit: str) -> bool:
    """WALinuxAgent exits at start on a configuration it cannot load: an empty file ("Can't not parse empty
    configuration", conf.py) or one that is not UTF-8 (it decodes the file strictly)."""
    if unit not in AGENT_UNITS:
        return False
    from remediate.lab.linux.host import root_dir

    path = root_dir(ctx.state) / "etc/waagent.conf"
    try:
        data = path.read_bytes()
    except OSError:
        return False  # a missing file: the agent starts with its defaults
    if not data:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def waagent(ctx: Ctx, args: list[str]) -> int:
    ctx.record(False)
    if not any(a in ("--version", "-version") for a in args):
        err("waagent (lab): only --version is modelled\n")
        return 1
    machine = ctx.machine()
    agent = machine.get("waagent") or {}
    if not agent:
        err("sh: 1: waagent: not found\n")
        return 127
    distro = machine.get("distro", {})
    out(
        f"WALinuxAgent-{agent['package_version']} running on {distro.get('id', 'ubuntu')} "
        f"{distro.get('version', '')}\nPython: {agent.get('python', '3.10.12')}\n"
    )
    if agent.get("goal_state_version"):
        out(f"Goal state agent: {agent['goal_state_version']}\n")
    return 0


# -- SELinux ---------------------------------------------------------------------------------------------------
def _selinux(ctx: Ctx) -> dict[str, Any] | None:
    sel = ctx.machine().get("selinux") or {}
    return sel if sel.get("installed") else None


def getenforce(ctx: Ctx, args: list[str]) -> int:
    ctx.record(False)
    sel = _selinux(ctx)
    if sel is None:
        err("getenforce: command not found\n")
        return 127
    out(sel.get("mode", "Disabled") + "\n")
    return 0


def _context(type_: str) -> str:
    return f"system_u:object_r:{type_}:s0"


def semanage(ctx: Ctx, args: list[str]) -> int:
    if _selinux(ctx) is None:
        return fail(ctx, "semanage: command not found\n", 127)
    if args[:1] != ["fcontext"]:
        return fail(ctx, "semanage (lab): only fcontext is modelled\n", refused=True)
    rest = args[1:]
    if "-l" in rest:
        ctx.record(False)
        out(f"{'SELinux fcontext':<50}{'type':<18}Context\n\n")
        for fc in ctx.machine()["selinux"].get("fcontext", []):
            out(f"{fc['pattern']:<50}{'all files':<18}{_context(fc['type'])}\n")
        return 0
    pattern = rest[-1] if rest else ""
    with ctx.state.edit() as data:
        sel = data["machine"]["selinux"]
        entries = sel.setdefault("fcontext", [])
        exists = any(fc["pattern"] == pattern for fc in entries)
        if "-a" in rest:
            type_ = rest[rest.index("-t") + 1] if "-t" in rest else ""
            if exists:
                return fail(ctx, f"ValueError: File context for {pattern} already defined\n")
            ctx.record(True)
            entries.append({"pattern": pattern, "type": type_})
            return 0
        if "-m" in rest:
            type_ = rest[rest.index("-t") + 1] if "-t" in rest else ""
            if not exists:
                return fail(ctx, f"ValueError: File context for {pattern} is not defined\n")
            ctx.record(True)
            for fc in entries:
                if fc["pattern"] == pattern:
                    fc["type"] = type_
            return 0
        if "-d" in rest:
            if not exists:
                return fail(ctx, f"ValueError: File context for {pattern} is not defined\n")
            ctx.record(True)
            entries[:] = [fc for fc in entries if fc["pattern"] != pattern]
            return 0
    return fail(ctx, "semanage (lab): fcontext -l, -a or -d\n", refused=True)


DEFAULT_TYPES = {"/var/lib/waagent": "var_lib_t"}


def restorecon(ctx: Ctx, args: list[str]) -> int:
    if _selinux(ctx) is None:
        return fail(ctx, "restorecon: command not found\n", 127)
    dry = "-n" in args or any(a.startswith("-") and "n" in a and not a.startswith("--") for a in args)
    verbose = any(a.startswith("-") and "v" in a for a in args)
    paths = [a for a in args if not a.startswith("-")]
    with ctx.state.edit() as data:
        sel = data["machine"]["selinux"]
        labels = sel.setdefault("labels", {})
        changed = False
        for path in paths:
            for labelled in sorted(p for p in labels if p == path or p.startswith(path.rstrip("/") + "/")):
                want = DEFAULT_TYPES.get(labelled, "default_t")
                for fc in sel.get("fcontext", []):
                    if re.fullmatch(fc["pattern"], labelled):
                        want = fc["type"]
                have = labels[labelled]
                if have != want:
                    if verbose:
                        verb = "Would relabel" if dry else "Relabeled"
                        out(f"{verb} {labelled} from {_context(have)} to {_context(want)}\n")
                    if not dry:
                        labels[labelled] = want
                        changed = True
        ctx.record(changed)
    return 0


# -- network ---------------------------------------------------------------------------------------------------
def _net(ctx: Ctx) -> dict[str, Any]:
    return ctx.machine().get("network") or {}


def _route_line(route: dict[str, Any], src: str | None) -> str:
    prefix = route["prefix"]
    if prefix.endswith("/32"):
        prefix = prefix[:-3]
    if route.get("type"):
        return f"{route['type']} {prefix}"
    parts = [prefix]
    if route.get("next_hop"):
        parts += ["via", route["next_hop"]]
    parts += ["dev", route.get("dev", "eth0")]
    if route.get("next_hop"):
        parts += ["proto", route.get("proto", "static")]
    else:
        parts += ["proto", "kernel", "scope", "link"]
    if src:
        parts += ["src", src]
    return " ".join(parts)


def ip(ctx: Ctx, args: list[str]) -> int:
    words = [a for a in args if a not in ("-4", "-o", "-oneline")]
    if words[:1] in (["route"], ["r"], ["ro"]) and (len(words) == 1 or words[1] in ("show", "list", "ls")):
        ctx.record(False)
        net = _net(ctx)
        src = {i["name"]: i["ipv4"].split("/")[0] for i in net.get("interfaces", [])}
        for route in net.get("routes", []):
            out(_route_line(route, src.get(route.get("dev", "eth0"))) + "\n")
        return 0
    if words[:1] in (["addr"], ["a"], ["address"]):
        ctx.record(False)
        for n, iface in enumerate(_net(ctx).get("interfaces", []), start=2):
            net = model.route_network(iface["ipv4"])
            dyn = " dynamic" if iface.get("dhcp") else ""
            life = "3600sec" if iface.get("dhcp") else "forever"
            out(
                f"{n}: {iface['name']}    inet {iface['ipv4']} brd {net.broadcast_address} scope global{dyn} "
                f"{iface['name']}\\       valid_lft {life} preferred_lft {life}\n"
            )
        return 0
    if words[:1] == ["route"] and len(words) >= 3 and words[1] in ("replace", "add", "del", "delete"):
        verb, rest = words[1], words[2:]
        prefix = rest[0]
        opts = dict(zip(rest[1::2], rest[2::2], strict=False))
        try:
            net = model.route_network(prefix)
        except ValueError:
            return fail(ctx, f'Error: any valid prefix is expected rather than "{prefix}".\n')
        canonical = "default" if net.prefixlen == 0 else str(net)
        with ctx.state.edit() as data:
            routes = data["machine"]["network"].setdefault("routes", [])
            same = [r for r in routes if model.route_network(r["prefix"]) == net]
            if verb in ("del", "delete"):
                match = [r for r in same if "via" not in opts or r.get("next_hop") == opts["via"]]
                if not match:
                    return fail(ctx, "RTNETLINK answers: No such process\n", 2)
                ctx.record(True)
                routes.remove(match[0])
                return 0
            if verb == "add" and same:
                return fail(ctx, "RTNETLINK answers: File exists\n", 2)
            new = {"prefix": canonical, "next_hop": opts.get("via"), "dev": opts.get("dev", "eth0")}
            if same and all(r == new for r in same):
                ctx.record(False)
                return 0
            ctx.record(True)
            for r in same:
                routes.remove(r)
            routes.append(new)
            return 0
    return fail(ctx, f"ip (lab): {' '.join(args)} is not modelled\n", refused=True)


def curl(ctx: Ctx, args: list[str]) -> int:
    """Answers from the model only: the lab never sends a packet anywhere."""
    ctx.record(False)
    urls = [a for a in args if re.match(r"^(https?|telnet)://", a)]
    if not urls:
        err("curl: (2) no URL specified\n")
        return 2
    m = re.match(r"^(\w+)://([^/:?]+)(?::(\d+))?", urls[0])
    assert m is not None
    scheme, host, port = m.group(1), m.group(2), m.group(3)
    port = port or {"http": "80", "https": "443"}.get(scheme, "23")
    net = _net(ctx)
    show = "-S" in args or any(a.startswith("-") and not a.startswith("--") and "S" in a for a in args)
    if not re.fullmatch(r"[0-9.]+", host) and model.resolve(net, host) is None:
        if show:
            err(f"curl: (6) Could not resolve host: {host}\n")
        return 6
    if not model.reachable(net, f"{host}:{port}"):
        if show:
            err(f"curl: (28) Failed to connect to {host} port {port} after 5001 ms: Timeout was reached\n")
        return 28
    return 0


def getent(ctx: Ctx, args: list[str]) -> int:
    ctx.record(False)
    if len(args) != 2 or args[0] not in ("hosts", "ahostsv4", "ahosts"):
        err("getent (lab): only `getent hosts NAME` is modelled\n")
        return 1
    address = model.resolve(_net(ctx), args[1])
    if address is None:
        return 2
    out(f"{address:<15} {args[1]}\n")
    return 0


def sudo(ctx: Ctx, args: list[str]) -> int:
    """The lab user may do anything: run the command without asking."""
    while args and args[0].startswith("-"):
        args = args[1:]
    if not args:
        return 1
    os.execvp(args[0], args)
    return 127  # not reached


AGENT_PACKAGES = ("walinuxagent", "WALinuxAgent", "python-azure-agent")


def package_manager(ctx: Ctx, args: list[str]) -> int:
    """apt-get, dnf, yum, zypper: only an update of the agent's package is modelled (``waagent.available``)."""
    if not any(p in args for p in AGENT_PACKAGES):
        return fail(ctx, f"{ctx.name} (lab): only an update of the agent's package is modelled\n", 100, refused=True)
    with ctx.state.edit() as data:
        agent = data["machine"].setdefault("waagent", {})
        available = agent.get("available_version") or agent.get("package_version")
        if agent.get("update_fails"):
            text = "E: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?\n"
            return fail(ctx, text, 100)
        ctx.record(available != agent.get("package_version"))
        agent["package_version"] = available
        agent["goal_state_version"] = agent.get("goal_state_version") or None
        out(f"walinuxagent is already the newest version ({available}).\n")
    return 0


COMMANDS: dict[str, Callable[[Ctx, list[str]], int]] = {
    "findmnt": findmnt,
    "tune2fs": tune2fs,
    "e2fsck": e2fsck,
    "fsck.ext4": e2fsck,
    "xfs_repair": xfs_repair,
    "mount": mount,
    "umount": umount,
    "fsfreeze": fsfreeze,
    "fuser": fuser,
    "systemctl": systemctl,
    "waagent": waagent,
    "getenforce": getenforce,
    "semanage": semanage,
    "restorecon": restorecon,
    "ip": ip,
    "curl": curl,
    "getent": getent,
    "apt-get": package_manager,
    "dnf": package_manager,
    "yum": package_manager,
    "zypper": package_manager,
}


def main(argv0: str) -> int:
    name = os.path.basename(argv0)
    args = sys.argv[1:]
    if name == "sudo":
        return sudo(None, args)  # type: ignore[arg-type]
    ctx = Ctx(name, args)
    try:
        return COMMANDS[name](ctx, args)
    except PermissionError as exc:
        return fail(ctx, f"{name} (lab): {exc}\n", refused=True)


if __name__ == "__main__":  # the shims: python3 -S -m remediate.lab.linux.commands SHIM_PATH ARGS...
    sys.argv = sys.argv[1:]
    sys.exit(main(sys.argv[0]))
