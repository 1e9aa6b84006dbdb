"""What the Azure-side remediations share: they run over the ``azure-arm`` connection only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from remediate.errors import ConfigError

if TYPE_CHECKING:
    from remediate.connection import Connection


def require_arm(conn: Connection, slug: str) -> None:
    """Refuse, before anything is sent, to run an Azure-side remediation over WinRM, SSH or Run Command."""
    if conn.kind != "azure-arm":
        raise ConfigError(
            f"{slug} is an Azure-side remediation (ARM requests), not something to run in the guest",
            host=conn.host.name,
            step=slug,
            hint="run it on the VM's resource: -i 'azure://SUBSCRIPTION/RG?connection=azure-arm', "
            "or let `remediate azure failed-backups --remediate` choose",
        )
