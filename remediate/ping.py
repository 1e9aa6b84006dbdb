"""``remediate ping``: connect, authenticate, run the read-only probe script, report what the host is."""

from __future__ import annotations

from typing import Any

from remediate.contract import Finding, Plan, Remediation, Risk
from remediate.operation import read


class Ping(Remediation[dict[str, Any]]):
    """Reachability and identity of a host: never changes anything."""

    slug = "ping"
    title = "Connect and report the host's name, OS version and console code page"
    os = "any"
    risk = Risk.SAFE

    def check(self, conn: Any) -> dict[str, Any]:
        if conn.host.transport == "winrm" or conn.host.os == "windows":
            return dict(conn.run(read("common/probe.ps1", echo="pong")).data or {})
        data = conn.run(read("common/probe.sh", echo="pong")).data or {}
        return {k: v[0] if len(v) == 1 else v for k, v in data.items()}

    def plan(self, state: dict[str, Any]) -> Plan:
        return Plan()

    def compliant_reason(self, state: dict[str, Any]) -> str:
        facts = ", ".join(f"{k}={v}" for k, v in sorted(state.items()) if k != "echo")
        return f"reachable: {facts}" if facts else "reachable"

    def findings(self, state: dict[str, Any]) -> list[Finding]:
        return [Finding(str(k), str(v), True) for k, v in sorted(state.items())]
