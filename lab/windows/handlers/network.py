"""The Windows lab's model of the agent-network scripts (the ``network`` section of the machine).

``network``: ``adapters`` ``[{name, index, dhcp, ipv4}]``, ``routes`` ``[{prefix, next_hop, interface_index,
metric}]`` (Windows keeps routes to one prefix side by side), ``reachable`` ``{"IP:PORT": bool}`` (false: blocked
whatever the routes), optional ``working_gateways`` (when present, a route through another gateway is dead),
``dns`` ``{name: address or null}`` (unlisted names resolve), ``winhttp_proxy`` (``host:port`` or null) with
``winhttp_bypass``, ``netsh_failure`` ``{exit_code, stderr}`` (netsh winhttp fails so). A ``reachable`` value
``"refused"`` is a host that resets the connection at once. Nothing
is ever sent on the network: reachability comes from the model's routes (:mod:`lab.linux.model`, shared).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from remediate.lab.linux import model as netmodel
from remediate.lab.windows import traps
from remediate.lab.windows.model import Call, ScriptFailure, handler


def _net(call: Call) -> dict[str, Any]:
    return call.machine.setdefault("network", {})


@handler("agent_network/status.ps1", mutating=False)
def status(call: Call) -> dict[str, Any]:
    net = _net(call)
    reach = {}
    for target in call.args.get("targets") or []:
        if (net.get("reachable") or {}).get(target) == "refused":  # a reset at once, not silence
            reach[target] = "refused" if traps.observes_connect_errors(call.script) else "no answer within 5 seconds"
        else:
            reach[target] = "ok" if netmodel.reachable(net, target) else "no answer within 5 seconds"
    dns = {name: netmodel.resolve(net, name) for name in call.args.get("names") or []}
    return {
        "reachable": reach,
        "dns": dns,
        "adapters": [dict(a) for a in net.get("adapters", [])],
        "routes": [dict(r) for r in net.get("routes", [])],
        "winhttp_proxy": net.get("winhttp_proxy"),
        "winhttp_bypass": net.get("winhttp_bypass") if net.get("winhttp_proxy") else None,
    }


def _interface_for(net: dict[str, Any], hop: str) -> int:
    addr = ipaddress.IPv4Address(hop)
    for adapter in net.get("adapters", []):
        ipv4 = adapter.get("ipv4")
        if ipv4 and addr in ipaddress.IPv4Network(f"{ipv4}/{adapter.get('prefix_length', 24)}", strict=False):
            return int(adapter["index"])
    raise ScriptFailure(f"Find-NetRoute : The remote IP address {hop} is not reachable from any interface.")


@handler("agent_network/add_routes.ps1", mutating=True)
def add_routes(call: Call) -> dict[str, Any]:
    net = _net(call)
    hop = str(call.args["next_hop"])
    iface = _interface_for(net, hop)
    routes = net.setdefault("routes", [])
    added = []
    for prefix in call.args.get("routes") or []:
        if not any(r["prefix"] == prefix and r.get("next_hop") == hop for r in routes):
            routes.append({"prefix": prefix, "next_hop": hop, "interface_index": iface, "metric": 0})
            added.append(prefix)
    return {"added": added, "next_hop": hop, "interface_index": iface}


@handler("agent_network/remove_routes.ps1", mutating=True)
def remove_routes(call: Call) -> dict[str, Any]:
    net = _net(call)
    hop = str(call.args["next_hop"])
    routes = net.setdefault("routes", [])
    removed = []
    for prefix in call.args.get("routes") or []:
        keep = [r for r in routes if not (r["prefix"] == prefix and r.get("next_hop") == hop)]
        if len(keep) != len(routes):
            removed.append(prefix)
        routes[:] = keep
    return {"removed": removed}


@handler("agent_network/set_proxy.ps1", mutating=True)
def set_proxy(call: Call) -> dict[str, Any]:
    net = _net(call)
    proxy = str(call.args.get("proxy") or "")
    failure = net.get("netsh_failure")  # {exit_code, stderr}: netsh refuses (say, access denied)
    if failure:
        code, _, stderr = call.native("netsh", int(failure.get("exit_code", 1)), "", str(failure.get("stderr", "")))
        raise ScriptFailure(f"netsh winhttp failed with exit code {code}: {stderr.strip()}")
    net["winhttp_proxy"] = proxy or None
    net["winhttp_bypass"] = str(call.args.get("bypass") or "") or None
    return {"proxy": proxy, "bypass": str(call.args.get("bypass") or "")}
