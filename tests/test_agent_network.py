"""agent-network on lab Linux and Windows hosts. The probes are answered by the lab's models: nothing leaves
localhost (the Linux curl and getent are the lab's shims; the Windows scripts run as the lab's handlers)."""

from __future__ import annotations

import pytest
from lab_run import lab_run
from linux_lab import linux_lab

from remediate.errors import ConfigError
from remediations.agent_network import AgentNetwork, parse_ip_addr, parse_ip_route, parse_routes

ROUTE = {"routes": "168.63.129.16/32", "next_hop": "10.0.0.1"}


def test_parameters_are_validated() -> None:
    assert parse_routes("10.1.0.0/16, 168.63.129.16") == ("10.1.0.0/16", "168.63.129.16/32")
    assert parse_routes(["10.1.0.0/16", "10.1.0.0/16"]) == ("10.1.0.0/16",)
    for bad in (
        {"routes": "10.1.0.1/16", "next_hop": "10.0.0.1"},
        {"routes": "0.0.0.0/0", "next_hop": "10.0.0.1"},
        {"routes": "10.1.0.0/16", "next_hop": "10.0.0.1; reboot"},
        {"routes": "10.1.0.0/16"},
        {"proxy": "$(reboot):80"},
        {"storage_endpoints": "a b`c`"},
    ):
        with pytest.raises(ConfigError):
            AgentNetwork(bad)


def test_parse_ip_outputs() -> None:
    route = parse_ip_route("168.63.129.16 via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.4 metric 100")
    assert (route.prefix, route.next_hop, route.interface) == ("168.63.129.16/32", "10.0.0.1", "eth0")
    assert parse_ip_route("default via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.4 metric 100").prefix == "0.0.0.0/0"
    line = "2: eth0    inet 10.0.0.4/24 metric 100 brd 10.0.0.255 scope global dynamic eth0\\       valid_lft 3600sec"
    assert parse_ip_addr([line]) == {"eth0": True}


def test_linux_healthy(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        result, step = h.run(
            "agent-network", assume_yes=True, params={"storage_endpoints": "mystorage.blob.core.windows.net"}
        )
        assert result.status == "ok" and step.planned == [], step.reason
        assert h.mutations() == []


def test_linux_broken_route_found_then_fixed_and_undone(tmp_path) -> None:
    with linux_lab(tmp_path, "no-route") as h:
        result, step = h.run("agent-network", assume_yes=True)
        assert result.status == "failed" and any("168.63.129.16:80" in n for n in step.notes)

        before = h.snapshot()
        _, step = h.run("agent-network", dry_run=True, params=ROUTE)
        (change,) = step.planned
        assert change["operation"]["script"] == "agent_network/add_routes.sh"
        assert change["before"] == {"168.63.129.16/32": "10.0.0.250"}
        assert h.mutations() == [] and h.snapshot() == before

        result, step = h.run("agent-network", assume_yes=True, params=ROUTE)
        assert result.status == "changed" and step.verified, step.reason
        assert {"prefix": "168.63.129.16/32", "next_hop": "10.0.0.1", "dev": "eth0"} in h.machine()["network"]["routes"]
        assert [e["op"] for e in h.mutations()] == ["ip route replace 168.63.129.16/32 via 10.0.0.1"]

        result, step = h.run("agent-network", assume_yes=True, params=ROUTE)
        assert result.status == "ok" and step.planned == []

        journal = sorted((h.tmp / "journal").glob("*.jsonl"))
        fix = next(j.stem for j in journal if "add_routes.sh" in j.read_text())
        report = h.undo(fix)
        assert report.hosts[0].status != "failed", report.hosts[0].reason
        routes = h.machine()["network"]["routes"]
        assert {"prefix": "168.63.129.16/32", "next_hop": "10.0.0.250", "dev": "eth0"} in routes


def test_linux_unresolvable_storage_and_static_address_reported(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        with h.edit() as state:
            state["machine"]["network"]["dns"] = {"mystorage.blob.core.windows.net": None}
            state["machine"]["network"]["interfaces"][0]["dhcp"] = False
        result, step = h.run(
            "agent-network", assume_yes=True, params={"storage_endpoints": "mystorage.blob.core.windows.net"}
        )
        assert result.status == "failed"
        text = " ".join(step.notes)
        assert "does not resolve" in text and "static address" in text
        assert h.mutations() == []  # DHCP is never changed


WINDOWS_NO_ROUTE = "windows-no-route"


def test_windows_route_and_proxy(tmp_path) -> None:
    with lab_run(tmp_path, WINDOWS_NO_ROUTE) as run:
        result, _ = run.run("agent-network", assume_yes=True)
        assert result.status == "failed"

        params = {**ROUTE, "proxy": "proxy.contoso.com:3128", "proxy_bypass": "<local>"}
        result, _ = run.run("agent-network", dry_run=True, params=params)
        scripts = [c["operation"]["script"] for c in result.steps[0].planned]
        assert scripts == ["agent_network/add_routes.ps1", "agent_network/set_proxy.ps1"]
        assert run.mutations() == []

        result, report = run.run("agent-network", assume_yes=True, params=params)
        assert result.status == "changed" and result.steps[0].verified, result.reason
        net = run.machine()["network"]
        assert net["winhttp_proxy"] == "proxy.contoso.com:3128"
        assert any(r["prefix"] == "168.63.129.16/32" and r["next_hop"] == "10.0.0.1" for r in net["routes"])

        result, _ = run.run("agent-network", assume_yes=True, params=params)
        assert result.status == "ok" and result.steps[0].planned == []

        undo = run.undo(report.run_id)
        assert undo.hosts[0].status != "failed", undo.hosts[0].reason
        net = run.machine()["network"]
        assert net["winhttp_proxy"] is None
        assert not any(r["prefix"] == "168.63.129.16/32" and r["next_hop"] == "10.0.0.1" for r in net["routes"])
