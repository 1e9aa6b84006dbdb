"""A host as the runner sees it, whatever inventory it came from."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

# Variables whose values are secrets: never logged, never written to a result file.
SECRET_VARS = frozenset(
    {
        "password",
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_winrm_password",
        "ansible_become_password",
        "ansible_become_pass",
        "become_password",
        "key_passphrase",
        "ansible_ssh_private_key_passphrase",
        "ansible_winrm_pass",
        "ansible_psrp_password",
    }
)

# Any variable whose name says it holds a secret is masked too; these two only name where the secret is.
_SECRET_WORDS = re.compile(r"(^|_)(pass(word|wd|phrase)?|secrets?|tokens?|private_key|api_key)($|_)", re.IGNORECASE)
_REFERENCE_VARS = frozenset({"password_env", "password_file"})

MASK = "********"


@functools.lru_cache(maxsize=4096)
def is_secret_var(name: str) -> bool:
    """True for a variable whose value must never be shown (``password``, ``ansible_ssh_pass``, ``api_token``)."""
    if name in SECRET_VARS:
        return True
    if name in _REFERENCE_VARS or name.endswith(("_env", "_file", "_path")):
        return False
    return bool(_SECRET_WORDS.search(name))


@dataclass
class Host:
    """One machine to remediate.

    ``connection`` is ``winrm`` or ``ssh`` (``None``: from the OS, WinRM for Windows, SSH for Linux).
    ``vars`` holds everything else, with the names of the native format (see ``inventory/README.md``):
    ``winrm_scheme``, ``winrm_transport``, ``winrm_server_cert_validation``, ``winrm_ca_trust_path``,
    ``password_env``, ``password_file``, ``ssh_key_file``, ``known_hosts``, ``become``, ``proxy_jump``, ...
    Credentials are only references (an environment variable's name or a file), except where an Ansible
    inventory already holds them inline; those are kept out of every log and result.
    """

    name: str
    address: str | None = None
    port: int | None = None
    os: str | None = None  # "windows" | "linux" | None (unknown)
    connection: str | None = None  # "winrm" | "ssh" | None (from os)
    user: str | None = None
    groups: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.address or self.name

    @property
    def transport(self) -> str:
        """The connection kind, from the explicit setting or else from the OS."""
        if self.connection:
            return self.connection
        return "winrm" if self.os == "windows" else "ssh"

    def public_vars(self) -> dict[str, Any]:
        """Variables with secret values masked, for ``inventory --list`` and result files."""
        return {k: (MASK if is_secret_var(k) else v) for k, v in self.vars.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "os": self.os,
            "connection": self.transport,
            "user": self.user,
            "groups": list(self.groups),
            "vars": self.public_vars(),
        }
