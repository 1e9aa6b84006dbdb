"""The lab orchestrator: hosts, their state files, their servers (see the package docstring)."""

from __future__ import annotations

import contextlib
import copy
import getpass
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediate.inventory.host import Host
from remediate.lab.state import HostState, OpLog, dump_yaml, load_yaml

MACHINES_DIR = Path(__file__).parent / "machines"
LAB_USER_WINDOWS = "labadmin"
LAB_USER_LINUX = "azureuser"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Dict keys merge recursively, everything else (lists included) replaces."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def ready_made_machines() -> dict[str, Path]:
    """Every ready-made machine by name (``windows-vss-writers-failed``, ``linux-fs-unclean``, ...)."""
    return {p.stem: p for p in sorted(MACHINES_DIR.glob("*.yml"))}


def machine_description(name: str) -> str:
    """A ready-made machine's ``description``, or else the comment that opens its file, in one line."""
    path = ready_made_machines().get(name)
    if path is None:
        return ""
    spec = load_yaml(path) or {}
    if spec.get("description"):
        return " ".join(str(spec["description"]).split())
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(" ".join(lines).split())


def machine_spec(name: str) -> dict[str, Any]:
    path = ready_made_machines().get(name)
    if path is None:
        known = ", ".join(ready_made_machines()) or "none"
        raise ValueError(f"no ready-made lab machine {name!r}; known: {known}")
    return load_yaml(path) or {}


@dataclass
class _Server:
    name: str
    handle: Any


