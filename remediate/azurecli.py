"""``remediate azure ...``: the Azure verbs (``failed-backups``), on Microsoft's SDKs.

    remediate azure failed-backups [--vault V] [--resource-group RG] [--since 7d]
    remediate azure failed-backups --remediate --dry-run            # the plans, nothing changed, no backup
    remediate azure failed-backups --remediate --retrigger --yes    # fix, back up again, wait for the job

Where Azure is: ``--azure-config FILE`` (or ``REMEDIATE_AZURE_CONFIG``; the lab writes ``.lab/azure.json``),
else the public cloud with ``DefaultAzureCredential``; ``--subscription`` overrides the config's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from typing import Any

EPILOG = """\
examples:
  remediate lab up --detach --azure
  remediate azure failed-backups --azure-config .lab/azure.json
  remediate azure failed-backups --azure-config .lab/azure.json -i .lab/inventory.yml --remediate --retrigger --yes

exit codes: 0 every listed VM fixed and backed up (or only listed), 2 a fix or a new backup failed, 1 usage error
"""


def parser() -> argparse.ArgumentParser:
    from remediate.cli import _output_args, _Parser, _run_args, _target_args

    p = _Parser(prog="remediate azure", epilog=EPILOG)  # usage errors exit 1, as the README's table says
    sub = p.add_subparsers(dest="azure_verb", required=True)
    s = sub.add_parser(
        "failed-backups",
        help="VMs whose latest backup failed; fix them and back up again",
        epilog=EPILOG,
    )
    a = s.add_argument_group("Azure")
    a.add_argument("--azure-config", metavar="FILE", help="endpoint, subscription, CA bundle, token file (lab)")
    a.add_argument("--subscription", metavar="ID", help="the subscription (default: the --azure-config's)")
    a.add_argument("--resource-group", "-g", metavar="RG", help="the vaults of this resource group")
    a.add_argument("--vault", metavar="NAME", help="one Recovery Services vault")
    a.add_argument("--since", default="30d", metavar="WHEN", help="jobs since: 7d, 12h, or an ISO date")
    w = s.add_argument_group("what to do")
    w.add_argument("--remediate", action="store_true", help="run the remediations the errors name")
    w.add_argument("--retrigger", action="store_true", help="then back up again and wait for the job")
    w.add_argument("--dry-run", action="store_true", help="check and plan only; nothing changed, no backup")
    w.add_argument("-y", "--yes", action="store_true", help="apply disruptive and destructive remediations")
    w.add_argument("--wait", type=float, default=3600.0, metavar="S", help="how long to wait for each backup job")
    w.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a remediation parameter")
    _target_args(s)
    _run_args(s)
    _output_args(s, progress=False)
    return p


def parse_since(text: str, now: datetime.datetime | None = None) -> datetime.datetime:
    from remediate.errors import ConfigError

    now = now or datetime.datetime.now(datetime.timezone.utc)
    m = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if m:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m.group(2)]
        return now - datetime.timedelta(**{unit: int(m.group(1))})
    try:
        parsed = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {text!r}: expected 7d, 12h, 30m or an ISO date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return failed_backups(args)


def failed_backups(args: argparse.Namespace) -> int:
    from remediate import cli
    from remediate.azure import loop
    from remediate.azure.clients import AzureConfig, Clients

    cli._setup_logging(argparse.Namespace(log_level=args.log_level, log_file=args.log_file))
    config = AzureConfig.load(args.azure_config, subscription=args.subscription)
    clients = Clients(config)
    inventory: list[Any] = []
    if args.inventory:
        from remediate.inventory import load_inventory

        for path in args.inventory:
            inv = load_inventory(path)
            inventory.extend(inv.select(args.limit) if args.limit else inv.hosts)
    params = cli._parse_params(args)
    run_options = cli._options(args, args.dry_run, params)
    options = loop.LoopOptions(
        vault=args.vault,
        resource_group=args.resource_group,
        since=parse_since(args.since),
        remediate=args.remediate,
        retrigger=args.retrigger,
        dry_run=args.dry_run,
        assume_yes=args.yes,
        wait=args.wait,
        inventory=inventory,
        run=run_options,
    )
    try:
        report = loop.run(clients, options)
    except Exception as exc:  # Azure refused the listing itself (credential, role, scope): say so, no traceback
        from azure.core.exceptions import AzureError

        if not isinstance(exc, AzureError):
            raise
        from remediate.connection.azure_common import translate

        raise translate(
            exc, args.vault or args.resource_group or str(clients.subscription), "list backup jobs", mutating=False
        ) from None
    data = report.to_dict()
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8") as fh:
            fh.write(text)
    sys.stdout.write(text if args.output == "json" else render_text(report))
    bad = [
        v
        for v in report.vms
        if v.fix_status in ("failed", "unreachable") or (v.backup and v.backup.get("succeeded") is False)
    ]
    return cli.EXIT_FAILED if bad else cli.EXIT_OK


def render_text(report: Any) -> str:
    from remediate.log import scrub

    if not report.vms:
        return "No VM's latest backup failed.\n"
    w = max(4, *(len(v.vm) for v in report.vms))
    lines = [f"{'VM':<{w}}  {'ERROR CODE':<40}  {'FIX':<11}  BACKUP"]
    for v in report.vms:
        fix = v.fix_status or "-"
        backup = (v.backup or {}).get("summary", "-")
        lines.append(f"{v.vm:<{w}}  {(v.error_code or '?'):<40}  {fix:<11}  {backup}")
    lines.append("")
    for v in report.vms:
        lines.append(f"{v.vm} ({v.resource_group}, {v.os or '?'}, {v.power_state or '?'}): {v.error_message}")
        if v.cause:
            lines.append(f"  cause: {v.cause}")
        names = [*(f"{s} (Azure-side)" for s in v.azure_side), *v.in_guest]
        lines.append(f"  remediations: {', '.join(names) or 'none known'}")
        if v.fix_status:
            lines.append(f"  fix: {v.fix_status}: {v.fix_reason}")
            for run in v.runs:
                for step in run["host"]["steps"]:
                    for c in step["planned"] if report.dry_run else step["applied"]:
                        lines.append(f"    {'would' if report.dry_run else 'done'}: {c['summary']}")
    lines.append("")
    mode = "dry-run, nothing was changed" if report.dry_run else f"journal: {report.journal or '-'}"
    lines.append(f"{len(report.vms)} VM(s) with a failed backup   run {report.run_id} ({mode})")
    return scrub("\n".join(lines) + "\n")
