"""Azure Automation runbook (Python 3.10), on a schedule: every VM whose latest backup failed, fixed.

Parameters: ``--vault NAME --resource-group RG`` (one vault), ``--resource-group RG`` (its vaults), or neither
(every vault of the subscription: ``--subscription`` or the variable ``remediate-subscription``);
``--since-days N``; ``--apply`` and ``--retrigger`` (or the variables ``remediate-apply``,
``remediate-retrigger``: without them it is a dry-run); ``-i INVENTORY`` for VMs to reach over WinRM/SSH (the
others go through Run Command). Output: one line per VM, then a JSON summary; the job fails when a fix failed
or a new backup did not succeed. See runbooks/README.md.
"""

from remediate.automation.azureflows import sweep
from remediate.automation.entry import main

if __name__ == "__main__":
    main(sweep)
