"""The fabric peer: a plain fabric script running the same check scripts as remediate.

Run by ``bench/fleet_ssh.py`` as its own process (start-up counted, like remediate's and Ansible's)::

    python bench/fabric_check.py JOB.json

``JOB.json`` names the hosts, the user, the key, the known_hosts file and the check: a list of steps, each the
packaged script's stdin (prelude + script) as base64 and its arguments. As a fabric user
writes a per-host workflow: a pool of ``forks`` threads, each host one ``fabric.Connection`` that runs every step
(``printf %s STDIN_B64 | base64 -d | /bin/sh -s -- ARGS``) and is closed as soon as its host is done. Host keys are
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
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import paramiko
from fabric import Config, Connection

KV = "#REMEDIATE-KV:"


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


def check_host(job: dict[str, Any], name: str, port: int, known: paramiko.HostKeys) -> dict[str, list[str]]:
    """Every step on one host over one connection, closed when the host is done (as a fabric user writes it)."""
    config = Config(overrides={"load_ssh_configs": False, "run": {"hide": True, "warn": True}})
    cxn = Connection(
        "127.0.0.1", user=job["user"], port=port, config=config, connect_kwargs={"key_filename": [job["key_file"]]}
    )
    key_name = f"[127.0.0.1]:{port}"
    for key_type, key in (known.lookup(key_name) or {}).items():
        cxn.client.get_host_keys().add(key_name, key_type, key)
    cxn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    outputs: dict[str, list[str]] = {}
    with cxn:
        for step in job["steps"]:
            args = step["args"]
            result = cxn.run(command(step["stdin_b64"], args), in_stream=io.StringIO(""))  # no input: EOF at once
            if result.exited != 0:
                raise RuntimeError(f"{name}: exit {result.exited}: {result.stderr[-200:]}")
            outputs = kv(result.stdout)
    return outputs


def main(path: str) -> int:
    with open(path, encoding="utf-8") as fh:
        job = json.load(fh)
    known = paramiko.HostKeys(job["known_hosts"])  # parsed once: per connection it would cost N x N lines
    failed: dict[str, str] = {}
    hosts = job["hosts"]
    with ThreadPoolExecutor(max_workers=int(job.get("forks") or len(hosts))) as pool:
        futures = {pool.submit(check_host, job, h["name"], h["port"], known): h["name"] for h in hosts}
        for future in as_completed(futures):
            try:
                future.result()
            except Exception as exc:
                failed[futures[future]] = str(exc)[:200]
    ok = len(hosts) - len(failed)
    print(json.dumps({"ok": ok, "failed": len(failed), "first_failures": dict(list(failed.items())[:3])}))
    return 0 if not failed else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
