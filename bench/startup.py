"""Start-up: ``remediate --help`` and ``remediate list`` against ``python -c pass`` (and ``ansible --version``,
and importing pywinrm's and fabric's stacks alone: the floor under any tool built on them).

    python bench/startup.py            # 20 runs of each, interleaved; medians in milliseconds
    python bench/startup.py --runs 50

Each run is a fresh process, as an operator's shell starts it; the runs of the commands take turns so that a
busy moment of a shared machine falls on all of them. The target: ``remediate --help`` and ``remediate list``
within 1.3x of a bare interpreter (what they cost over it is their own imports).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import executable, machine_line, timed

TARGET = 1.3  # times python -c pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="remediate --help start-up time against a bare interpreter")
    p.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    args = p.parse_args(argv)
    if not 1 <= args.runs <= 1000:
        p.error("--runs must be between 1 and 1000")

    exe = executable("remediate")
    remediate = [exe] if exe else [sys.executable, "-m", "remediate.cli"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "remediate --help": [*remediate, "--help"],
        "remediate list": [*remediate, "list"],
        # the floor under any tool of each transport: what importing the library alone costs
        "import winrm.protocol": [sys.executable, "-c", "import winrm.protocol"],
        "import fabric": [sys.executable, "-c", "import fabric"],
    }
    ansible = executable("ansible")
    if ansible:
        commands["ansible --version"] = [ansible, "--version"]
    print(f"startup: {args.runs} runs each, interleaved; machine: {machine_line()}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(args.runs):
        names = list(commands)
        names = names[i % len(names) :] + names[: i % len(names)]
        for name in names:
            run = timed(commands[name], timeout=60)
            if run.returncode != 0:
                print(f"{name} failed (exit {run.returncode}): {run.stderr[-300:]}")
                return 1
            times[name].append(run.seconds * 1000)
    base = statistics.median(times["python -c pass"])
    print()
    print(f"{'command':<22} {'median ms':>10} {'min ms':>8} {'x python':>9}")
    for name, values in times.items():
        m = statistics.median(values)
        print(f"{name:<22} {m:10.1f} {min(values):8.1f} {m / base:9.2f}")
    print()
    for name in ("remediate --help", "remediate list"):
        m = statistics.median(times[name])
        verdict = "MET" if m / base <= TARGET else "NOT MET"
        print(f"{name}: {m:.0f} ms median, {m - base:.0f} ms over a bare interpreter, {m / base:.2f}x python -c pass "
              f"(target <= {TARGET}x): {verdict}")  # fmt: skip
    for name in ("import winrm.protocol", "import fabric"):
        m = statistics.median(times[name])
        print(f"python -c '{name}': {m:.0f} ms, {m - base:.0f} ms over a bare interpreter (every tool on it pays it)")
    if ansible:
        a = statistics.median(times["ansible --version"])
        print(f"ansible --version: {a:.0f} ms median")
    print(f"commands: {', '.join(shlex.join(c) for c in commands.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
