"""agent-network: the agent and the backup extension cannot reach Azure (Windows and Linux).

Answers ExtensionSnapshotFailedNoNetwork and UserErrorGuestAgentStatusUnavailable, and the seed page's network rows
(the VM has no access to the internet / to 168.63.129.16).

Check: TCP reachability of the wire server ``168.63.129.16`` on ports 80 and 32526 and of the Storage endpoints
the operator names (``storage_endpoints``, port 443); DNS resolution of those names (and of ``dns_names``); DHCP on
the primary adapter (the one of the default route); on Windows the WinHTTP proxy (read from its registry value,
not from ``netsh``'s translated text). Linux probes with ``curl`` and ``getent``, Windows with a TCP connect.

Change, only what the operator asks for:

- ``routes`` (prefixes such as ``168.63.129.16/32,10.1.0.0/16``, taken from the Azure IP ranges / service tags)
  through ``next_hop``: ``ip route replace`` on Linux (not persistent across a reboot: put it in the
  distribution's network configuration to keep it), ``New-NetRoute`` on Windows, each only where it is missing;
- ``proxy`` (``host:port``) as the WinHTTP proxy on Windows (``netsh winhttp set proxy``), ``proxy_bypass`` with it.

DHCP is never turned off; a static address is only reported. Unreachable targets with nothing asked for are
reported with what to try. Undo: the routes are removed (or the previous next hop put back on Linux), the proxy is
set back to what it was (or reset to direct access).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk, Verdict
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

WIRESERVER = "168.63.129.16"
WIRE_TARGETS = (f"{WIRESERVER}:80", f"{WIRESERVER}:32526")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*$")


def _items(raw: Any) -> list[str]:
    if isinstance(raw, (list, tuple)):
        return [str(x).strip() for x in raw if str(x).strip()]
    return [p.strip() for p in re.split(r"[,\s]+", str(raw)) if p.strip()]


def parse_routes(raw: Any) -> tuple[str, ...]:
    """IPv4 prefixes (``10.1.0.0/16``; a bare address is a /32), canonical, without duplicates."""
    out: list[str] = []
    for item in _items(raw):
        try:
            net = ipaddress.IPv4Network(item, strict=True)
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IPv4 prefix like 10.1.0.0/16 ({exc})") from None
        if net.prefixlen == 0:
            raise ValueError("0.0.0.0/0 would replace the default route: give narrower prefixes")
        if str(net) not in out:
            out.append(str(net))
    return tuple(out)


def parse_ip(raw: Any) -> str:
    return str(ipaddress.IPv4Address(str(raw).strip()))


def parse_hostnames(raw: Any) -> tuple[str, ...]:
    names = _items(raw)
    for name in names:
        if not _HOSTNAME.match(name):
            raise ValueError(f"{name!r} is not a host name")
    return tuple(names)


def parse_proxy(raw: Any) -> str:
    text = str(raw).strip()
    m = re.fullmatch(r"(?:https?://)?([A-Za-z0-9.-]+):(\d{1,5})", text)
    if not m or not _HOSTNAME.match(m.group(1)) or not 0 < int(m.group(2)) < 65536:
        raise ValueError(f"{text!r} is not host:port")
    return f"{m.group(1)}:{m.group(2)}"


def parse_bypass(raw: Any) -> str:
    text = str(raw).strip()
    if not re.fullmatch(r"[A-Za-z0-9.*<>;:_-]*", text):
        raise ValueError(f"{text!r} is not a bypass list like *.contoso.com;<local>")
    return text


@dataclass
class Route:
    prefix: str  # canonical CIDR, "0.0.0.0/0" for default
    next_hop: str | None
    interface: str | None = None


@dataclass
class NetworkState:
    os: str
    reach: dict[str, str]  # target -> "ok" or what failed
    dns: dict[str, str | None]
    routes: list[Route]
    primary: str | None  # primary adapter
    dhcp: bool | None
    proxy: str | None = None  # Windows WinHTTP proxy, None = direct
    proxy_bypass: str | None = None  # its bypass list
    notes: list[str] = field(default_factory=list)


def parse_ip_route(line: str) -> Route | None:
    """One ``ip -4 route show`` line."""
    words = line.split()
    if not words:
        return None
    if words[0] in ("blackhole", "unreachable", "prohibit", "throw"):
        return None
    prefix = "0.0.0.0/0" if words[0] == "default" else str(ipaddress.IPv4Network(words[0], strict=False))
    hop = words[words.index("via") + 1] if "via" in words else None
    dev = words[words.index("dev") + 1] if "dev" in words else None
    return Route(prefix, hop, dev)


def parse_ip_addr(lines: list[str]) -> dict[str, bool]:
    """``{interface: has a DHCP (dynamic) address}`` from ``ip -4 -o addr show`` lines."""
    out: dict[str, bool] = {}
    for line in lines:
        words = line.split()
        if len(words) > 2 and words[2] == "inet":
            name = words[1]
            out[name] = out.get(name, False) or "dynamic" in words
    return out


class AgentNetwork(Remediation[NetworkState]):
    """Checks the agent's network paths; adds the routes and the proxy the operator gives."""

    slug = "agent-network"
    title = "Network paths of the agent: wire server, Storage, DNS, DHCP, proxy"
    os = "any"
    risk = Risk.DISRUPTIVE
    answers = ("ExtensionSnapshotFailedNoNetwork", "UserErrorGuestAgentStatusUnavailable")
    params = (
        Param("routes", "IPv4 prefixes to route through next_hop", parse=parse_routes, example="168.63.129.16/32"),
        Param("next_hop", "the gateway for routes", parse=parse_ip, example="10.0.0.1"),
        Param(
            "storage_endpoints",
            "Storage host names to test on port 443",
            parse=parse_hostnames,
            default=(),
            example="mystorage.blob.core.windows.net",
        ),
        Param("dns_names", "more names that must resolve", parse=parse_hostnames, default=()),
        Param("proxy", "WinHTTP proxy host:port to set (Windows)", parse=parse_proxy, example="proxy.contoso.com:3128"),
        Param("proxy_bypass", "WinHTTP bypass list with proxy", parse=parse_bypass, default=""),
    )
    example = "remediate --host vm1 agent-network --yes --param routes=168.63.129.16/32 --param next_hop=10.0.0.1"
    order = 330

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        from remediate.errors import ConfigError

        if self.values["routes"] and not self.values["next_hop"]:
            raise ConfigError("agent-network: routes needs next_hop", step="parameters", hint="--param next_hop=IP")
        if self.values["next_hop"] and not self.values["routes"]:
            raise ConfigError("agent-network: next_hop needs routes", step="parameters", hint="--param routes=PREFIX")

    # -- check -----------------------------------------------------------------------------------------------
    def _targets(self) -> list[str]:
        return [*WIRE_TARGETS, *(f"{name}:443" for name in self.values["storage_endpoints"])]

    def _names(self) -> list[str]:
        return list(dict.fromkeys([*self.values["storage_endpoints"], *self.values["dns_names"]]))

    def check(self, conn: Connection) -> NetworkState:
        if (conn.host.os or "linux") == "windows":
            return self._check_windows(conn)
        return self._check_linux(conn)

    def _check_linux(self, conn: Connection) -> NetworkState:
        urls = []
        for target in self._targets():
            host, port = target.rsplit(":", 1)
            urls.append(f"https://{host}/" if port == "443" else f"http://{host}:{port}/")
        data = conn.run(read("agent_network/status.sh", targets=urls, names=self._names())).data or {}
        reach = dict(zip(self._targets(), data.get("reach", []), strict=False))
        dns = {n: (a or None) for n, a in zip(data.get("name", []), data.get("address", []), strict=False)}
        routes = [r for r in (parse_ip_route(line) for line in data.get("route", [])) if r]
        primary = next((r.interface for r in routes if r.prefix == "0.0.0.0/0"), None)
        dhcp = parse_ip_addr(data.get("addr", [])).get(primary) if primary else None
        return NetworkState("linux", reach, dns, routes, primary, dhcp)

    def _check_windows(self, conn: Connection) -> NetworkState:
        data = conn.run(read("agent_network/status.ps1", targets=self._targets(), names=self._names())).data or {}
        routes = [
            Route(str(r["prefix"]), r.get("next_hop"), str(r.get("interface_index"))) for r in data.get("routes") or []
        ]
        default = sorted(
            (r for r in data.get("routes") or [] if r.get("prefix") == "0.0.0.0/0"),
            key=lambda r: int(r.get("metric") or 0),
        )
        adapters = {str(a.get("index")): a for a in data.get("adapters") or []}
        primary_adapter = adapters.get(str(default[0].get("interface_index"))) if default else None
        return NetworkState(
            "windows",
            dict(data.get("reachable") or {}),
            dict(data.get("dns") or {}),
            routes,
            primary_adapter.get("name") if primary_adapter else None,
            bool(primary_adapter.get("dhcp")) if primary_adapter else None,
            data.get("winhttp_proxy") or None,
            data.get("winhttp_bypass") or None,
        )

    # -- plan ------------------------------------------------------------------------------------------------
    def _missing_routes(self, state: NetworkState) -> list[tuple[str, str | None]]:
        """``(prefix, previous next hop)`` of the asked-for routes that are not there yet."""
        hop = self.values["next_hop"]
        missing = []
        for prefix in self.values["routes"] or ():
            same = [r for r in state.routes if r.prefix == prefix]
            if not any(r.next_hop == hop for r in same):
                missing.append((prefix, same[0].next_hop if same else None))
        return missing

    def plan(self, state: NetworkState) -> Plan:
        plan = Plan()
        hop = self.values["next_hop"]
        missing = self._missing_routes(state)
        if missing:
            prefixes = [p for p, _ in missing]
            if state.os == "windows":
                op = mutate("agent_network/add_routes.ps1", routes=prefixes, next_hop=hop)
                undo = mutate("agent_network/remove_routes.ps1", routes=prefixes, next_hop=hop)
            else:
                op = mutate("agent_network/add_routes.sh", routes=prefixes, next_hop=hop)
                lines = [f"{p}\t{hop}\t{prev or ''}" for p, prev in missing]
                undo = mutate("agent_network/restore_routes.sh", routes=lines)
                plan.notes.append(
                    "routes set with `ip route replace` do not survive a reboot: add them to the network "
                    "configuration (netplan, NetworkManager, ifcfg) to keep them"
                )
            plan.changes.append(
                Change(
                    f"route {', '.join(prefixes)} via {hop}",
                    op,
                    before={p: prev for p, prev in missing},
                    after={p: hop for p in prefixes},
                    undo=undo,
                )
            )
        want_proxy = self.values["proxy"]
        if want_proxy and state.os == "windows" and state.proxy != want_proxy:
            bypass = self.values["proxy_bypass"]
            plan.changes.append(
                Change(
                    f"set the WinHTTP proxy to {want_proxy}" + (f" (bypass {bypass})" if bypass else ""),
                    mutate("agent_network/set_proxy.ps1", proxy=want_proxy, bypass=bypass),
                    before={"winhttp_proxy": state.proxy, "winhttp_bypass": state.proxy_bypass},
                    after={"winhttp_proxy": want_proxy, "winhttp_bypass": bypass or None},
                    undo=mutate(
                        "agent_network/set_proxy.ps1",
                        proxy=state.proxy or "",
                        bypass=(state.proxy_bypass or "") if state.proxy else "",
                    ),
                )
            )
        elif want_proxy and state.os != "windows":
            plan.notes.append("proxy is a WinHTTP setting: on Linux set HttpProxy.Host/Port in /etc/waagent.conf")
        if not plan.changes:
            plan.notes.extend(self._advice(state))
        return plan

    def _advice(self, state: NetworkState) -> list[str]:
        notes = []
        for target, result in state.reach.items():
            if result != "ok":
                notes.append(
                    f"{target} is not reachable ({result}): check NSG rules, firewalls and routes; give routes= and "
                    "next_hop= (and proxy= on Windows) to fix it from here"
                )
        for name, address in state.dns.items():
            if not address:
                notes.append(f"{name} does not resolve: check the VNet's DNS servers")
        if state.dhcp is False:
            notes.append(f"the primary adapter {state.primary} has a static address: Azure expects DHCP (not changed)")
        return notes

    # -- verify ----------------------------------------------------------------------------------------------
    def verdict(self, state: NetworkState) -> Verdict:
        reasons = [f"{t}: {r}" for t, r in state.reach.items() if r != "ok"]
        reasons += [f"{n} does not resolve" for n, a in state.dns.items() if not a]
        reasons += [f"route {p} via {self.values['next_hop']} missing" for p, _ in self._missing_routes(state)]
        if self.values["proxy"] and state.os == "windows" and state.proxy != self.values["proxy"]:
            reasons.append(f"WinHTTP proxy is {state.proxy or 'direct'}")
        if state.dhcp is False:
            reasons.append(f"the primary adapter {state.primary} has DHCP off")
        return Verdict(not reasons, reasons)

    def findings(self, state: NetworkState) -> list[Finding]:
        found = [Finding(t, "reachable" if r == "ok" else "unreachable", r == "ok", r) for t, r in state.reach.items()]
        found += [Finding(n, a or "does not resolve", bool(a)) for n, a in state.dns.items()]
        if state.primary:
            found.append(Finding(f"DHCP on {state.primary}", "on" if state.dhcp else "off", state.dhcp is not False))
        if state.os == "windows":
            found.append(Finding("WinHTTP proxy", state.proxy or "direct", True))
        return found
