"""remediate: fix the in-guest causes of failed Azure VM backups, on one VM or a fleet.

The public API is small and lazy, so that ``remediate --help`` stays fast::

    from inventory import load_inventory
    import playbook

    hosts = load_inventory("inventory/lab.yml").select("windows")
    report = playbook.run(hosts, ["vss-writers"], playbook.RunOptions(dry_run=True))
    for result in report.hosts:
        print(result.host, result.status, result.reason)
"""

__version__ = "0.1.0"
