"""Azure Automation: what the runbooks in ``runbooks/`` call, so that the runbook files stay a few lines.

- :mod:`remediate.automation.settings`: credentials and settings from the Automation account's assets
  (``automationassets``), environment variables elsewhere; ``DefaultAzureCredential`` for Azure calls.
- :mod:`remediate.automation.output`: the job's Output stream (one line per host, a short JSON summary) and
  :class:`~remediate.automation.output.RunbookFailed`, raised so that the job ends Failed.
- :mod:`remediate.automation.children`: a parent runbook's child jobs, one per shard of the hosts.
- :mod:`remediate.automation.package`: ``remediate automation package DIR``.
"""
