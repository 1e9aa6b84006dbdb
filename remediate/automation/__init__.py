"""Azure Automation: what the runbooks in ``runbooks/`` call, so that the runbook files stay a few lines.

- :mod:`remediate.automation.entry`: the named-VMs runbook and the parent runbook (``sharded``), the host
  sources every runbook takes, and ``main``, which runs a body with ``sys.argv`` and lets a failure raise.
- :mod:`remediate.automation.azureflows`: the sweep and alert runbooks on the failed-backups loop
  (:mod:`remediate.azure.loop`), and VMs named by Azure name or resource id.
- :mod:`remediate.automation.alert`: the failed-backup alert in the common alert schema.
- :mod:`remediate.automation.settings`: credentials and settings from the Automation account's assets
  (``automationassets``), environment variables elsewhere. Azure calls go through :mod:`remediate.azure.clients`
  (``DefaultAzureCredential``: the managed identity).
- :mod:`remediate.automation.output`: the job's Output stream (one line per host, a short JSON summary) and
  :class:`~remediate.automation.output.RunbookFailed`, raised so that the job ends Failed.
- :mod:`remediate.automation.children`: a parent runbook's child jobs, one per shard of the hosts.
- :mod:`remediate.automation.package`: ``remediate automation package DIR``.
"""
