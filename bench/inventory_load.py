"""Inventory loading: 500 hosts against 50, in Ansible INI and native YAML (the tests count work; this times it).

    python bench/inventory_load.py            # 7 rounds; medians in milliseconds and the 500/50 ratio
    python bench/inventory_load.py --rounds 21

The ratio is what to watch: loading is linear when 10x the hosts take about 10x the time. The absolute
numbers depend on the machine; the former test bound was 100 ms for the 500-host INI on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inventory import load_inventory


def write(directory: Path, groups: int) -> dict[str, Path]:
    n = groups * 50
    ini = ["[all:vars]", "ansible_user=admin"]
    for g in range(groups):
        ini.append(f"[g{g}]")
        ini += [f"vm{g}x{i:03d} ansible_host=10.0.{g}.{i} ansible_port=5986 motd='hi there'" for i in range(50)]
        ini += [f"[g{g}:vars]", "ansible_connection=winrm", f"[parent{g % 2}:children]", f"g{g}"]
    (directory / f"{n}.ini").write_text("\n".join(ini) + "\n")
    native = {"hosts": {f"vm{i:03d}": {"address": f"10.1.{i // 250}.{i % 250}", "os": "windows"} for i in range(n)}}
    native["groups"] = {f"g{g}": {"hosts": [f"vm{i:03d}" for i in range(g * 50, g * 50 + 50)]} for g in range(groups)}
    (directory / f"{n}.yml").write_text(json.dumps(native))
    return {"ini": directory / f"{n}.ini", "yaml": directory / f"{n}.yml"}


def timed(path: Path) -> float:
    start = time.perf_counter()
    load_inventory(path)
    return (time.perf_counter() - start) * 1000.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="inventory load time, 500 hosts against 50")
    p.add_argument("--rounds", type=int, default=7, help="rounds of each load (default 7)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        small, large = write(Path(tmp), 1), write(Path(tmp), 10)
        for kind in ("ini", "yaml"):
            load_inventory(small[kind])  # imports
            few, many = [], []
            for _ in range(args.rounds):  # interleaved, so a busy moment falls on both
                few.append(timed(small[kind]))
                many.append(timed(large[kind]))
            a, b = statistics.median(few), statistics.median(many)
            print(f"{kind:<5} 50 hosts {a:7.1f} ms   500 hosts {b:7.1f} ms   ratio {b / a:5.1f}x (linear: ~10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
