"""Cert:\\LocalMachine\\My (``certificates`` list of {thumbprint, subject, issuer, friendly_name, not_before,
not_after, der_b64, has_private_key, optional delete_error}).

With ``agent.recreates_certificates`` and the guest agent running, deleting a CRP certificate makes the agent
create a fresh one (as it does on its next goal state), dated now.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from datetime import datetime, timezone
from typing import Any

from lab.windows.model import Call, ScriptFailure, handler

CRP = "DC=Windows Azure CRP Certificate Generator"


def _parse_time(text: str) -> datetime:
    return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@handler("extension_certs/get.ps1", mutating=False)
def certs_get(call: Call) -> dict[str, Any]:
    names = [str(n) for n in call.args.get("names") or [] if n]
    if not names:
        raise ScriptFailure("no certificate names given")
    since = _parse_time(call.args["newer_than"]) if call.args.get("newer_than") else None
    found = []
    for cert in call.machine.get("certificates") or []:
        text = (str(cert.get("subject", "")) + "\n" + str(cert.get("issuer", ""))).lower()
        if not any(n.lower() in text for n in names):
            continue
        fresh = since is not None and _parse_time(cert["not_before"]) >= since
        found.append(
            {
                "thumbprint": str(cert["thumbprint"]).upper(),
                "subject": cert.get("subject", ""),
                "issuer": cert.get("issuer", ""),
                "friendly_name": cert.get("friendly_name", ""),
                "not_before": cert.get("not_before"),
                "not_after": cert.get("not_after"),
                "has_private_key": bool(cert.get("has_private_key", True)),
                "der_b64": cert.get("der_b64", ""),
                "fresh": fresh,
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
    store = call.machine.setdefault("certificates", [])
    removed, absent, recreate = [], [], False
    for t in thumbs:
        cert = next((c for c in store if str(c.get("thumbprint", "")).upper() == t.upper()), None)
        if cert is None:
            absent.append(t)
            continue
        if cert.get("delete_error"):
            raise ScriptFailure(str(cert["delete_error"]))
        store.remove(cert)
        removed.append(t)
        recreate = recreate or cert.get("subject") == CRP
    agent = call.machine.get("agent") or {}
    running = (
        call.has_service("WindowsAzureGuestAgent") and call.service("WindowsAzureGuestAgent")["status"] == "Running"
    )
    if recreate and agent.get("recreates_certificates") and running:
        store.append(_new_crp_certificate(call.now))
    return {"removed": removed, "absent": absent}


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
