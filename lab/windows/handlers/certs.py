"""Cert:\\LocalMachine\\My (``certificates`` list of {thumbprint, subject, issuer, friendly_name, not_before,
not_after, der_b64, has_private_key, key, optional delete_error}).

``key``: ``ok`` (default), ``unreadable`` (its file in MachineKeys denies us: opening it fails with
0x80090016 "Keyset does not exist", and ``-DeleteKey`` fails with access denied, so the certificate goes alone
and the key file stays, listed in ``orphaned_keys``) or ``missing`` (the file is gone: opening fails the same
way, deleting has nothing to delete). ``delete_error``: the certificate itself cannot be removed.

With ``agent.recreates_certificates`` and the guest agent running, deleting a CRP certificate makes the agent
create a fresh one on its next goal state, not at once: ``agent.certificate_due`` is when
(``agent.goal_state_s`` after the deletion, default 600 s); the certificate is in the store from then on.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import Any

from remediate.lab.windows.model import Call, ScriptFailure, handler

CRP = "DC=Windows Azure CRP Certificate Generator"
KEYSET_DOES_NOT_EXIST = "0x80090016 Keyset does not exist"
ACCESS_DENIED = "0x80070005 Access is denied."


def _store(call: Call) -> list[dict[str, Any]]:
    """The store as it is now: the agent's re-created certificate is in it once its goal state came."""
    store = call.machine.setdefault("certificates", [])
    agent = call.machine.get("agent") or {}
    due = agent.get("certificate_due")
    if due is not None and call.now >= float(due):
        store.append(_new_crp_certificate(float(due)))
        del agent["certificate_due"]
    return store


def _key(cert: dict[str, Any]) -> tuple[str, str | None]:
    if not cert.get("has_private_key", True):
        return "none", None
    if cert.get("key", "ok") in ("unreadable", "missing"):
        return "unusable", KEYSET_DOES_NOT_EXIST
    return "ok", None


@handler("extension_certs/get.ps1", mutating=False)
def certs_get(call: Call) -> dict[str, Any]:
    names = [str(n) for n in call.args.get("names") or [] if n]
    if not names:
        raise ScriptFailure("no certificate names given")
    found = []
    for cert in _store(call):
        text = (str(cert.get("subject", "")) + "\n" + str(cert.get("issuer", ""))).lower()
        if not any(n.lower() in text for n in names):
            continue
        key_state, key_error = _key(cert)
        found.append(
            {
                "thumbprint": str(cert["thumbprint"]).upper(),
                "subject": cert.get("subject", ""),
                "issuer": cert.get("issuer", ""),
                "friendly_name": cert.get("friendly_name", ""),
                "not_before": cert.get("not_before"),
                "not_after": cert.get("not_after"),
                "has_private_key": bool(cert.get("has_private_key", True)),
                "key_state": key_state,
                "key_error": key_error,
                "der_b64": cert.get("der_b64", ""),
            }
        )
    return {"certificates": found}


@handler("extension_certs/remove.ps1", mutating=True)
def certs_remove(call: Call) -> dict[str, Any]:
    thumbs = [str(t) for t in call.args.get("thumbprints") or []]
    if not thumbs:
        raise ScriptFailure("no thumbprints given")
    for t in thumbs:
        if not re.fullmatch(r"[0-9A-Fa-f]{40}", t):
            raise ScriptFailure(f"not a certificate thumbprint: '{t}'")
    store = _store(call)
    removed, absent, orphaned, recreate = [], [], [], False
    for t in thumbs:
        cert = next((c for c in store if str(c.get("thumbprint", "")).upper() == t.upper()), None)
        if cert is None:
            absent.append(t)
            continue
        if cert.get("delete_error"):
            raise ScriptFailure(str(cert["delete_error"]))
        if cert.get("key") == "unreadable":  # -DeleteKey fails; the certificate goes alone
            orphaned.append({"thumbprint": t, "error": ACCESS_DENIED})
            call.machine.setdefault("orphaned_keys", []).append(str(cert["thumbprint"]).upper())
        store.remove(cert)
        removed.append(t)
        recreate = recreate or cert.get("subject") == CRP
    agent = call.machine.get("agent") or {}
    running = (
        call.has_service("WindowsAzureGuestAgent") and call.service("WindowsAzureGuestAgent")["status"] == "Running"
    )
    if recreate and agent.get("recreates_certificates") and running and "certificate_due" not in agent:
        agent["certificate_due"] = call.now + float(agent.get("goal_state_s", 600))
    return {"removed": removed, "absent": absent, "orphaned_keys": orphaned}


def _new_crp_certificate(now: float) -> dict[str, Any]:
    digest = hashlib.sha1(f"crp-{now}".encode()).hexdigest().upper()
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 365 * 86400))
    return {
        "thumbprint": digest,
        "subject": CRP,
        "issuer": CRP,
        "friendly_name": "TenantEncryptionCert",
        "not_before": start,
        "not_after": end,
        "has_private_key": True,
        "der_b64": base64.b64encode(f"lab certificate {digest}".encode()).decode("ascii"),
    }
