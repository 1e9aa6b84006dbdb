"""extension-certs: delete the Azure extension certificates whose private key cannot be opened; the VM agent
creates fresh ones.

Answers the same rows as ``machinekeys-acl``: ExtensionConfigParsingFailure, seed row
"構成の解析に失敗したため、スナップショット操作に失敗しました". After the MachineKeys permissions were changed,
the extension certificates' private keys cannot be read; the page says to delete every certificate issued to
"Windows Azure Service Management for Extensions" or "Windows Azure CRP Certificate Generator".

Check: certificates in ``Cert:\\LocalMachine\\My`` whose subject (or issuer) is
``DC=Windows Azure CRP Certificate Generator`` (ARM VMs, friendly name ``TenantEncryptionCert``) or
``CN=Windows Azure Service Management for Extensions`` (classic VMs), matched on the distinguished name's value,
never on a display text. Only a certificate whose private key cannot be opened (``key_state`` "unusable": the
"Keyset does not exist" of the page, reported with its HRESULT) is broken, or one the operator names with
``--param thumbprints=...``. A certificate whose key opens is the agent's working one and is never touched, so
a second run, however much later, changes nothing on a healthy VM.

Change: one per certificate: its public part (base64 DER) goes into the journal as ``before``, then it is
deleted with its private key. When the key file itself cannot be read (so ``-DeleteKey`` fails), the
certificate is removed without it and the result lists the key as orphaned (``orphaned_keys``: its file stays in
MachineKeys). The agent creates a new certificate on its next goal state, not at once. There is no undo: the
public part can be imported again, but the private key cannot be restored.

Example::

    remediate --host vm1 machinekeys-acl extension-certs --dry-run
    remediate -i inventory.yml extension-certs --yes
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk
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

_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")


def parse_thumbprints(raw: Any) -> tuple[str, ...]:
    """Operator-named certificate thumbprints: 40 hex digits each, comma-separated or a list."""
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    out: list[str] = []
    for item in items:
        text = str(item).strip().replace(" ", "")
        if not text:
            continue
        if not _THUMBPRINT.fullmatch(text):
            raise ValueError(f"{text!r} is not a certificate thumbprint (40 hex digits)")
        if text.upper() not in out:
            out.append(text.upper())
    return tuple(out)


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
    key_state: str = "ok"  # ok, none (no private key), unusable (cannot be opened)
    key_error: str | None = None

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
            key_state=str(data.get("key_state") or "ok"),
            key_error=data.get("key_error"),
        )

    @property
    def key_unusable(self) -> bool:
        return self.key_state == "unusable"

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
    """The extension certificates in LocalMachine\\My: ``broken`` ones (a private key that cannot be opened,
    or named by the operator) are deleted, ``working`` ones are left alone."""

    broken: list[Certificate] = field(default_factory=list)
    working: list[Certificate] = field(default_factory=list)

    @classmethod
    def read(cls, conn: Connection, named: tuple[str, ...] = ()) -> ExtensionCertificates:
        data = conn.run(read("extension_certs/get.ps1", names=list(NAMES))).data or {}
        certs = [Certificate.from_data(c) for c in data.get("certificates") or []]
        return cls.split([c for c in certs if c.is_extension_certificate], named)

    @classmethod
    def split(cls, certs: list[Certificate], named: tuple[str, ...] = ()) -> ExtensionCertificates:
        broken = [c for c in certs if c.key_unusable or c.thumbprint in named]
        return cls(broken, [c for c in certs if c not in broken])


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
    params = (
        Param(
            "thumbprints",
            "extension certificates to delete even though their key opens",
            parse=parse_thumbprints,
            default=(),
            example="3F2A9C1B7E5D4A6B8C0D1E2F3A4B5C6D7E8F9A0B",
        ),
    )

    def check(self, conn: Connection) -> ExtensionCertificates:
        return ExtensionCertificates.read(conn, tuple(self.values["thumbprints"] or ()))

    def findings(self, state: ExtensionCertificates) -> list[Finding]:
        out = [
            Finding(
                f"Cert:\\LocalMachine\\My\\{c.thumbprint}",
                c.subject,
                False,
                f"private key cannot be opened: {c.key_error}" if c.key_unusable else "named by the operator",
            )
            for c in state.broken
        ]
        out += [
            Finding(f"Cert:\\LocalMachine\\My\\{c.thumbprint}", c.subject, True, f"private key {c.key_state}")
            for c in state.working
        ]
        return out

    def plan(self, state: ExtensionCertificates) -> Plan:
        changes = [
            Change(
                summary=f"delete certificate {c.thumbprint} ({c.subject}"
                + (f", {c.friendly_name}" if c.friendly_name else "")
                + ") from Cert:\\LocalMachine\\My; the agent creates a new one on its next goal state",
                operation=mutate("extension_certs/remove.ps1", thumbprints=[c.thumbprint]),
                before=c.public_part(),
                after=None,
                undo=None,
                undo_note=UNDO_NOTE,
            )
            for c in state.broken
        ]
        return Plan(changes)
