"""Fleet over SSH: remediate against a plain fabric ThreadingGroup and Ansible ad hoc, side by side.

    python bench/fleet_ssh.py                                 # 100 lab Linux hosts, the probe (ping), 3 rounds
    python bench/fleet_ssh.py --hosts 500 --reps 2            # the fleet size the runner is designed for
    python bench/fleet_ssh.py --check fs-freeze --hosts 30    # fs-freeze's read-only check

One lab process (``bench/labserver.py``) serves N healthy Linux hosts on 127.0.0.1. Each round runs, as fresh
processes and in a rotated order:

remediate
    ``remediate -i INV fs-freeze --dry-run --forks F`` (or ``remediate ping -i INV``): the read-only
    check of every host (fs-freeze: its one check script, ``check.sh``).
fabric ThreadingGroup
    ``bench/fabric_check.py``: the same scripts (prelude + script, arguments as base64) as one
    ``ThreadingGroup.run()`` per script and per F hosts (a ThreadingGroup runs all its hosts at once, so the
    hosts go in groups of F), with the same key and known_hosts (parsed once, each connection given its host's
    key).
ansible
    ``ansible all -i INV.ini -m raw -a CMD -f F`` over OpenSSH's client (``-c ssh``, Ansible's default; no
    tty, no ControlMaster kept between runs): the same script in one raw command per host, host keys checked
    against the lab's known_hosts.
    Skipped, with the reason, when Ansible is missing or cannot reach the lab.

Every run must see every host healthy, or it counts as a failure, not a time. Printed: the median of each tool,
its ratio to remediate's, and the verdicts against the targets (at least 3x faster than Ansible; no slower than
fabric). The lab's commands run on the same cores as the clients: its fixed cost per host (fs-freeze's check
starts six lab command shims per host) narrows every ratio towards 1; ``--check ping`` shows the tools' own cost.
"""

from __future__ import annotations

import argparse
import base64
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this checkout's packages, whatever is installed

from measure import (
    LabProcess,
    Run,
    Tool,
    environment,
    executable,
    interleave,
    machine_line,
    memory_baseline,
    memory_verdict,
    peer_command,
    peer_problem,
    remediate_command,
    remediate_problem,
    table,
    timed,
    verdict,
    warm_up,
)

CONF_RELATIVE = "root/etc/azure/vmbackup.conf"  # the lab runs each command in the host's directory


def steps_for(check: str) -> list[dict[str, Any]]:
    """The scripts of the check, as the peers send them: stdin (prelude + script) and arguments."""
    from remediate.remediations.fs_freeze import FROZEN_TYPES, RESOURCE_DISK

    from remediate import scripts
    from remediate.operation import read

    if check == "ping":
        op = read("common/probe.sh", echo="pong")
    else:
        frozen, resource = "\n".join(FROZEN_TYPES), "\n".join(RESOURCE_DISK)
        op = read("fs_freeze/check.sh", vmbackup_conf=CONF_RELATIVE, frozen=frozen, resource=resource)
    stdin_b64 = base64.b64encode(scripts.sh_stdin(op)).decode("ascii")
    return [{"script": op.script, "stdin_b64": stdin_b64, "args": [str(v) for v in op.args.values()]}]


def one_command(steps: list[dict[str, Any]]) -> str:
    """Every step in one shell command line (for Ansible's raw): the same scripts, chained."""
    parts = []
    for step in steps:
        tokens = [base64.b64encode(a.encode("utf-8")).decode("ascii") for a in step["args"]]
        parts.append(" ".join(["printf %s", step["stdin_b64"], "| base64 -d | /bin/sh -s --", *tokens]))
    return " && ".join(parts)


# -- the contenders ---------------------------------------------------------------------------------------------------
def remediate_tool(info: dict[str, Any], check: str, forks: int, n: int, timeout: float) -> Tool:
    cmd = remediate_command(info["inventory"], "ping" if check == "ping" else "fs-freeze", forks)
    return Tool("remediate", lambda: timed(cmd, timeout=timeout), lambda run: remediate_problem(run, n))


