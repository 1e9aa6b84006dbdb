"""Start-up: ``remediate --help`` against ``python -c pass`` (and ``ansible --version`` when installed).

    python bench/startup.py            # 20 runs of each, interleaved; medians in milliseconds
    python bench/startup.py --runs 50

Each run is a fresh process, as an operator's shell starts it; the runs of the commands take turns so that a
busy moment of a shared machine falls on all of them. The target: ``remediate --help`` in well under half a
second. Also shown: what ``remediate --help`` costs over a bare interpreter (its own imports).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import executable, machine_line, timed

TARGET_MS = 500.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="remediate --help start-up time against a bare interpreter")
    p.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    args = p.parse_args(argv)
    if not 1 <= args.runs <= 1000:
        p.error("--runs must be between 1 and 1000")

    remediate = executable("remediate")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "remediate --help": [remediate, "--help"] if remediate else [sys.executable, "-m", "remediate.cli", "--help"],
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
    print(f"{'command':<20} {'median ms':>10} {'min ms':>8} {'x python':>9}")
    for name, values in times.items():
        m = statistics.median(values)
        print(f"{name:<20} {m:10.1f} {min(values):8.1f} {m / base:9.2f}")
    help_ms = statistics.median(times["remediate --help"])
    verdict = "MET" if help_ms < TARGET_MS else "NOT MET"
    print()
    print(f"remediate --help: {help_ms:.0f} ms median, {help_ms - base:.0f} ms over a bare interpreter, "
          f"{help_ms / base:.1f}x python -c pass (target well under {TARGET_MS:.0f} ms): {verdict}")  # fmt: skip
    if ansible:
        a = statistics.median(times["ansible --version"])
        print(f"ansible --version: {a:.0f} ms median ({a / help_ms:.1f}x remediate --help)")
    print(f"commands: {', '.join(shlex.join(c) for c in commands.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
