"""Fleet over WinRM: remediate against plain pywinrm (its Protocol, a thread pool), side by side.

    python bench/fleet_winrm.py                        # 100 lab Windows hosts, vss-writers' check, 3 rounds
    python bench/fleet_winrm.py --hosts 500 --reps 3
    python bench/fleet_winrm.py --check ping           # the probe script only

One lab process (``bench/labserver.py``) serves N healthy Windows hosts (HTTPS, NTLM, the lab's CA) on
127.0.0.1. Each round runs, as fresh processes and in a rotated order:

remediate
    ``remediate -i INV vss-writers --dry-run --forks F`` (or ``remediate ping -i INV``): vss-writers' check is
    two operations per host (``vss_writers/check.ps1``, then ``common/registry_get.ps1``).
pywinrm Protocol
    ``bench/pywinrm_check.py``: the same operations (the same bootstrap command line and the same stdin) with
    ``winrm.protocol.Protocol`` in a pool of F threads, one shell per host. (``Session.run_ps`` sends each
    script as ``-EncodedCommand``: another workload, refused by the lab, so it is not the baseline.)

The lab counts what it served: after every run the benchmark checks that remediate opened exactly ONE shell
per host and ran every operation in it, and says so. Printed: medians, ratios to remediate (wall clock and the
client's CPU), the shell count, and the verdict (target: no slower than plain pywinrm).
"""

from __future__ import annotations

import argparse
import base64
import shlex
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this checkout's packages, whatever is installed

from measure import (
    LabProcess,
    Run,
    Tool,
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


def operations_for(check: str) -> list[dict[str, Any]]:
    """The operations of the check, exactly as remediate sends them: command line and stdin."""
    from remediate import scripts
    from remediate.operation import read

    if check == "ping":
        ops = [read("common/probe.ps1", echo="pong")]
    else:
        from remediate.remediations.common.windows import REGISTRY_GET
        from remediate.remediations.vss_writers import BCDR_KEY, CHECK, SNAPSHOT_WITHOUT_THREADS
        from remediate.remediations.vss_writers.services import candidate_services

        ops = [
            read(CHECK, services=list(candidate_services())),
            read(REGISTRY_GET, path=BCDR_KEY, name=SNAPSHOT_WITHOUT_THREADS),
        ]
    exe, arguments = scripts.powershell_command()
    return [
        {
            "script": op.script,
            "exe": exe,
            "arguments": arguments,
            "stdin_b64": base64.b64encode(scripts.powershell_stdin(op)).decode("ascii"),
        }
        for op in ops
    ]


class Served:
    """What the lab served during one run: shells created and commands per host (from the lab's counters)."""

    def __init__(self, lab: LabProcess, names: list[str]) -> None:
        self.lab = lab
        self.names = names
        self.last: dict[str, Counter[str]] = {}

    def around(self, run: Callable[[], Run]) -> Callable[[], Run]:
        def wrapped() -> Run:
            before = self.lab.stats()
            result = run()
            after = self.lab.stats()
            self.last = {
                n: Counter(after.get(n, {})) - Counter(before.get(n, {})) for n in self.names
            }  # counters taken outside the timed run
            return result

        return wrapped

    def shells(self) -> Counter[int]:
        """How many hosts got 0, 1, 2... shells in the last run."""
        return Counter(c.get("shells_created", 0) for c in self.last.values())

    def per_host(self, counter: str) -> Counter[int]:
        """How many hosts saw 0, 1, 2... of a counter (requests, commands, receives) in the last run."""
        return Counter(c.get(counter, 0) for c in self.last.values())

    def problem(self, max_commands: int) -> str | None:
        per_host = self.shells()
        if set(per_host) != {1}:
            return f"shells per host in this run: {dict(per_host)} (expected exactly 1 on every host)"
        commands = self.per_host("commands")
        if not commands or max(commands) > max_commands or min(commands) < 1:
            return f"commands per host: {dict(commands)} (expected 1 to {max_commands})"
        return None


def remediate_tool(info: dict[str, Any], check: str, forks: int, n: int, served: Served, ops: int, t: float) -> Tool:
    cmd = remediate_command(info["inventory"], "ping" if check == "ping" else "vss-writers", forks)

    def check_run(run: Run) -> str | None:
        return remediate_problem(run, n) or served.problem(ops)

    return Tool("remediate", served.around(lambda: timed(cmd, timeout=t)), check_run)


def pywinrm_tool(
    info: dict[str, Any], operations: list[dict[str, Any]], forks: int, n: int, workdir: Path, served: Served, t: float
) -> Tool:
    win = [h for h in info["hosts"] if h["os"] == "windows"]
    job = {
        "hosts": [{"name": h["name"], "port": h["port"]} for h in win],
        "user": win[0]["user"],
        "password_file": info["secret_file"],
        "scheme": win[0]["vars"].get("winrm_scheme", "https"),
        "transport": win[0]["vars"].get("winrm_transport", "ntlm"),
        "ca_file": win[0]["vars"].get("winrm_ca_trust_path"),
        "forks": forks,
        "operations": operations,
    }
    cmd = peer_command(workdir, "pywinrm_check.py", job)

    def check_run(run: Run) -> str | None:
        return peer_problem(run, n) or served.problem(len(operations))

    return Tool("pywinrm Protocol", served.around(lambda: timed(cmd, timeout=t)), check_run)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="remediate vs plain pywinrm over WinRM")
    p.add_argument("--hosts", default="10,100,500", help="lab Windows hosts: one size or a comma list")
    p.add_argument("--forks", type=int, default=50, help="hosts in parallel, both tools (default 50)")
    p.add_argument("--reps", type=int, default=3, help="rounds per fleet size (default 3)")
    p.add_argument("--check", choices=["vss-writers", "ping"], default="vss-writers")
    p.add_argument("--scheme", choices=["https", "http"], default="https", help="the lab listeners' scheme")
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="added by the lab to every WinRM request, as between regions (e.g. 20): round trips dominate",
    )
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

    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="bench-winrm-")
    workdir = Path(args.workdir or tmp.name).resolve()  # type: ignore[union-attr]
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine_line()}")
    try:
        for n in sizes:
            one_size(n, args, workdir / f"n{n}")
    finally:
        if tmp is not None:
            tmp.cleanup()
    print("command line: " + shlex.join(sys.argv))
    return 0