def fabric_tool(
    info: dict[str, Any], steps: list[dict[str, Any]], forks: int, workdir: Path, n: int, timeout: float
) -> Tool:
    job = {
        "hosts": [{"name": h["name"], "port": h["port"]} for h in info["hosts"] if h["os"] == "linux"],
        "user": info["hosts"][0]["user"],
        "key_file": info["key_file"],
        "known_hosts": info["known_hosts"],
        "steps": [{"stdin_b64": s["stdin_b64"], "args": s["args"]} for s in steps],
        "forks": forks,
    }
    cmd = peer_command(workdir, "fabric_check.py", job)

    return Tool("fabric", lambda: timed(cmd, timeout=timeout), lambda run: peer_problem(run, n))


def ansible_tool(
    info: dict[str, Any], command: str, forks: int, n: int, workdir: Path, connection: str, timeout: float
) -> Tool:
    name = f"ansible raw -c {connection}"
    exe = executable("ansible")
    if not exe:
        return Tool(name, lambda: Run(0, 1, "", ""), lambda r: "", skipped="ansible is not installed")
    home = workdir / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    known = home / ".ssh" / "known_hosts"
    known.write_text(Path(info["known_hosts"]).read_text(encoding="ascii"), encoding="ascii")
    known.chmod(0o600)
    lines = ["[lab]"]
    for h in info["hosts"]:
        if h["os"] == "linux":
            lines.append(f"{h['name']} ansible_host=127.0.0.1 ansible_port={h['port']}")
    lines += [
        "[lab:vars]",
        f"ansible_user={info['hosts'][0]['user']}",
        f"ansible_ssh_private_key_file={info['key_file']}",
    ]
    ssh_args = f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    lines.append(f"ansible_ssh_common_args='{ssh_args}'")
    inv = workdir / "inventory.ini"
    inv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    control = Path(tempfile.mkdtemp(prefix="bcp-", dir="/tmp"))  # short: a unix socket path has ~100 bytes
    env = environment()
    env.update(
        HOME=str(home),
        ANSIBLE_HOME=str(workdir / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(workdir / "ansible-tmp"),
        ANSIBLE_HOST_KEY_CHECKING="True",
        ANSIBLE_PARAMIKO_HOST_KEY_CHECKING="True",
        ANSIBLE_PARAMIKO_RECORD_HOST_KEYS="False",
        ANSIBLE_PARAMIKO_PTY="False",  # the lab serves exec requests, not terminals
        ANSIBLE_SSH_USETTY="False",
        ANSIBLE_PARAMIKO_LOOK_FOR_KEYS="False",
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(control),
        ANSIBLE_SSH_ARGS="-o ControlMaster=no",  # no master left behind to speed up the next round
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_SYSTEM_WARNINGS="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="False",
        ANSIBLE_STDOUT_CALLBACK="minimal",
        ANSIBLE_CONFIG=str(workdir / "none.cfg"),
        LC_ALL="C.UTF-8",
    )
    cmd = [exe, "all", "-i", str(inv), "-m", "raw", "-a", command, "-f", str(forks), "-c", connection]

    def check_run(run: Run) -> str | None:
        good = sum(1 for line in run.stdout.splitlines() if " | CHANGED | rc=0" in line or " | SUCCESS | rc=0" in line)
        if good == n:
            return None
        bad = [line for line in run.stdout.splitlines() if "UNREACHABLE" in line or "FAILED" in line][:2]
        return f"{good}/{n} hosts ok; exit {run.returncode}; {bad or run.stderr[-300:]}"

    return Tool(name, lambda: timed(cmd, env=env, timeout=timeout), check_run)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="remediate vs a plain fabric script vs Ansible ad hoc over SSH")
    p.add_argument(
        "--hosts", default="10,100,500", help="lab Linux hosts, one size or a comma list (default 10,100,500)"
    )
    p.add_argument("--forks", type=int, default=50, help="hosts in parallel for every tool (default 50)")
    p.add_argument("--reps", type=int, default=3, help="rounds per fleet size (default 3)")
    p.add_argument(
        "--server",
        choices=["openssh", "lab"],
        default="openssh",
        help="openssh (default): one OpenSSH sshd per host, the server Azure Linux VMs run, so the server side costs "
        "what it costs a user; lab: the lab's own paramiko server",
    )
    p.add_argument(
        "--check",
        choices=["ping", "fs-freeze"],
        default="ping",
        help="ping: the probe script (one lab command per host); fs-freeze: its check (six lab commands per host: "
        "~0.5 s of server CPU per host, use --hosts 30 to stay within minutes)",
    )
    p.add_argument("--tools", default="remediate,fabric,ansible", help="comma-separated subset")
    p.add_argument("--ansible-connection", default="ssh", choices=["ssh", "paramiko"], help="default ssh")
    p.add_argument("--budget", type=float, default=150.0, help="seconds per fleet size after which no round starts")
    p.add_argument("--timeout", type=float, default=600.0, help="limit of one run, seconds")
    p.add_argument("--workdir", help="keep the lab and the files here (default: a temporary directory)")
    args = p.parse_args(argv)

    try:
        sizes = [int(s) for s in str(args.hosts).split(",") if s.strip()]
    except ValueError:
        p.error("--hosts takes numbers, e.g. 10,100,500")
    if not sizes or min(sizes) < 1 or args.reps < 1 or args.forks < 1:
        p.error("--hosts, --reps and --forks must be positive")
    wanted = {t.strip() for t in args.tools.split(",") if t.strip()}
    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="bench-ssh-")
    workdir = Path(args.workdir or tmp.name).resolve()  # type: ignore[union-attr]
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine_line()}")
    try:
        for n in sizes:
            one_size(n, args, wanted, workdir / f"n{n}")
    finally:
        if tmp is not None:
            tmp.cleanup()
    print("command line: " + shlex.join(sys.argv))
    return 0


