"""The runbooks' bodies. Each file in ``runbooks/`` is a few lines that call one of these with ``sys.argv[1:]``.

Azure Automation passes a Python runbook's parameters as strings in ``sys.argv``. A parent runbook (and the
PowerShell webhook shim) passes one parameter, a JSON array of the arguments, which :func:`argv_of` unfolds: a
value with spaces or quotes then survives whatever quoting the service applies.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from remediate.automation.output import RunbookFailed, emit_report, host_line, raise_if_failed
from remediate.automation.settings import Settings
from remediate.errors import ConfigError

DEFAULT_CREDENTIAL = "remediate-vm-admin"


def argv_of(argv: Sequence[str]) -> list[str]:
    """``['["-i", "x.yml", "vss-writers"]']`` -> ``['-i', 'x.yml', 'vss-writers']``; anything else unchanged."""
    if len(argv) == 1 and argv[0].lstrip().startswith("["):
        try:
            data = json.loads(argv[0])
        except json.JSONDecodeError:
            return list(argv)
        if isinstance(data, list) and all(isinstance(x, str) for x in data):
            return data
    return list(argv)


def host_args(p: argparse.ArgumentParser) -> None:
    """The ways a runbook is told which hosts: inventories, ``az vm list`` files, ad hoc hosts, a limit, a shard."""
    p.add_argument("-i", "--inventory", action="append", default=[], help="inventory file (repeatable)")
    p.add_argument("--az-vm-list", action="append", default=[], help="the output of `az vm list -d -o json`")
    p.add_argument("--host", action="append", default=[], help="an ad hoc host (repeatable)")
    p.add_argument("--limit", help="host/group patterns, as on the command line")
    p.add_argument("--shard", metavar="K/N", help="only the K-th of N parts of the hosts (split by name)")
    p.add_argument("--vm", action="append", default=[], help="an Azure VM by name or resource id (Run Command)")
    p.add_argument("--vm-resource-group", help="the resource group of --vm names")
    p.add_argument("--subscription", help="the subscription of --vm names (default: the Azure config's)")


def select_hosts(args: argparse.Namespace) -> list[Any]:
    from remediate.inventory import ad_hoc_host, load_inventory
    from remediate.inventory.shard import parse_shard, select_shard

    if not (args.inventory or args.az_vm_list or args.host or getattr(args, "vm", None)):
        raise ConfigError("no hosts: give -i INVENTORY (a file or azure://...), --az-vm-list, --host or --vm")
    hosts: list[Any] = []
    for path in [*args.inventory, *args.az_vm_list]:
        inv = load_inventory(path)
        hosts.extend(inv.select(args.limit) if args.limit else inv.hosts)
    hosts.extend(ad_hoc_host(h) for h in args.host)
    if getattr(args, "vm", None):  # by Azure name or resource id: Run Command, no port to open
        from remediate.automation.azureflows import named_azure_vms

        hosts.extend(named_azure_vms(args.vm, args.subscription, args.vm_resource_group))
    unique: dict[str, Any] = {}
    for h in hosts:
        unique.setdefault(h.name, h)
    chosen = list(unique.values())
    if args.shard:
        chosen = select_shard(chosen, *parse_shard(args.shard))
    return chosen


def _run_options(args: argparse.Namespace, user: str | None, dry_run: bool) -> Any:
    from remediate import playbook
    from remediate.connection import ConnectOptions

    params: dict[str, str] = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE")
        params[key.strip()] = value
    return playbook.RunOptions(
        dry_run=dry_run,
        assume_yes=args.yes,
        forks=args.forks,
        params=params,
        journal_dir=args.journal_dir,
        connect=ConnectOptions(user=user, ca_bundle=args.ca_bundle),
    )


def named_vms(argv: Sequence[str], settings: Settings | None = None, write: Callable[[str], Any] = print) -> dict:
    """Remediations (or what ``--for``/``--error-code`` names) on the hosts given; raises when any host fails."""
    p = argparse.ArgumentParser(prog="remediate_backup_failures")
    p.add_argument("remediations", nargs="*")
    host_args(p)
    p.add_argument("--for", dest="for_text")
    p.add_argument("--error-code")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--yes", action="store_true")
    p.add_argument("--forks", type=int, default=20)
    p.add_argument("--param", action="append", default=[])
    p.add_argument("--credential", default=DEFAULT_CREDENTIAL, help="name of the Automation credential asset")
    p.add_argument("--ca-bundle", help="CA bundle that validates the hosts' WinRM certificates")
    p.add_argument("--journal-dir")
    p.add_argument("--output-file", help="also write the full JSON results there")
    args = p.parse_args(argv_of(argv))

    from remediate import diagnose, playbook
    from remediate.log import configure

    configure(level="critical", stream=sys.stdout)  # the host lines carry the reasons; logs stay off Output
    settings = settings or Settings()
    user, _ = settings.credential(args.credential)
    slugs = list(args.remediations)
    text = args.for_text or args.error_code
    if text:
        slugs += [s for s in diagnose.remediations_for(text) if s not in slugs]
    if not slugs:
        raise RunbookFailed("no remediation named: give slugs, --for TEXT or --error-code CODE")
    hosts = select_hosts(args)
    options = _run_options(args, user, args.dry_run)
    options.stop_when_healthy = bool(text)
    report = playbook.run(hosts, slugs, options)
    _write_full(report, args.output_file)
    summary = emit_report(report, write)
    raise_if_failed(summary, "remediate")
    return summary


def sharded(
    argv: Sequence[str],
    settings: Settings | None = None,
    write: Callable[[str], Any] = print,
    sleep: Callable[[float], None] | None = None,
) -> dict:
    """The parent runbook: the hosts split into shards, one child job per shard, one merged report."""
    import time

    from remediate.automation.children import JobTarget, merge, run_children
    from remediate.automation.output import summary_of
    from remediate.inventory.shard import split_names

    p = argparse.ArgumentParser(prog="remediate_sharded")
    p.add_argument("remediations", nargs="*")
    host_args(p)
    p.add_argument("--shard-size", type=int, default=50, help="hosts per child job (default 50)")
    p.add_argument("--child-runbook", default="remediate_backup_failures")
    p.add_argument("--run-on", default=None, help="Hybrid Runbook Worker group of the children ('' = cloud)")
    p.add_argument("--resource-group", help="the Automation account's resource group")
    p.add_argument("--account", help="the Automation account")
    p.add_argument("--max-running", type=int, default=20, help="child jobs running at once (default 20)")
    p.add_argument("--child-timeout", type=float, default=3 * 3600, metavar="S")
    p.add_argument("--poll", type=float, default=30.0, metavar="S")
    for flag in ("--dry-run", "--yes"):
        p.add_argument(flag, action="store_true")
    for opt in ("--for", "--error-code", "--credential", "--ca-bundle", "--forks"):
        p.add_argument(opt)
    p.add_argument("--param", action="append", default=[])
    args = p.parse_args(argv_of(argv))
    settings = settings or Settings()
    if args.shard:
        raise ConfigError("the parent runbook splits the hosts itself: give no --shard")
    if args.shard_size < 1:
        raise ConfigError("--shard-size must be at least 1")
    account = args.account or settings.variable("remediate-automation-account")
    group = args.resource_group or settings.variable("remediate-automation-resource-group")
    if not account or not group:
        raise ConfigError("name the Automation account: --account and --resource-group (or their variables)")
    run_on = args.run_on if args.run_on is not None else settings.variable("remediate-worker-group", "")

    names = [h.name for h in select_hosts(args)]
    count = max(1, -(-len(names) // args.shard_size))
    shards = split_names(names, count)
    common: list[str] = list(args.remediations)
    for path in args.inventory:
        common += ["-i", path]
    for path in args.az_vm_list:
        common += ["--az-vm-list", path]
    for host in args.host:
        common += ["--host", host]
    for vm in args.vm:
        common += ["--vm", vm]
    if args.vm_resource_group:
        common += ["--vm-resource-group", args.vm_resource_group]
    if args.subscription:
        common += ["--subscription", args.subscription]
    if args.limit:
        common += ["--limit", args.limit]
    for flag in ("dry_run", "yes"):
        if getattr(args, flag):
            common.append("--" + flag.replace("_", "-"))
    for opt in ("for", "error_code", "credential", "ca_bundle", "forks"):
        value = getattr(args, opt)
        if value:
            common += ["--" + opt.replace("_", "-"), str(value)]
    for param in args.param:
        common += ["--param", param]

    automation = automation_client(args.subscription or settings.variable("remediate-subscription"))
    target = JobTarget(group, account, args.child_runbook, run_on or "")

    def done(child: Any) -> None:
        write(f"job {child.name or '-'} shard {child.shard}/{child.count}: {child.status} ({len(child.hosts)} hosts)"
              + (f" - {child.exception}" if child.exception else ""))  # fmt: skip

    children = run_children(
        automation, target, shards, lambda k, n: [*common, "--shard", f"{k}/{n}"],
        max_running=args.max_running, timeout=args.child_timeout, poll=args.poll,
        sleep=sleep or time.sleep, on_done=done,
    )  # fmt: skip
    hosts, reasons = merge(children)
    for name in sorted(hosts):  # one line per host, as every runbook writes (the children's carry the details)
        write(host_line(name, hosts[name], reasons.get(name, "")))
    jobs = {c.name: c.status for c in children if c.name}
    summary = summary_of(hosts, reasons, dry_run=bool(args.dry_run), jobs=jobs)
    write(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
    raise_if_failed(summary, "remediate (sharded)")
    return summary


def automation_client(subscription: str | None) -> Any:
    """``azure-mgmt-automation``'s client, built as :mod:`remediate.azure.clients` builds the others (the
    managed identity in Azure Automation; the lab's endpoint with ``REMEDIATE_AZURE_CONFIG``)."""
    from azure.mgmt.automation import AutomationClient

    from remediate.azure.clients import AzureConfig, Clients

    clients = Clients(AzureConfig.load(subscription=subscription))
    return AutomationClient(clients.credential, clients.subscription, **clients.kwargs())


def _write_full(report: Any, path: str | None) -> None:
    if path:
        from remediate.report import render_json

        with open(path, "w", encoding="utf-8") as fh:
            fh.write(render_json(report))


def main(body: Callable[[Sequence[str]], Any]) -> None:
    """Run a runbook body with ``sys.argv``; a :class:`RunbookFailed` goes to the Error stream and is re-raised
    so that the job ends Failed."""
    from remediate.errors import RemediateError
    from remediate.log import scrub

    try:
        body(sys.argv[1:])
    except (RunbookFailed, RemediateError) as exc:
        print(f"ERROR: {scrub(str(exc))}")
        raise
