"""Checks made before anything runs: every host has an address that can be one, a user and a credential.

A mistake found here stops the run with one error per host and exit code 1, instead of ending each host
``failed`` after the run began. Only what can be known without connecting is checked.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from remediate.credentials import password_for, user_for
from remediate.errors import ConfigError

if TYPE_CHECKING:
    from remediate.connection import ConnectOptions
    from remediate.inventory.host import Host

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
MAX_LISTED = 10
CONNECTIONS = ("winrm", "ssh", "azure-runcommand", "azure-arm")


def valid_address(target: str) -> bool:
    """A DNS name (letters, digits, '-', '_' in dot-separated labels), an IPv4 or an IPv6 address."""
    try:
        ipaddress.ip_address(target.split("%", 1)[0])
        return True
    except ValueError:
        pass
    name = target[:-1] if target.endswith(".") else target
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def _said(host: Host, exc: ConfigError) -> str:
    return exc.message.removeprefix(f"host {host.name}: ") + (f" ({exc.hint})" if exc.hint else "")


def problems(host: Host, options: ConnectOptions, *, ad_hoc: bool = False, login: bool = True) -> list[str]:
    """What stops this host before a connection is tried (empty when nothing does). ``login=False``: the run
    logs in nowhere (its remediations are Azure-side and refuse any other connection before sending anything)."""
    out: list[str] = []
    if host.transport not in CONNECTIONS:
        return [f"unknown connection {host.transport!r}: use {', '.join(CONNECTIONS)}"]
    if host.transport.startswith("azure-") or not login:
        return out  # reached through Azure's API by the VM's name: no address, user or password of its own
    power = str(host.vars.get("azure_power_state") or "").removeprefix("VM ").lower()
    if power and power != "running":
        return out  # reported as not running, never contacted
    if not valid_address(host.target):
        out.append(f"{host.target!r} is not a host name or an IP address")
    if host.transport == "winrm":
        from remediate.connection.winrm import Endpoint

        try:
            Endpoint.of(host, options)  # the WinRM settings: scheme, transport, encryption, code page (no I/O)
        except ConfigError as exc:
            out.append(_said(host, exc))
        transport = str(host.vars.get("winrm_transport") or "ntlm")
        if transport != "certificate" and not user_for(host, options):
            where = "--user NAME (or export REMEDIATE_USER)" if ad_hoc else "user in the inventory, or --user NAME"
            out.append(f"no user name for WinRM: give {where}")
        if transport not in ("certificate", "kerberos"):
            try:
                password = password_for(host, options)
            except ConfigError as exc:
                out.append(_said(host, exc))
            else:
                if password is None:
                    hint = "--password-env NAME, --ask-pass or export REMEDIATE_PASSWORD"
                    if not ad_hoc:
                        hint = "password_env or password_file for the host, " + hint
                    out.append(f"no password for WinRM: give {hint}")
    else:
        try:
            password_for(host, options)  # a password_env that is not set, a password_file that cannot be read
        except ConfigError as exc:
            out.append(_said(host, exc))
    return out


def check(hosts: Sequence[Host], options: ConnectOptions, ad_hoc: Iterable[str] = (), *, login: bool = True) -> None:
    """Raise one ConfigError naming every host that cannot be tried, and why."""
    ad_hoc_names = set(ad_hoc)
    found = [(h.name, p) for h in hosts for p in problems(h, options, ad_hoc=h.name in ad_hoc_names, login=login)]
    if not found:
        return
    if len(found) == 1:
        name, problem = found[0]
        raise ConfigError(problem, host=name, step="configuration", hint="nothing was run")
    lines = [f"  {name}: {problem}" for name, problem in found[:MAX_LISTED]]
    if len(found) > MAX_LISTED:
        lines.append(f"  ... and {len(found) - MAX_LISTED} more")
    hosts_hit = len({name for name, _ in found})
    raise ConfigError(
        f"{len(found)} configuration problem(s) on {hosts_hit} host(s); nothing was run:\n" + "\n".join(lines)
    )