def one_size(n: int, args: argparse.Namespace, wanted: set[str], workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    server = "OpenSSH sshd" if args.server == "openssh" else "the lab's paramiko server"
    print(f"\n== fleet_ssh: {n} Linux lab hosts behind {server}, check {args.check}, forks {args.forks}, "
          f"{args.reps} round(s)")  # fmt: skip
    extra = ["--ssh-server", "openssh" if args.server == "openssh" else "paramiko"]
    with LabProcess(workdir / "lab", linux=n, extra=extra) as lab:
        info = lab.info
        print(f"lab up in {info['seconds']} s (pid {lab.proc.pid}), inventory {info['inventory']}")
        steps = steps_for(args.check)
        tools = []
        if "remediate" in wanted:
            tools.append(remediate_tool(info, args.check, args.forks, n, args.timeout))
        if "fabric" in wanted:
            tools.append(fabric_tool(info, steps, args.forks, workdir, n, args.timeout))
        if "ansible" in wanted:
            command = one_command(steps)
            tools.append(ansible_tool(info, command, args.forks, n, workdir, args.ansible_connection, args.timeout))
        warm_up(tools, n)
        for tool in tools:
            tool.run = lab.measured(tool.run)
        print("timed rounds:")
        interleave(tools, args.reps, budget=args.budget)
        stats = lab.stats()
        print()
        print(table(tools, "remediate", {"hosts": n, "forks": args.forks}))
        print()
        ansible = next((t.name for t in tools if t.name.startswith("ansible")), None)
        if ansible:
            verdict(tools, ansible, 3.0)
        if "fabric" in {t.name for t in tools}:
            verdict(tools, "fabric", 1.2)
        first = next(h["name"] for h in info["hosts"])
        memory_verdict(
            tools, n, memory_baseline(info["inventory"], "ping" if args.check == "ping" else "fs-freeze", first)
        )
        for t in tools:
            if t.failures:
                print(f"{t.name}: {len(t.failures)} failed run(s), first: {t.failures[0]}")
        conns = sum(s.get("connections", 0) for s in stats.values())
        execs = sum(s.get("execs", 0) for s in stats.values())
        print(f"server: {server}; totals over all runs: {conns} SSH logins, {execs} commands")


if __name__ == "__main__":
    sys.exit(main())
