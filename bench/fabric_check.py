"""The fabric peer: a plain ``fabric.ThreadingGroup`` running the same check scripts as remediate.

Run by ``bench/fleet_ssh.py`` as its own process (start-up counted, like remediate's and Ansible's)::

    python bench/fabric_check.py JOB.json

``JOB.json`` names the hosts, the user, the key, the known_hosts file and the check: a list of steps, each the
packaged script's stdin (prelude + script) as base64 and its arguments. A step's arguments may be ``"from:mounts"``:
the file systems found by the step before (what fs-freeze's check does between its two scripts). Each step is
``group.run()`` of the same command line on the hosts, ``forks`` hosts per group (a group runs all its hosts at
once and has no limit of its own): ``printf %s STDIN_B64 | base64 -d | /bin/sh -s -- ARGS``. Host keys are
checked against the lab's known_hosts (unknown keys refused), as remediate does; the file is parsed once and
each connection gets its own host's key, so the peer does not pay N x N parsing.
Prints one JSON line: hosts that completed every step, and the first failures.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from collections import defaultdict
from typing import Any

import paramiko
from fabric import Config, ThreadingGroup
from fabric.exceptions import GroupException

KV = "#REMEDIATE-KV:"
FROZEN = ("ext3", "ext4", "xfs", "btrfs")


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def command(stdin_b64: str, args: list[str]) -> str:
    return " ".join(["printf %s", stdin_b64, "| base64 -d | /bin/sh -s --", *(b64(a) for a in args)])


def kv(stdout: str) -> dict[str, list[str]]:
    data: dict[str, list[str]] = defaultdict(list)
    for line in stdout.splitlines():
        if line.startswith(KV):
            key, _, value = line[len(KV) :].partition(":")
            data[key].append(base64.b64decode(value).decode("utf-8", errors="replace"))
    return data


def filesystems(data: dict[str, list[str]]) -> str:
    """The file systems the backup freezes, as fs-freeze's second script takes them: DEV<TAB>TARGET<TAB>TYPE."""
    lines = []
    for line in data.get("mount", []):
        device, target, fstype = ([*line.split(" "), "", "", ""])[:3]
        if fstype in FROZEN and not device.startswith("/dev/loop") and target not in ("/mnt", "/mnt/resource"):
            lines.append(f"{device}\t{target}\t{fstype}")
    return "\n".join(lines)


def group(job: dict[str, Any], names: list[str]) -> ThreadingGroup:
    config = Config(overrides={"load_ssh_configs": False, "run": {"hide": True, "warn": True}})
    ports = {h["name"]: h["port"] for h in job["hosts"]}
    hosts = [f"{job['user']}@127.0.0.1:{ports[n]}" for n in names]
    g = ThreadingGroup(*hosts, config=config, connect_kwargs={"key_filename": [job["key_file"]]})
    known = paramiko.HostKeys(job["known_hosts"])  # parsed once: per connection it would cost N x N lines
    for cxn in g:
        name = f"[{cxn.host}]:{cxn.port}"
        for key_type, key in (known.lookup(name) or {}).items():
            cxn.client.get_host_keys().add(name, key_type, key)
        cxn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return g


def main(path: str) -> int:
    with open(path, encoding="utf-8") as fh:
        job = json.load(fh)
    names = [h["name"] for h in job["hosts"]]
    g = group(job, names)
    by_name = dict(zip(names, g, strict=True))
    name_of = {id(c): n for n, c in by_name.items()}
    outputs: dict[str, dict[str, list[str]]] = {}
    failed: dict[str, str] = {}
    try:
        for step in job["steps"]:
            batches: dict[str, list[str]] = defaultdict(list)  # command line -> hosts (one group.run each)
            for name in names:
                if name in failed:
                    continue
                args = step["args"]
                if args == "from:mounts":
                    args = [filesystems(outputs.get(name, {}))]
                batches[command(step["stdin_b64"], args)].append(name)
            for line, members in batches.items():
                results: dict[Any, Any] = {}
                forks = int(job.get("forks") or len(members))
                for i in range(0, len(members), forks):  # at most `forks` hosts at once, as the other tools
                    sub = ThreadingGroup.from_connections([by_name[n] for n in members[i : i + forks]])
                    try:
                        results.update(sub.run(line, in_stream=io.StringIO("")))  # no input: EOF at once
                    except GroupException as exc:
                        results.update(exc.result)
                for cxn, result in results.items():
                    name = name_of[id(cxn)]
                    if isinstance(result, Exception) or result.exited != 0:
                        failed.setdefault(name, str(result)[:200] if isinstance(result, Exception) else result.stderr)
                    else:
                        outputs[name] = kv(result.stdout)
    finally:
        g.close()
    ok = [n for n in names if n not in failed]
    print(json.dumps({"ok": len(ok), "failed": len(failed), "first_failures": dict(list(failed.items())[:3])}))
    return 0 if not failed else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