def one_size(n: int, args: argparse.Namespace, workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    latency = f", {args.latency_ms:g} ms added per request" if args.latency_ms else ""
    print(f"\n== fleet_winrm: {n} Windows lab hosts ({args.scheme}, NTLM{latency}), check {args.check}, "
          f"forks {args.forks}, {args.reps} round(s)")  # fmt: skip
    extra = ["--windows-scheme", args.scheme, "--latency-ms", str(args.latency_ms)]
    with LabProcess(workdir / "lab", windows=n, extra=extra) as lab:
        info = lab.info
        print(f"lab up in {info['seconds']} s (pid {lab.proc.pid}), inventory {info['inventory']}")
        names = [h["name"] for h in info["hosts"] if h["os"] == "windows"]
        served = Served(lab, names)
        operations = operations_for(args.check)
        ops = len(operations)
        tools = [
            remediate_tool(info, args.check, args.forks, n, served, ops, args.timeout),
            pywinrm_tool(info, operations, args.forks, n, workdir, served, args.timeout),
        ]
        served_by: dict[str, str] = {}

        def note_served(tool: Tool) -> Callable[[], Run]:
            inner = tool.run

            def wrapped() -> Run:
                run = inner()
                served_by[tool.name] = (
                    f"shells/host {dict(served.shells())}, commands/host {dict(served.per_host('commands'))}, "
                    f"HTTP requests/host {dict(served.per_host('requests'))}"
                )
                return run

            return wrapped

        for tool in tools:
            tool.run = note_served(tool)
        warm_up(tools, n)
        for tool in tools:
            tool.run = lab.measured(tool.run)
        print("timed rounds:")
        interleave(tools, args.reps, budget=args.budget)
        print()
        print(table(tools, "remediate", {"hosts": n, "forks": args.forks, "ops/host": ops}))
        print()
        verdict(tools, "pywinrm Protocol", 1.2)
        first = next(h["name"] for h in info["hosts"])
        memory_verdict(
            tools, n, memory_baseline(info["inventory"], "ping" if args.check == "ping" else "vss-writers", first)
        )
        for name, line in served_by.items():
            print(f"{name}: {line} (the lab's counters, last run)")
        for t in tools:
            if t.failures:
                print(f"{t.name}: {len(t.failures)} failed run(s), first: {t.failures[0]}")


if __name__ == "__main__":
    sys.exit(main())
