"""Azure for remediate: Microsoft's SDKs (``pip install remediate[azure]``) do the HTTP, polling and retries.

- :mod:`remediate.azure.clients`: the SDK clients for a subscription (``DefaultAzureCredential`` in real use;
  the lab's endpoint and token with ``--azure-config`` / ``REMEDIATE_AZURE_CONFIG``).
- :mod:`remediate.azure.backups`: failed backup jobs of Azure VMs, and the on-demand backup that checks a fix.
- :mod:`remediate.connection.runcommand`: Run Command as a transport (``connection: azure-runcommand``).
- :mod:`remediate.connection.arm`: ARM requests as operations of Azure-side remediations (``azure-arm``).
"""
