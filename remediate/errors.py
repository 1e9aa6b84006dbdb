"""The errors of remediate, each one carrying what a person needs to act on it.

Every error names the host and the step where it happened, what the remote side said, and what to try next.
The runner maps them onto a host's final status:

- :class:`ConnectionFailure` and its children end a host as ``unreachable``;
- :class:`TransientError` is the only kind that the retry policy retries;
- :class:`OutcomeUnknown` (a mutating command that may have run, its answer lost) is never retried: the runner
  reads the host's state again and plans from what is there;
- everything else (a script that failed, a verification that did not pass) ends it as ``failed``.

Messages never contain a secret: credentials are never passed into an error.
"""

from __future__ import annotations


class RemediateError(Exception):
    """Base class. ``hint`` says what to try next."""

    default_hint = ""

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        step: str | None = None,
        remote: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.step = step
        self.remote = remote
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        parts = []
        if self.host:
            parts.append(f"[{self.host}]")
        if self.step:
            parts.append(f"{self.step}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.remote:
            text += f" (remote said: {self.remote.strip()})"
        if self.hint:
            text += f" -- {self.hint}"
        return text

    def to_dict(self) -> dict[str, str | None]:
        return {
            "type": type(self).__name__,
            "message": self.message,
            "host": self.host,
            "step": self.step,
            "remote": self.remote,
            "hint": self.hint or None,
        }


class ConfigError(RemediateError):
    """A wrong inventory, parameter or option. Raised before anything runs."""


class ConnectionFailure(RemediateError):
    """The host could not be reached or would not let us in: the host ends as ``unreachable``."""


class TransientError(ConnectionFailure):
    """Refused, reset, timed out, or a 5xx from the transport: worth retrying with backoff."""

    default_hint = "the host or the network may be busy; it was retried with backoff"


class AuthenticationError(ConnectionFailure):
    """Wrong user name or password, key refused, or a Kerberos failure. Never retried."""

    default_hint = "check the user and the credential reference (password_env / password_file / key file)"


class HostKeyError(ConnectionFailure):
    """An SSH host key that is unknown or has changed. Never retried."""

    default_hint = (
        "verify the host's key out of band; add it to known_hosts, or pass --accept-new-host-keys "
        "for a host never seen before"
    )


class TLSVerificationError(ConnectionFailure):
    """A WinRM HTTPS certificate that does not validate. Never retried."""

    default_hint = "give the CA bundle with --ca-bundle (or winrm_ca_trust_path in the inventory)"


class DryRunRefused(RemediateError):
    """A mutating operation reached a connection that is in dry-run. Nothing was sent."""

    default_hint = "this is a bug in the remediation: it tried to change something in dry-run"


class RemoteScriptError(RemediateError):
    """A remote script ran and failed: its own failure, never retried."""

    def __init__(self, message: str, *, exit_code: int | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.exit_code = exit_code


class OutcomeUnknown(RemediateError):
    """A mutating command may have started, and its answer was lost (a dropped connection, a timeout).

    It is never sent again blindly: the transport stopped what it could (WinRM Signal terminate and shell
    Delete, the SSH channel closed) and forgets the connection; the runner checks the host's state again and
    plans from what is there. Not a :class:`ConnectionFailure`: the host was reached.
    """

    default_hint = "the change may or may not have been made; the state was read again to decide"

    def __init__(self, message: str, *, cause: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.cause = cause


class HostTimeout(RemediateError):
    """The per-host time limit ran out."""

    default_hint = "raise --host-timeout, or look at what the host was doing at that step"


class NotCompliant(RemediateError):
    """The remediation was applied, but verification still finds the host broken."""
