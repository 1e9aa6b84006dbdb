"""agent-network on lab Linux and Windows hosts. The probes are answered by the lab's models: nothing leaves
localhost (the Linux curl and getent are the lab's shims; the Windows scripts run as the lab's handlers)."""

from __future__ import annotations

import pytest
from lab_run import lab_run
from linux_lab import linux_lab
from remediate.remediations.agent_network import AgentNetwork, parse_ip_addr, parse_ip_route, parse_routes

from remediate.errors import ConfigError

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


def test_windows_proxy_undo_puts_back_the_bypass_list(tmp_path) -> None:
    with lab_run(tmp_path) as run:
        with run.edit() as st:
            st["machine"]["network"]["winhttp_proxy"] = "old.contoso.com:8080"
            st["machine"]["network"]["winhttp_bypass"] = "*.contoso.com;<local>"
        result, report = run.run("agent-network", assume_yes=True, params={"proxy": "new.contoso.com:3128"})
        assert result.status == "changed", result.reason
        (change,) = result.steps[0].applied
        assert change["before"] == {"winhttp_proxy": "old.contoso.com:8080", "winhttp_bypass": "*.contoso.com;<local>"}
        assert run.machine()["network"]["winhttp_proxy"] == "new.contoso.com:3128"

        undo = run.undo(report.run_id)
        assert undo.hosts[0].status == "changed", undo.hosts[0].reason
        net = run.machine()["network"]
        assert (net["winhttp_proxy"], net["winhttp_bypass"]) == ("old.contoso.com:8080", "*.contoso.com;<local>")


def test_windows_refused_connection_is_reported_as_refused(tmp_path) -> None:
    with lab_run(tmp_path) as run:
        with run.edit() as st:
            st["machine"]["network"]["reachable"]["168.63.129.16:32526"] = "refused"
            st["machine"]["network"]["reachable"]["168.63.129.16:80"] = False
        result, _ = run.run("agent-network", dry_run=True)
        found = {f["subject"]: f["detail"] for f in result.steps[0].findings}
        assert found["168.63.129.16:32526"] == "refused"
        assert found["168.63.129.16:80"] == "no answer within 5 seconds"


def test_windows_netsh_failure_is_reported_with_its_exit_code_not_as_a_native_command_error(tmp_path) -> None:
    """netsh writes its error on stderr: with "& netsh ... 2>&1" under ErrorActionPreference Stop, Windows
    PowerShell 5.1 throws that line as a NativeCommandError and the script's exit-code branch never runs."""
    with lab_run(tmp_path) as run:
        with run.edit() as st:
            st["machine"]["network"]["netsh_failure"] = {
                "exit_code": 5,
                "stderr": "Error writing proxy settings. (5) Access is denied.\r\n",
            }
        result, _ = run.run("agent-network", assume_yes=True, params={"proxy": "new.contoso.com:3128"})
        assert result.status == "failed"
        error = result.steps[0].error
        assert "netsh winhttp failed with exit code 5" in error["remote"], error
        assert "Access is denied" in error["remote"]
        assert run.machine()["network"]["winhttp_proxy"] is None
