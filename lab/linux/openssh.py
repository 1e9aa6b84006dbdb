"""A real OpenSSH ``sshd`` for one lab Linux host, so the client is tested against the server VMs run.

``sshd -D -e -f CONFIG -p PORT`` listens on 127.0.0.1 with everything in one directory: its host key, the
authorized keys, the pid file, the log. Only key authentication, only the current user (root in CI). Every
session is forced through a small wrapper that sets the environment the lab's own SSH server gives a command
(:func:`lab.linux.sshd.exec_environment`, written to a file at start), appends the command line to
``commands.log`` and runs ``/bin/sh -c "$SSH_ORIGINAL_COMMAND"`` in the host's directory. The host's
``drop_mid_command`` fault (``true`` or a count) is served as sshd would suffer it: the command runs to its end,
then the session process is killed, so the connection drops before the exit status.

    server = OpenSSHServer(state, oplog, directory=tmp / "sshd", authorized_keys=[public_line])
    server.start()
    known_hosts.write_text(server.known_hosts_line)
    ...
    server.stop()
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

from remediate.lab.state import HostState, OpLog, consume_fault

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")


def sshd_missing_reason(sshd: str = SSHD) -> str | None:
    """Why a real sshd cannot run here, or None when it can."""
    if not os.access(sshd, os.X_OK):
        return f"{sshd} is not installed (apt-get install openssh-server; .ci/run does it)"
    return None


def _free_port(bind: str) -> int:
    with socket.socket() as sock:
        sock.bind((bind, 0))
        return int(sock.getsockname()[1])


class OpenSSHServer:
    """OpenSSH's sshd serving one lab host on ``127.0.0.1:port``."""

    def __init__(
        self,
        state: HostState,
        oplog: OpLog,
        *,
        directory: str | Path,
        authorized_keys: list[str],
        bind: str = "127.0.0.1",
        port: int = 0,
        sshd: str = SSHD,
    ) -> None:
        self.state = state
        self.oplog = oplog
        self.dir = Path(directory).resolve()
        self.authorized_keys = list(authorized_keys)
        self.bind = bind
        self.port = port
        self.sshd = sshd
        self.user = getpass.getuser()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host_key(self) -> Path:
        return self.dir / "ssh_host_ed25519_key"

    @property
    def log_path(self) -> Path:
        return self.dir / "sshd.log"

    @property
    def commands_log(self) -> Path:
        return self.dir / "commands.log"

    @property
    def host_public_key(self) -> str:
        return Path(str(self.host_key) + ".pub").read_text(encoding="ascii").strip()

    @property
    def known_hosts_line(self) -> str:
        """The ``known_hosts`` line of this server (``[127.0.0.1]:PORT ssh-ed25519 ...``)."""
        target = self.bind if self.port == 22 else f"[{self.bind}]:{self.port}"
        key_type, key_b64 = self.host_public_key.split()[:2]
        return f"{target} {key_type} {key_b64}\n"

    def commands(self) -> list[str]:
        """Every command line sshd was asked to run, in order."""
        if not self.commands_log.exists():
            return []
        return self.commands_log.read_text(encoding="utf-8").splitlines()

    def accepted_logins(self) -> int:
        """How many connections authenticated (from sshd's own log)."""
        if not self.log_path.exists():
            return 0
        return self.log_path.read_text(encoding="utf-8", errors="replace").count("Accepted publickey for ")

    # -- files -------------------------------------------------------------------------------------------------------
    def _write_files(self) -> Path:
        from remediate.lab.linux.sshd import exec_environment

        self.dir.mkdir(parents=True, exist_ok=True)
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        if not self.host_key.exists():
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"lab-{self.state.name}",
                    "-f",
                    str(self.host_key),
                ],
                check=True,
                capture_output=True,
            )
        self.host_key.chmod(0o600)
        (self.dir / "authorized_keys").write_text("".join(k.strip() + "\n" for k in self.authorized_keys))

        env = exec_environment(self.state, self.oplog)
        workdir = env.get("REMEDIATE_LAB_HOSTDIR") or str(self.state.path.parent / self.state.name)
        Path(workdir).mkdir(parents=True, exist_ok=True)
        env_lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k.isidentifier()]
        (self.dir / "environment.sh").write_text("\n".join(env_lines) + "\n", encoding="utf-8")
        wrapper = self.dir / "command.sh"
        wrapper.write_text(
            "#!/bin/sh\n"
            "# Forced command of the lab's sshd: the lab host's environment, then the client's command.\n"
            f". {shlex.quote(str(self.dir / 'environment.sh'))}\n"
            f"printf '%s\\n' \"${{SSH_ORIGINAL_COMMAND:-}}\" >> {shlex.quote(str(self.commands_log))}\n"
            f"cd {shlex.quote(workdir)} || exit 255\n"
            f"if grep -q '^  drop_mid_command:' {shlex.quote(str(self.state.path))}; then\n"
            '  /bin/sh -c "${SSH_ORIGINAL_COMMAND:-true}"\n'
            "  status=$?\n"
            '  "$REMEDIATE_LAB_PYTHON" -S -m remediate.lab.linux.openssh drop-mid-command\n'
            "  exit $status\n"
            "fi\n"
            'exec /bin/sh -c "${SSH_ORIGINAL_COMMAND:-true}"\n',
            encoding="utf-8",
        )
        wrapper.chmod(0o755)

        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.bind}",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AllowUsers {self.user}",
                    f"ForceCommand {wrapper}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "LogLevel VERBOSE",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return config

    # -- running ---------------------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        reason = sshd_missing_reason(self.sshd)
        if reason:
            raise RuntimeError(reason)
        config = self._write_files()
        check = subprocess.run([self.sshd, "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd refused its config: {check.stderr.strip()}")
        for _ in range(5):  # a port picked free may be taken before sshd binds it: pick another
            port = self.port or _free_port(self.bind)
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
            try:
                self.proc = subprocess.Popen(
                    [self.sshd, "-D", "-e", "-f", str(config), "-p", str(port)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            finally:
                log.close()
            if self._wait_ready(port, timeout):
                self.port = port
                return
            self.stop()
            if self.port:
                break
        raise RuntimeError(f"sshd did not start; see {self.log_path}")

    def _wait_ready(self, port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.bind, port), timeout=1) as sock:
                    sock.settimeout(2)
                    if sock.recv(64).startswith(b"SSH-"):
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        with contextlib.suppress(OSError):
            (self.dir / "sshd.pid").unlink()

    def __enter__(self) -> OpenSSHServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _session_process(pid: int) -> int | None:
    """The nearest ancestor of ``pid`` that is an sshd process (the session that holds the connection)."""
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
            comm = Path(f"/proc/{pid}/comm").read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        if comm.startswith("sshd"):
            return pid
        pid = int(stat.rpartition(")")[2].split()[1])
    return None


def drop_mid_command() -> None:
    """After a command ran to its end under sshd's forced command: when the host's ``drop_mid_command`` fault
    fires (``true`` or a count), kill the sshd session process, so the connection drops before the exit status.
    """
    import signal

    state = HostState(os.environ["REMEDIATE_LAB_STATE"])
    if not consume_fault(state, "drop_mid_command"):
        return
    OpLog(os.environ["REMEDIATE_LAB_OPLOG"]).record(state.name, "fault:drop_mid_command", False, server="openssh")
    session = _session_process(os.getppid())
    if session is not None:
        os.kill(session, signal.SIGKILL)


__all__ = ["OpenSSHServer", "drop_mid_command", "sshd_missing_reason"]

if __name__ == "__main__":  # the forced command's wrapper: python -m remediate.lab.linux.openssh drop-mid-command
    import sys

    if sys.argv[1:] == ["drop-mid-command"]:
        drop_mid_command()
