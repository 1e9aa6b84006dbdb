"""The pywinrm peer: a thread pool, one ``winrm.protocol.Protocol`` and one shell per host, the same operations.

Run by ``bench/fleet_winrm.py`` as its own process (start-up counted, like remediate's)::

    python bench/pywinrm_check.py JOB.json

``JOB.json`` names the hosts, the user, the password file, the CA, and the operations: for each, the command
line (remediate's fixed PowerShell bootstrap) and its stdin (envelope + script) as base64, exactly what remediate
sends. pywinrm's ``Session.run_ps`` would send the script itself as ``-EncodedCommand``, which is another
workload (and one the lab refuses), so the fair plain-pywinrm baseline is its ``Protocol``: open a shell, run
the command, send stdin, receive until done, clean up, close the shell. Prints one JSON line: hosts whose every
operation returned the bootstrap's result with ``ok``, and the first failures.
"""

from __future__ import annotations

import base64
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from winrm.protocol import Protocol

RESULT = "#REMEDIATE-RESULT:"


def check_host(job: dict[str, Any], host: dict[str, Any], password: str) -> str | None:
    """Every operation on one host in one shell; None when all went well, else what went wrong."""
    protocol = Protocol(
        f"{job['scheme']}://127.0.0.1:{host['port']}/wsman",
        transport=job["transport"],
        username=job["user"],
        password=password,
        server_cert_validation="validate",
        ca_trust_path=job.get("ca_file"),
        message_encryption="auto",
        read_timeout_sec=30,
        operation_timeout_sec=20,
    )
    shell = protocol.open_shell(codepage=65001, noprofile=True)
    try:
        for op in job["operations"]:
            # stdin as a pipe, as Ansible does when it feeds stdin: a console stdin never reaches its end
            command = protocol.run_command(shell, op["exe"], op["arguments"], console_mode_stdin=False)
            protocol.send_command_input(shell, command, base64.b64decode(op["stdin_b64"]), end=True)
            out, err, code = protocol.get_command_output(shell, command)
            protocol.cleanup_command(shell, command)
            lines = [x for x in out.decode("utf-8", "replace").splitlines() if x.startswith(RESULT)]
            if code != 0 or not lines:
                return f"{op['script']}: exit {code}: {err[-200:]!r}"
            if not json.loads(base64.b64decode(lines[-1][len(RESULT) :]))["ok"]:
                return f"{op['script']}: the script failed"
    finally:
        protocol.close_shell(shell)
    return None


def main(path: str) -> int:
    with open(path, encoding="utf-8") as fh:
        job = json.load(fh)
    with open(job["password_file"], encoding="utf-8") as fh:
        password = fh.read().strip()

    def one(host: dict[str, Any]) -> tuple[str, str | None]:
        try:
            return host["name"], check_host(job, host, password)
        except Exception as exc:
            return host["name"], f"{type(exc).__name__}: {str(exc)[:200]}"

    with ThreadPoolExecutor(max_workers=job["forks"]) as pool:
        results = list(pool.map(one, job["hosts"]))
    failed = {name: problem for name, problem in results if problem}
    ok = len(results) - len(failed)
    print(json.dumps({"ok": ok, "failed": len(failed), "first_failures": dict(list(failed.items())[:3])}))
    return 0 if not failed else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
