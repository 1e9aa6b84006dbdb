"""``remediate lab ...``: start, stop, inspect and break the lab's simulated hosts."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

READY = "ready"
PIDFILE = "lab.pid"


def main(args: argparse.Namespace) -> int:
    return {
        "up": _up,
        "serve": _serve,
        "down": _down,
        "show": _show,
        "break": _break,
        "machines": _machines,
        "log": _log,
    }[args.lab_verb](args)


def _running_pid(directory: Path) -> int | None:
    pidfile = directory / PIDFILE
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (ValueError, ProcessLookupError, PermissionError):
        return None


def _create_hosts(args: argparse.Namespace) -> None:
    from remediate.lab import Lab

    directory = Path(args.dir)
    lab = Lab(directory)
    for old in [*lab.hosts_dir.glob("*.yml"), lab.azure_file, lab.dir / "arm-requests.jsonl"]:
        old.unlink(missing_ok=True)
    # Without --language, the first host keeps its machine's language (en-US unless the machine says otherwise)
    # and the next is Japanese, so that the demo shows a non-English VM too.
    languages = args.language or [None, "ja-JP"]
    for i in range(args.windows):
        lab.add_windows(f"win{i + 1:02d}", machine=args.windows_machine, language=languages[i % len(languages)])
    for i in range(args.linux):
        lab.add_linux(f"lin{i + 1:02d}", machine=args.linux_machine)
    if getattr(args, "azure", False):
        lab.enable_azure()


def _up(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    pid = _running_pid(directory)
    if pid:
        print(f"a lab is already running from {directory} (pid {pid}); `remediate lab down` stops it", file=sys.stderr)
        return 1
    _create_hosts(args)
    if not args.detach:
        return _serve(args)
    (directory / READY).unlink(missing_ok=True)
    logfile = open(directory / "lab.log", "ab")  # noqa: SIM115 - handed to the child
    # The child starts in the lab directory with absolute paths: `python -m` puts the working directory first on
    # sys.path, and a user's own folder named `lab` or `inventory` there must not shadow our packages.
    directory = directory.resolve()
    cmd = [sys.executable, "-m", "remediate.cli", "lab", "serve", "--dir", str(directory)]
    cmd += ["--inventory", str(Path(args.inventory).resolve())]
    proc = subprocess.Popen(
        cmd, stdout=logfile, stderr=logfile, stdin=subprocess.DEVNULL, start_new_session=True, cwd=directory
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (directory / READY).exists():
            print((directory / READY).read_text(encoding="utf-8"), end="")
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    print(f"the lab did not start; see {directory / 'lab.log'}", file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace) -> int:
    from remediate.lab import Lab

    directory = Path(args.dir)
    lab = Lab(directory)
    if not lab.names():
        print(f"no lab hosts in {directory}; run `remediate lab up`", file=sys.stderr)
        return 1
    lab.start()
    inventory = lab.write_inventory(args.inventory)
    lines = [f"lab: {len(lab.names())} host(s) on 127.0.0.1, state in {lab.hosts_dir}"]
    for h in lab.hosts():
        data = lab.state(h.name).read()
        lang = data.get("machine", {}).get("language", "")
        lines.append(f"  {h.name:<8} {h.os:<8} {h.transport:<6} port {h.port:<6} {lang}")
    lines.append(f"inventory: {inventory}")
    lines.append(f"try: remediate -i {inventory} vss-writers --dry-run")
    if lab.azure_file.exists():
        lines.append(f"azure: {lab.azure_config} (the lab's ARM endpoint; its VMs are these hosts)")
        lines.append(f"try: remediate azure failed-backups --azure-config {lab.azure_config} -i {inventory}")
    text = "\n".join(lines) + "\n"
    (directory / PIDFILE).write_text(str(os.getpid()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    (directory / READY).write_text(text, encoding="utf-8")
    if not getattr(args, "detach", False):
        print(text + "serving; Ctrl-C stops the lab", end="", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
        (directory / READY).unlink(missing_ok=True)
        (directory / PIDFILE).unlink(missing_ok=True)
    return 0


def _down(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    pid = _running_pid(directory)
    if not pid:
        print(f"no lab running from {directory}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _running_pid(directory):
        time.sleep(0.1)
    if _running_pid(directory):
        os.kill(pid, signal.SIGKILL)
    print(f"lab stopped (pid {pid})")
    return 0


def _show(args: argparse.Namespace) -> int:
    from remediate.lab import Lab
    from remediate.lab.state import dump_yaml
    from remediate.lab.summary import summarize_host

    try:
        data = Lab(args.dir).state(args.host).read()
    except KeyError as exc:
        print(f"remediate: error: {exc.args[0]}", file=sys.stderr)
        return 1
    output = getattr(args, "output", "text")
    if output == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    elif output == "yaml":
        print(dump_yaml(data), end="")
    else:
        print(summarize_host(data), end="")
    return 0


def _break(args: argparse.Namespace) -> int:
    from remediate.lab import Lab

    try:
        Lab(args.dir).replace_machine(args.host, args.machine)
    except (KeyError, ValueError) as exc:
        print(f"remediate: error: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"{args.host} now has exactly the {args.machine} machine")
    return 0


def _machines(args: argparse.Namespace) -> int:
    import shutil

    from remediate.lab import load_yaml, machine_description, ready_made_machines

    machines = ready_made_machines()
    width = max(len(name) for name in machines)
    room = max(30, shutil.get_terminal_size((120, 20)).columns - width - 12)
    print(f"{'MACHINE':<{width}}  {'OS':<8}  DESCRIPTION")
    for name, path in machines.items():
        spec = load_yaml(path) or {}
        text = machine_description(name)
        if len(text) > room:
            text = text[: room - 3] + "..."
        print(f"{name:<{width}}  {spec.get('os', '?'):<8}  {text}")
    return 0


def _log(args: argparse.Namespace) -> int:
    from remediate.lab import Lab
    from remediate.lab.state import redact
    from remediate.lab.summary import summarize_log

    entries = [redact(e) for e in Lab(args.dir).oplog.entries(args.host)]  # a log written before masking too
    if getattr(args, "output", "text") == "json":
        for entry in entries:
            print(json.dumps(entry, ensure_ascii=False))
    else:
        print(summarize_log(entries), end="")
    return 0
