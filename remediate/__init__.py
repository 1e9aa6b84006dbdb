"""remediate: fix the in-guest causes of failed Azure VM backups, on one VM or a fleet.

Everything is imported under this one name. The repository keeps the design card's top-level folders
(``playbook.py``, ``inventory/``, ``remediations/``, ``lab/``); an installed wheel carries them as
``remediate.playbook``, ``remediate.inventory``, ``remediate.remediations`` and ``remediate.lab`` (see setup.py),
and in a source checkout this package's path includes the checkout's root, so the same names resolve there.
The public API is small and lazy, so that ``remediate --help`` stays fast::

    from remediate import playbook
    from remediate.inventory import load_inventory

    hosts = load_inventory("inventory/lab.yml").select("windows")
    report = playbook.run(hosts, ["vss-writers"], playbook.RunOptions(dry_run=True))
    for result in report.hosts:
        print(result.host, result.status, result.reason)
"""

__version__ = "0.1.0"


def _source_checkout_path() -> None:
    """In a source checkout, serve remediate.playbook, remediate.inventory, ... from the card's folders."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    checkout = all(os.path.isfile(os.path.join(root, name)) for name in ("playbook.py", "pyproject.toml"))
    if checkout and root not in __path__:
        __path__.append(root)


_source_checkout_path()
