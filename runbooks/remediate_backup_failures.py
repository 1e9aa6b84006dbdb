"""Azure Automation runbook (Python 3.10): run remediations on a fleet and fail the job when a host fails.

Upload the ``remediate`` wheel and its dependencies to the Automation account's Python 3.10 packages, import
this file as a Python runbook, and start it with parameters (Azure Automation passes them as argv):

    -i inventory.yml  vss-writers  --dry-run
    --az-vm-list vms.json  --limit windows  vss-writers vss-copy-backup  --yes
    --for "ExtensionSnapshotFailedCOM"  --host 10.0.0.4

Credentials come from an Automation credential asset named by ``--credential`` (default
``remediate-vm-admin``): its password is put in the environment variable ``REMEDIATE_PASSWORD`` of this job
only, and is registered with the log redactor, so it reaches no output stream. Outside Azure Automation (no
``automationassets`` module) the variable must already be set, which is how the runbook is tested.

The job's output is the run's JSON results; the job fails (exit code 1 or more) when a host failed or was
unreachable, so an alert on failed Automation jobs covers remediation failures too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def _credential(name: str) -> tuple[str | None, str | None]:
    try:
        import automationassets  # type: ignore[import-not-found]  # present only inside Azure Automation
    except ImportError:
        return os.environ.get("REMEDIATE_USER"), os.environ.get("REMEDIATE_PASSWORD")
    cred = automationassets.get_automation_credential(name)
    return cred["username"], cred["password"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="remediate_backup_failures")
    parser.add_argument("remediations", nargs="*")
    parser.add_argument("-i", "--inventory", action="append", default=[])
    parser.add_argument("--az-vm-list", help="the output of `az vm list -d -o json` saved to a file")
    parser.add_argument("--host", action="append", default=[])
    parser.add_argument("--limit")
    parser.add_argument("--for", dest="for_text")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--yes", action="store_true")
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--param", action="append", default=[])
    parser.add_argument("--credential", default="remediate-vm-admin")
    args = parser.parse_args(argv)

    import playbook
    from inventory import ad_hoc_host, load_inventory
    from remediate import diagnose
    from remediate.connection import ConnectOptions
    from remediate.log import configure, register_secret

    configure(level="warning")
    user, password = _credential(args.credential)
    register_secret(password)
    if password is not None:
        os.environ["REMEDIATE_PASSWORD"] = password

    slugs = list(args.remediations)
    if args.for_text:
        slugs += [s for s in diagnose.remediations_for(args.for_text) if s not in slugs]
    hosts: list[Any] = []
    for path in [*args.inventory, *([args.az_vm_list] if args.az_vm_list else [])]:
        inv = load_inventory(path)
        hosts.extend(inv.select(args.limit) if args.limit else inv.hosts)
    hosts.extend(ad_hoc_host(h) for h in args.host)
    params = dict(p.split("=", 1) for p in args.param)
    options = playbook.RunOptions(
        dry_run=args.dry_run,
        assume_yes=args.yes,
        forks=args.forks,
        params=params,
        stop_when_healthy=bool(args.for_text),
        connect=ConnectOptions(user=user),
    )
    report = playbook.run(hosts, slugs, options)
    from remediate.report import render_json

    sys.stdout.write(render_json(report))
    counts = report.counts()
    print(json.dumps({"summary": counts, "run_id": report.run_id}), file=sys.stderr)
    return (2 if counts["failed"] else 0) | (4 if counts["unreachable"] else 0)


if __name__ == "__main__":
    sys.exit(main())
