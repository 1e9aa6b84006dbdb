"""Azure Automation runbook (Python 3.10): remediations on named VMs; the job fails when a host fails.

Parameters (Azure Automation passes them as argv; or one JSON array of them), for example:

    -i inventory.yml  vss-writers  --dry-run
    --az-vm-list vms.json  --limit windows  vss-writers vss-copy-backup  --yes
    --for "ExtensionSnapshotFailedCOM"  --host 10.0.0.4

The VMs' administrator comes from the credential asset named by ``--credential`` (default
``remediate-vm-admin``); outside Azure Automation from ``REMEDIATE_USER`` / ``REMEDIATE_PASSWORD``.
Output: one line per host, then a one-line JSON summary. See runbooks/README.md.
"""

from remediate.automation.entry import main, named_vms

if __name__ == "__main__":
    main(named_vms)
