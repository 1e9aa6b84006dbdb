"""The lab: simulated Windows and Linux VMs that speak real WinRM and SSH on 127.0.0.1.

A newcomer tries remediate against it before touching a real VM; the tests and the benchmarks use it too.
Each lab host keeps a real state model in a YAML file (``HOSTS/NAME.yml``) that can be edited to break the
machine in a chosen way; ``lab/machines/*.yml`` are ready-made broken machines for every error row.

    lab = Lab(".lab")
    lab.add_windows("win01", machine="windows-vss-writers-failed")
    lab.add_linux("lin01")
    lab.start()                      # serves in this process; writes the inventory, CA and known_hosts
    hosts = lab.hosts()              # inventory.host.Host objects ready to connect to
    ...
    lab.stop()

``remediate lab up`` does the same from the command line (in the foreground or detached).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remediate.lab.core import Lab, deep_merge, machine_description, machine_spec, ready_made_machines
    from remediate.lab.state import load_yaml

__all__ = ["Lab", "deep_merge", "load_yaml", "machine_description", "machine_spec", "ready_made_machines"]


def __getattr__(name: str) -> Any:
    # Lazy, so that the Linux hosts' command shims (which import remediate.lab.linux) start without the orchestrator.
    if name in ("Lab", "deep_merge", "machine_description", "machine_spec", "ready_made_machines"):
        from remediate.lab import core

        return getattr(core, name)
    if name == "load_yaml":
        from remediate.lab.state import load_yaml

        return load_yaml
    raise AttributeError(f"module 'lab' has no attribute {name!r}")
