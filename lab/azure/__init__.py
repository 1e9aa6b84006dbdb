"""The lab's Azure: an ARM endpoint over HTTPS that the real ``azure-mgmt-*`` SDKs talk to.

Every lab host is an Azure VM of one subscription; a backup job's outcome is computed from that host's state
(:mod:`lab.azure.outcome`). The endpoint answers what remediate's Azure code calls: VMs with instance view,
NICs, extensions, Run Command, management locks, restore point collections, Key Vault access policies,
Recovery Services vaults, protected items, backup jobs and the on-demand backup trigger.

    lab = Lab("/tmp/lab")
    lab.add_windows("win01", "windows-vss-writers-failed")
    lab.enable_azure()                # DIR/azure.yml; lab.start() then serves ARM and writes DIR/azure.json
    lab.start()
    lab.azure.requests()              # every ARM request: method, path, status, mutating

Adding routes (e.g. another resource provider): a module in ``lab/azure/api/`` registering handlers with
:func:`lab.azure.routes.route`; it is imported with the others. See :mod:`lab.azure.routes`.
"""

from remediate.lab.azure.model import ARM
from remediate.lab.azure.routes import ARMError, Reply, Request, route

__all__ = ["ARM", "ARMError", "Reply", "Request", "route"]