class Lab:
    """A directory of lab hosts and the servers that make them reachable."""

    def __init__(self, directory: str | Path, *, password: str | None = None) -> None:
        self.dir = Path(directory).resolve()
        self.hosts_dir = self.dir / "hosts"
        self.hosts_dir.mkdir(parents=True, exist_ok=True)
        self.oplog = OpLog(self.dir / "oplog.jsonl")
        self.secret_file = self.dir / "secret"
        if password is None and self.secret_file.exists():
            password = self.secret_file.read_text(encoding="utf-8").strip()
        self.password = password or secrets.token_urlsafe(18)
        self._write_private(self.secret_file, self.password + "\n")
        self.known_hosts = self.dir / "known_hosts"
        self.key_file = self.dir / "id_lab"
        self.ca_file = self.dir / "ca.pem"
        self._servers: list[_Server] = []
        self.inventory_path: Path | None = None
        self.azure_file = self.dir / "azure.yml"

    # -- Azure ---------------------------------------------------------------------------------------------------
    def enable_azure(self, **settings: Any) -> Any:
        """Make the lab an Azure subscription whose VMs are its hosts (see :mod:`lab.azure`)."""
        from remediate.lab.azure.model import ARM, default_settings

        arm = ARM(self.dir)
        if not self.azure_file.exists():
            arm.state.write(default_settings(**settings))
        elif settings:
            with arm.edit() as data:
                data.update(settings)
        return arm

    @property
    def azure(self) -> Any:
        """The lab's :class:`lab.azure.model.ARM` (after :meth:`enable_azure`)."""
        from remediate.lab.azure.model import ARM

        if not self.azure_file.exists():
            raise RuntimeError("the lab has no Azure side: call enable_azure() first")
        return ARM(self.dir)

    @property
    def azure_config(self) -> Path:
        """``DIR/azure.json``: endpoint, subscription, CA bundle and token file, for remediate's Azure clients."""
        return self.dir / "azure.json"

    def _start_azure(self) -> None:
        import secrets as _secrets

        from remediate.lab.azure.api.backup import run_scheduled_backups
        from remediate.lab.azure.server import ARMServer, write_client_config

        token_file = self.dir / "arm-token"
        if not token_file.exists():
            self._write_private(token_file, _secrets.token_urlsafe(24) + "\n")
        token = token_file.read_text(encoding="utf-8").strip()
        arm = self.azure
        with arm.edit() as data:
            port = int(data.get("port") or 0)
            seeded = data.setdefault("seeded", False)
            data["seeded"] = True
        server = ARMServer(
            arm, tls=(str(self.dir / "server.pem"), str(self.dir / "server.key")), token=token, port=port
        )
        server.start()
        with arm.edit() as data:
            data["port"] = server.port
        self._servers.append(_Server("(azure)", server))
        write_client_config(self.dir, server, token_file)
        if not seeded:
            run_scheduled_backups(arm)

    # -- hosts ---------------------------------------------------------------------------------------------------
    def add_windows(
        self,
        name: str,
        machine: str | dict[str, Any] = "healthy",
        *,
        language: str | None = None,
        faults: dict[str, Any] | None = None,
        scheme: str = "https",
        transport: str = "ntlm",
    ) -> HostState:
        from remediate.lab.windows.model import default_machine

        spec = self._spec(machine, "windows")
        lang = language or spec.get("language") or "en-US"
        model = deep_merge(default_machine(lang, hostname=name.upper()[:15]), spec.get("machine") or {})
        if language:
            from remediate.lab.windows.model import LANGUAGES

            model["language"] = language
            model["codepage"] = LANGUAGES[language]
        state = {
            "name": name,
            "os": "windows",
            "port": None,
            "user": LAB_USER_WINDOWS,
            "winrm": {"scheme": scheme, "transport": transport},
            "faults": deep_merge(spec.get("faults") or {}, faults or {}),
            "machine": model,
        }
        if spec.get("azure"):
            state["azure"] = dict(spec["azure"])  # the VM's Azure facts (lab/azure/model.py)
        return self._save_new(name, state)

    def add_linux(
        self,
        name: str,
        machine: str | dict[str, Any] = "healthy",
        *,
        faults: dict[str, Any] | None = None,
        ssh_server: str = "paramiko",
    ) -> HostState:
        """A Linux host behind the lab's paramiko SSH server, or OpenSSH's sshd (``ssh_server="openssh"``,
        which logs in as the current user with the lab's key only)."""
        from remediate.lab.linux.host import default_machine

        spec = self._spec(machine, "linux")
        state = {
            "name": name,
            "os": "linux",
            "port": None,
            "user": getpass.getuser() if ssh_server == "openssh" else LAB_USER_LINUX,
            "ssh_server": ssh_server,
            "faults": deep_merge(spec.get("faults") or {}, faults or {}),
            "machine": deep_merge({**default_machine(), "hostname": name}, spec.get("machine") or {}),
        }
        if spec.get("azure"):
            state["azure"] = dict(spec["azure"])  # the VM's Azure facts (lab/azure/model.py)
        return self._save_new(name, state)

    def replace_machine(self, name: str, machine: str | dict[str, Any]) -> HostState:
        """Give a host exactly a ready-made machine's state, as a new host made from it would have: the old
        machine, its faults and its history (restart times of services, ...) are gone. The host keeps its name,
        port, user and connection settings, and its display language unless the machine is for a language
        other than en-US (``windows-msdtc-broken-ja``)."""
        current = self.state(name).read()
        os_name = current.get("os")
        spec = self._spec(machine, str(os_name))
        if os_name == "windows":
            wanted = spec.get("language")
            language = wanted if wanted and wanted != "en-US" else (current.get("machine") or {}).get("language")
            winrm = current.get("winrm") or {}
            state = self.add_windows(
                name,
                spec,
                language=language,
                scheme=winrm.get("scheme", "https"),
                transport=winrm.get("transport", "ntlm"),
            )
        else:
            state = self.add_linux(name, spec, ssh_server=current.get("ssh_server", "paramiko"))
        with state.edit() as data:
            data["port"] = current.get("port")
            data["user"] = current.get("user", data["user"])
        return state

    def _spec(self, machine: str | dict[str, Any], os_name: str) -> dict[str, Any]:
        if isinstance(machine, dict):
            return machine if "machine" in machine else {"machine": machine}
        if machine in ("healthy", f"{os_name}-healthy") and f"{os_name}-healthy" not in ready_made_machines():
            return {}
        name = machine if machine in ready_made_machines() else f"{os_name}-{machine}"
        spec = machine_spec(name)
        if spec.get("os", os_name) != os_name:
            raise ValueError(f"lab machine {name} is a {spec.get('os')} machine, not {os_name}")
        return spec

    def _save_new(self, name: str, state: dict[str, Any]) -> HostState:
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise ValueError(f"lab host names are letters, digits, '-' and '_': {name!r}")
        host_dir = self.hosts_dir / name
        host_dir.mkdir(parents=True, exist_ok=True)
        hs = HostState(self.hosts_dir / f"{name}.yml")
        hs.write(state)
        return hs

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.hosts_dir.glob("*.yml"))

    def state(self, name: str) -> HostState:
        path = self.hosts_dir / f"{name}.yml"
        if not path.exists():
            raise KeyError(f"no lab host {name!r} in {self.dir}")
        return HostState(path)

    def host_dir(self, name: str) -> Path:
        return self.hosts_dir / name

    # -- serving -------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start a server for every host in this process, then write the inventory and known_hosts."""
        names = self.names()
        states = {n: self.state(n) for n in names}
        oses = {n: s.read().get("os") for n, s in states.items()}
        if any(o == "windows" for o in oses.values()) or self.azure_file.exists():
            self._ensure_pki()
        if any(o == "linux" for o in oses.values()):
            self._ensure_client_key()
        known_lines = []
        for name in names:
            st = states[name]
            data = st.read()
            if data.get("os") == "windows":
                handle = self._start_windows(st, data)
            else:
                handle, line = self._start_linux(st, data)
                known_lines.append(line)
            with st.edit() as current:
                current["port"] = handle.port
            self._servers.append(_Server(name, handle))
        self.known_hosts.write_text("".join(known_lines))
        if self.azure_file.exists():
            self._start_azure()
        self.inventory_path = self.write_inventory()

    def _start_windows(self, st: HostState, data: dict[str, Any]) -> Any:
        from remediate.lab.windows.wsman import WinRMServer

        winrm = data.get("winrm") or {}
        scheme = winrm.get("scheme", "https")
        tls = (str(self.dir / "server.pem"), str(self.dir / "server.key")) if scheme == "https" else None
        server = WinRMServer(
            st,
            self.oplog,
            users={data["user"]: self.password},
            tls=tls,
            port=int(data.get("port") or 0),
            kerberos_keytab=winrm.get("keytab"),  # winrm: {transport: kerberos, keytab: ..., principal: ...}
        )
        server.start()
        return server

    def _start_linux(self, st: HostState, data: dict[str, Any]) -> tuple[Any, str]:
        """Start the host's SSH server; returns it and its known_hosts line."""
        if data.get("ssh_server") == "openssh":
            from remediate.lab.linux.openssh import OpenSSHServer

            real = OpenSSHServer(
                st,
                self.oplog,
                directory=self.host_dir(st.name) / "sshd",
                authorized_keys=[self._client_public_key()],
                port=int(data.get("port") or 0),
            )
            real.start()
            return real, real.known_hosts_line
        from remediate.lab.linux.sshd import SSHServer

        key_path = self.host_dir(st.name) / "ssh_host_ed25519_key"
        public = self._ensure_keypair(key_path)
        server = SSHServer(
            st,
            self.oplog,
            users={data["user"]: self.password},
            authorized_keys=[self._client_public_key()],
            host_key_path=str(key_path),
            port=int(data.get("port") or 0),
        )
        server.start()
        return server, f"[127.0.0.1]:{server.port} {public}\n"

    def port(self, name: str) -> int:
        for server in self._servers:
            if server.name == name:
                return int(server.handle.port)
        return int(self.state(name).read()["port"])

    def counters(self, name: str) -> dict[str, int]:
        """What the host's server has served so far: over WinRM its HTTP requests, shells created, commands,
        receives, signals...; over SSH the connections and exec requests (channels); for OpenSSH's sshd the
        logins in its log and the commands its forced command saw."""
        for server in self._servers:
            if server.name != name:
                continue
            handle = server.handle
            stats = getattr(handle, "stats", None)
            if stats is not None:
                return {str(k): int(v) for k, v in stats.items()}
            if hasattr(handle, "execs"):
                return {"connections": int(handle.connections), "execs": int(handle.execs)}
            return {"connections": handle.accepted_logins(), "execs": len(handle.commands())}
        raise KeyError(f"no running lab server for {name}")

    def stop(self) -> None:
        for server in reversed(self._servers):
            with contextlib.suppress(Exception):  # stopping must go on for the others
                server.handle.stop()
        self._servers.clear()
        try:
            from remediate.lab.linux.host import cleanup

            cleanup(self)
        except ImportError:
            pass

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what clients need ---------------------------------------------------------------------------------------
    def host(self, name: str) -> Host:
        """An inventory Host for a lab host, with every connection setting the lab's servers need."""
        data = self.state(name).read()
        port = self.port(name) if data.get("port") is None else int(data["port"])
        if data.get("os") == "windows":
            winrm = data.get("winrm") or {}
            vars_ = {
                "winrm_scheme": winrm.get("scheme", "https"),
                "winrm_transport": winrm.get("transport", "ntlm"),
                "password_file": str(self.secret_file),
                "lab_dir": str(self.host_dir(name)),
            }
            if winrm.get("scheme", "https") == "https":
                vars_["winrm_ca_trust_path"] = str(self.ca_file)
            if winrm.get("transport") == "kerberos":  # by the name of its HTTP/ service principal, as a ticket's holder
                user = str(winrm.get("principal") or data["user"])
                return Host(name, "localhost", port, "windows", "winrm", user, ["lab", "windows"], vars_)
            return Host(name, "127.0.0.1", port, "windows", "winrm", data["user"], ["lab", "windows"], vars_)
        vars_ = {
            "ssh_key_file": str(self.key_file),
            "known_hosts": str(self.known_hosts),
            "password_file": str(self.secret_file),
            "lab_dir": str(self.host_dir(name)),
        }
        from remediate.lab.linux.host import host_vars

        vars_.update(host_vars(self.host_dir(name)))  # the lab paths of the files remediations edit
        return Host(name, "127.0.0.1", port, "linux", "ssh", data["user"], ["lab", "linux"], vars_)

    def hosts(self) -> list[Host]:
        return [self.host(n) for n in self.names()]

    def write_inventory(self, path: str | Path | None = None) -> Path:
        """Write a native inventory of the lab's hosts (default: ``LABDIR/inventory.yml``)."""
        target = Path(path) if path else self.dir / "inventory.yml"
        hosts: dict[str, Any] = {}
        groups: dict[str, Any] = {"windows": {"hosts": []}, "linux": {"hosts": []}}
        for h in self.hosts():
            hosts[h.name] = {
                "address": h.address,
                "port": h.port,
                "os": h.os,
                "connection": h.connection,
                "user": h.user,
                **h.vars,
            }
            if self.azure_file.exists():
                arm = self.azure
                hosts[h.name].update(
                    azure_name=h.name, azure_resource_group=arm.resource_group, azure_subscription=arm.subscription
                )
            groups[h.os or "linux"]["hosts"].append(h.name)
        doc = {"hosts": hosts, "groups": {"lab": {"children": ["windows", "linux"]}, **groups}}
        header = "# remediate lab inventory, written by `remediate lab up`. Credentials are references only.\n"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(header + dump_yaml(doc), encoding="utf-8")
        return target

    # -- keys and certificates -----------------------------------------------------------------------------------
    def _ensure_pki(self) -> None:
        from remediate.lab import pki

        if not (self.dir / "server.pem").exists():
            pki.write_lab_pki(self.dir)

    def _ensure_client_key(self) -> None:
        self._ensure_keypair(self.key_file)

    def _client_public_key(self) -> str:
        return Path(str(self.key_file) + ".pub").read_text(encoding="ascii").strip()

    def _ensure_keypair(self, path: Path) -> str:
        """An Ed25519 key pair in OpenSSH format; returns the public key line."""
        pub = Path(str(path) + ".pub")
        if not path.exists() or not pub.exists():
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            key = Ed25519PrivateKey.generate()
            private = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
            public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            self._write_private(path, private.decode("ascii"))
            pub.write_text(public.decode("ascii") + "\n", encoding="ascii")
        return pub.read_text(encoding="ascii").strip()

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)

    def reboot(self, name: str) -> None:
        """Restart a Windows host: what Windows reads only at boot takes effect (:func:`lab.windows.model.reboot`)."""
        from remediate.lab.windows.model import reboot

        with self.state(name).edit() as st:
            reboot(st.setdefault("machine", {}))

    def show(self, name: str) -> str:
        return dump_yaml(self.state(name).read())
