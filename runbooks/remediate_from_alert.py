"""Azure Automation runbook (Python 3.10): a failed-backup alert, diagnosed and fixed.

Started by ``Start-RemediateFromAlert.ps1`` (the webhook's PowerShell runbook: webhooks cannot start Python
runbooks) with ``--vault-id ID --job-id GUID [--vm-id ID]``, or with ``--payload JSON`` (the common alert
schema body, or ``@FILE``). Reads the failed job for its error code, runs what ``diagnose`` names for it on the
VM (dry-run unless ``--apply`` or the variable ``remediate-apply``), then with ``--retrigger`` (or
``remediate-retrigger``) starts an on-demand backup and waits for it. See runbooks/README.md.
"""

from remediate.automation.azureflows import from_alert
from remediate.automation.entry import main

if __name__ == "__main__":
    main(from_alert)
