"""A lab in its own process for the benchmarks: N hosts served, counters on request.

Run by the benchmarks (not by hand)::

    python bench/labserver.py --dir D --linux 100 --windows 0

It starts :class:`lab.Lab` (every host's server in this one process), writes ``D/inventory.yml``, prints one
JSON line ``{"ready": ...}`` and then answers lines on stdin: ``stats`` prints one JSON line with each host's
server counters (SSH: connections and execs; WinRM: requests, shells created, commands...), ``quit`` (or the
end of stdin) stops the lab. The benchmark's clients run in other processes, so the lab's own CPU is not
counted in any client's process; both still share the machine's cores, for every tool alike.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any


def counters(lab: Any) -> dict[str, dict[str, int]]:
    """Each host's server counters (read, never changed)."""
    return {server.name: lab.counters(server.name) for server in lab._servers}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--linux", type=int, default=0)
    p.add_argument("--windows", type=int, default=0)
    p.add_argument("--linux-machine", default="linux-healthy")
    p.add_argument("--windows-machine", default="windows-healthy")
    p.add_argument("--windows-scheme", default="https", choices=["https", "http"])
    p.add_argument("--windows-transport", default="ntlm", choices=["ntlm", "basic"])
    p.add_argument("--ssh-server", default="paramiko", choices=["paramiko", "openssh"])
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every WinRM request (as between regions)")
    args = p.parse_args(argv)

    from remediate.lab import Lab

    started = time.monotonic()
    lab = Lab(Path(args.dir))
    for old in lab.hosts_dir.glob("*.yml"):
        old.unlink()
    width = max(2, len(str(max(args.linux, args.windows, 1))))
    for i in range(args.linux):
        lab.add_linux(f"lin{i + 1:0{width}d}", machine=args.linux_machine, ssh_server=args.ssh_server)
    for i in range(args.windows):
        lab.add_windows(
            f"win{i + 1:0{width}d}",
            machine=args.windows_machine,
            scheme=args.windows_scheme,
            transport=args.windows_transport,
            faults={"latency_ms": args.latency_ms} if args.latency_ms else None,
        )
    # a SIGTERM (a benchmark killed, `pkill -f labserver`) still stops the servers: OpenSSH's sshd listeners
    # are processes of their own and would outlive this one
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    lab.start()
    inventory = lab.write_inventory()
    ready = {
        "ready": True,
        "inventory": str(inventory),
        "dir": str(lab.dir),
        "key_file": str(lab.key_file),
        "known_hosts": str(lab.known_hosts),
        "secret_file": str(lab.secret_file),
        "ca_file": str(lab.ca_file),
        "hosts": [{"name": h.name, "port": h.port, "os": h.os, "user": h.user, "vars": h.vars} for h in lab.hosts()],
        "seconds": round(time.monotonic() - started, 2),
    }
    print(json.dumps(ready), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                print(json.dumps({"stats": counters(lab)}), flush=True)
            elif command == "quit":
                break
    finally:
        lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
