"""Loading a large inventory: seconds and peak memory per 1,000 hosts, beside ``ansible-inventory --list``.

    python bench/inventory_load.py                     # 5 MB INI and YAML files, remediate and ansible-inventory
    python bench/inventory_load.py --mb 50             # the 50 MB case of the issue
    python bench/inventory_load.py --mb 50 --no-peer   # remediate alone

Each load runs in a fresh child process (``remediate inventory -i FILE --list`` and ``ansible-inventory -i FILE
--list``), so the numbers include the start of the interpreter and the printing, as an operator sees them; the
peak memory is the child's maximum resident size. Ratios are printed: absolute seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# About 300 bytes a host, as inventories with a few variables per host have: 50 MB is some 170,000 hosts
# (an inventory may hold at most inventory.model.MAX_HOSTS).
HOST_LINE = (
    "host{n:07d}.example.internal ansible_host=10.{a}.{b}.{c} ansible_user=azureuser owner=team{t}"
    " cost_center=cc-{t}{t}{t}{t} environment=production patch_window=sunday-0200 backup_policy=DefaultPolicy"
    " application=erp-frontend-{t} ansible_python_interpreter=/usr/bin/python3\n"
)


def write_ini(path: Path, mb: float) -> int:
    target = int(mb * 1e6)
    n = 0
    with path.open("w") as fh:
        size = 0
        group = 0
        while size < target:
            fh.write(f"[group{group}]\n")
            for _ in range(1000):
                line = HOST_LINE.format(n=n, a=n // 65536 % 256, b=n // 256 % 256, c=n % 256, t=n % 7)
                fh.write(line)
                size += len(line)
                n += 1
            fh.write(f"[group{group}:vars]\nenv=prod\n")
            group += 1
    return n


def write_yaml(path: Path, mb: float) -> int:
    target = int(mb * 1e6)
    n = 0
    with path.open("w") as fh:
        fh.write("all:\n  children:\n")
        size = 0
        group = 0
        while size < target:
            fh.write(f"    group{group}:\n      vars:\n        env: prod\n      hosts:\n")
            for _ in range(1000):
                text = (
                    f"        host{n:07d}.example.internal:\n"
                    f"          ansible_host: 10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}\n"
                    f"          ansible_user: azureuser\n"
                    f"          owner: team{n % 7}\n"
                    f"          environment: production\n"
                    f"          backup_policy: DefaultPolicy\n"
                    f"          application: erp-frontend-{n % 7}\n"
                    f"          patch_window: sunday-0200\n"
                )
                fh.write(text)
                size += len(text)
                n += 1
            group += 1
    return n


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(seconds, peak MB of this child alone, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=5.0, help="size of each generated inventory (default 5)")
    parser.add_argument("--no-peer", action="store_true", help="do not run ansible-inventory")
    parser.add_argument("--workdir", help="keep the generated files here")
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="inventory-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["ANSIBLE_INVENTORY_ENABLED"] = "ini,yaml"
    peer = None if args.no_peer else shutil.which("ansible-inventory")
    print(f"{'file':<12} {'hosts':>9} {'tool':<18} {'s':>8} {'s/1000 hosts':>13} {'peak MB':>9}")
    for name, writer in (("hosts.ini", write_ini), ("hosts.yml", write_yaml)):
        path = work / name
        hosts = writer(path, args.mb)
        ours_cmd = [sys.executable, "-m", "remediate.cli", "inventory", "-i", str(path), "--list"]
        runs = [("remediate", ours_cmd)]
        if peer:
            runs.append(("ansible-inventory", [peer, "-i", str(path), "--list"]))
        results = {}
        for tool, argv in runs:
            seconds, peak, rc = measure(argv, env)
            results[tool] = seconds
            flag = "" if rc == 0 else f"  (exit {rc})"
            print(
                f"{name:<12} {hosts:>9} {tool:<18} {seconds:>8.1f} {seconds / hosts * 1000:>13.3f} {peak:>9.0f}{flag}"
            )
        if peer:
            print(f"{'':<12} {'':>9} {'ratio':<18} {results['ansible-inventory'] / results['remediate']:>8.2f}x")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
