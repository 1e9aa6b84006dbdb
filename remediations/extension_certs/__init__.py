"""extension-certs: delete the Azure extension certificates so that the VM agent creates fresh ones.

Answers the same rows as ``machinekeys-acl``: ExtensionConfigParsingFailure, seed row
"構成の解析に失敗したため、スナップショット操作に失敗しました". After the MachineKeys permissions were changed,
the extension certificates' private keys cannot be read; the page says to delete every certificate issued to
"Windows Azure Service Management for Extensions" or "Windows Azure CRP Certificate Generator".

Check: certificates in ``Cert:\\LocalMachine\\My`` whose subject (or issuer) is
``DC=Windows Azure CRP Certificate Generator`` (ARM VMs, friendly name ``TenantEncryptionCert``) or
``CN=Windows Azure Service Management for Extensions`` (classic VMs), matched on the distinguished name's value,
never on a display text. Certificates created after the run started (``NotBefore`` at or after it) are the
agent's fresh ones and are left alone.

Change: one per certificate: its public part (base64 DER) goes into the journal as ``before``, then it is
deleted with its private key. The agent creates a new one on its next goal state. There is no undo: the
public part can be imported again, but the private key cannot be restored.

Example::

    remediate --host vm1 machinekeys-acl extension-certs --dry-run
    remediate -i inventory.yml extension-certs --yes
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from remediate.contract import Change, Finding, Plan, Remediation, Risk
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from collections.abc import Mapping

    from remediate.connection import Connection

CRP_GENERATOR = "Windows Azure CRP Certificate Generator"
CLASSIC_EXTENSIONS = "Windows Azure Service Management for Extensions"
NAMES = (CRP_GENERATOR, CLASSIC_EXTENSIONS)
UNDO_NOTE = (
    "cannot be undone: the journal keeps the certificate's public part (before.der_b64), but its private key "
    "was deleted with it and cannot be restored; the VM agent creates a new certificate on its next goal state"
)

_RDN = re.compile(r'\s*(?P<key>[A-Za-z0-9.]+)\s*=\s*(?P<value>"(?:[^"]|"")*"|(?:\\.|[^,+])*)')


def dn_values(dn: str) -> list[tuple[str, str]]:
    """The ``(attribute, value)`` pairs of a distinguished name as Windows writes it (``CN=a, DC=b``)."""
    out = []
    for m in _RDN.finditer(dn or ""):
        value = m.group("value").strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('""', '"')
        out.append((m.group("key").upper(), value))
    return out


def is_extension_name(dn: str) -> bool:
    """True for the DNs the page names: ``DC=``/``CN=`` equal to one of :data:`NAMES`."""
    return any(
        key in ("CN", "DC") and value.casefold() in {n.casefold() for n in NAMES} for key, value in dn_values(dn)
    )


@dataclass
class Certificate:
    thumbprint: str
    subject: str
    issuer: str
    friendly_name: str
    not_before: str
    not_after: str
    der_b64: str
    has_private_key: bool = True
    fresh: bool = False

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Certificate:
        return cls(
            thumbprint=str(data.get("thumbprint") or "").upper(),
            subject=str(data.get("subject") or ""),
            issuer=str(data.get("issuer") or ""),
            friendly_name=str(data.get("friendly_name") or ""),
            not_before=str(data.get("not_before") or ""),
            not_after=str(data.get("not_after") or ""),
            der_b64=str(data.get("der_b64") or ""),
            has_private_key=bool(data.get("has_private_key", True)),
            fresh=bool(data.get("fresh")),
        )

    @property
    def is_extension_certificate(self) -> bool:
        return is_extension_name(self.subject) or is_extension_name(self.issuer)

    def public_part(self) -> dict[str, Any]:
        return {
            "thumbprint": self.thumbprint,
            "subject": self.subject,
            "issuer": self.issuer,
            "friendly_name": self.friendly_name,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "der_b64": self.der_b64,
        }


@dataclass
class ExtensionCertificates:
    """The extension certificates in LocalMachine\\My: ``stale`` ones predate the run, ``fresh`` ones do not."""

    stale: list[Certificate] = field(default_factory=list)
    fresh: list[Certificate] = field(default_factory=list)

    @classmethod
    def read(cls, conn: Connection, newer_than: str) -> ExtensionCertificates:
        data = conn.run(read("extension_certs/get.ps1", names=list(NAMES), newer_than=newer_than)).data or {}
        certs = [Certificate.from_data(c) for c in data.get("certificates") or []]
        certs = [c for c in certs if c.is_extension_certificate]
        return cls([c for c in certs if not c.fresh], [c for c in certs if c.fresh])


class ExtensionCertificatesRemediation(Remediation[ExtensionCertificates]):
    """Delete the extension certificates whose keys the extension cannot use; the agent makes new ones."""

    slug = "extension-certs"
    title = "Delete the Azure extension certificates for the agent to re-create"
    os = "windows"
    risk = Risk.DISRUPTIVE
    answers = (
        "ExtensionConfigParsingFailure",
        "構成の解析に失敗したため、スナップショット操作に失敗しました",
    )
    example = "remediate --host vm1 extension-certs --dry-run"
    order = 40

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        # Certificates that begin at or after this moment were made by the agent during this run.
        self.started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def check(self, conn: Connection) -> ExtensionCertificates:
        return ExtensionCertificates.read(conn, self.started)

    def findings(self, state: ExtensionCertificates) -> list[Finding]:
        out = [
            Finding(f"Cert:\\LocalMachine\\My\\{c.thumbprint}", c.subject, False, f"not before {c.not_before}")
            for c in state.stale
        ]
        out += [
            Finding(f"Cert:\\LocalMachine\\My\\{c.thumbprint}", c.subject, True, f"created by the agent {c.not_before}")
            for c in state.fresh
        ]
        return out

    def plan(self, state: ExtensionCertificates) -> Plan:
        changes = [
            Change(
                summary=f"delete certificate {c.thumbprint} ({c.subject}"
                + (f", {c.friendly_name}" if c.friendly_name else "")
                + ") from Cert:\\LocalMachine\\My; the agent creates a new one",
                operation=mutate("extension_certs/remove.ps1", thumbprints=[c.thumbprint]),
                before=c.public_part(),
                after=None,
                undo=None,
                undo_note=UNDO_NOTE,
            )
            for c in state.stale
        ]
        return Plan(changes)
