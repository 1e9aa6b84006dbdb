"""Credentials, only ever by reference: an environment variable's name, a file, or a prompt.

A password found here is registered with the log redactor at once, so it can reach no log, result file or
error message. Order: the host's ``password_env``, its ``password_file``, an inline ``password`` (Ansible
inventories have them), the run's ``--password-env``, then ``REMEDIATE_PASSWORD``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from remediate.errors import ConfigError
from remediate.log import register_secret

if TYPE_CHECKING:
    from remediate.connection import ConnectOptions
    from remediate.inventory.host import Host

DEFAULT_PASSWORD_ENV = "REMEDIATE_PASSWORD"


def password_for(host: Host, options: ConnectOptions | None = None) -> str | None:
    v = host.vars
    value: str | None = None
    env_name = v.get("password_env")
    if env_name:
        value = os.environ.get(str(env_name))
        if value is None:
            raise ConfigError(
                f"host {host.name}: environment variable {env_name} (password_env) is not set",
                host=host.name,
                step="credentials",
                hint=f"export {env_name}=... before the run",
            )
    elif v.get("password_file"):
        path = Path(str(v["password_file"])).expanduser()
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(
                f"host {host.name}: cannot read password_file {path}: {exc.strerror}",
                host=host.name,
                step="credentials",
            ) from None
    elif v.get("password") is not None:
        value = str(v["password"])
    elif options is not None and options.password_env:
        value = os.environ.get(options.password_env)
    if value is None:
        value = os.environ.get(DEFAULT_PASSWORD_ENV)
    register_secret(value)
    return value


def user_for(host: Host, options: ConnectOptions | None = None) -> str | None:
    return host.user or (options.user if options else None) or os.environ.get("REMEDIATE_USER")
