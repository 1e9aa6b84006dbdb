"""Azure Automation runbook (Python 3.10): a fleet split across child jobs, one per shard of the hosts.

Parameters: the host sources and remediations of ``remediate_backup_failures`` (``-i``, ``--az-vm-list``,
``--host``, ``--limit``, slugs, ``--for``, ``--dry-run``, ``--yes`` ...), plus ``--shard-size N`` (default 50),
``--run-on GROUP`` (a Hybrid Runbook Worker group; none: the cloud sandbox), ``--account`` /
``--resource-group`` / ``--subscription`` of the Automation account (or the variables
``remediate-automation-account``, ``remediate-automation-resource-group``, ``remediate-subscription``).
Each child is ``remediate_backup_failures`` with ``--shard K/N``. Output: one line per child job and per host
that did not make it, then the merged JSON summary; the job fails when a host failed or a child was lost.
"""

from remediate.automation.entry import main, sharded

if __name__ == "__main__":
    main(sharded)
