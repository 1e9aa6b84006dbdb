"""The remediation contract: check, plan, apply, verify.

A remediation reads state with read-only operations (:meth:`Remediation.check`), turns it into a
:class:`Plan` of :class:`Change` objects without any I/O (:meth:`Remediation.plan`), lets the runner apply the
plan, and is verified by checking again (:meth:`Remediation.verdict` on fresh state, with bounded waiting).
A compliant host gives an empty plan, so nothing mutating runs and a second run reports zero changes.

Example (the smallest one, ``remediations/vss_copy_backup``)::

    class VssCopyBackup(Remediation[RegistryValue]):
        slug = "vss-copy-backup"
        ...
        def check(self, conn):
            return RegistryValue.read(conn, KEY, "USEVSSCOPYBACKUP")

        def plan(self, state):
            if state.data == "TRUE" and state.type == "REG_SZ":
                return Plan()
            return Plan([state.change_to("TRUE", "REG_SZ", "set USEVSSCOPYBACKUP to TRUE")])
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from remediate.errors import ConfigError
from remediate.operation import Operation

if TYPE_CHECKING:
    from remediate.connection import Connection


class Risk(str, enum.Enum):
    """``safe`` changes nothing a workload notices; the others need ``--yes`` outside dry-run."""

    SAFE = "safe"
    DISRUPTIVE = "disruptive"
    DESTRUCTIVE = "destructive"

    @property
    def needs_confirmation(self) -> bool:
        return self is not Risk.SAFE


def parse_bool(raw: Any) -> bool:
    """The ``parse`` of a yes/no parameter: true/false, yes/no, y/n, on/off, 1/0 (an empty value is false)."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValueError(f"expected true or false, not {raw!r}")


@dataclass(frozen=True)
class Param:
    """An input a remediation takes (``--param name=value``, an inventory var, or a params file)."""

    name: str
    help: str
    parse: Callable[[str], Any] = str
    default: Any = None
    required: bool = False
    secret: bool = False
    example: str | None = None

    def convert(self, raw: Any) -> Any:
        """The parameter's value from ``raw``, or a ConfigError (step "parameters") naming the parameter.

        Values a parameter cannot carry to the remote side are refused here, before anything is sent: a NUL
        character (the sh decoder drops it, Windows APIs end the string there, so a script would act on another
        path or name), text that is not valid Unicode (lone surrogates cannot be encoded), a mapping or list
        where text is expected, and a line break inside one item of a list (sh receives a list as lines)."""
        if raw is None:
            return None
        try:
            if self.parse is str:
                if isinstance(raw, (dict, list, tuple, set, bytes)):
                    raise ValueError(f"expected a text value, not a {type(raw).__name__}")
                value = raw if isinstance(raw, str) else str(raw)
            else:
                value = self.parse(raw)
            _check_carriable(value)
            return value
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"parameter {self.name!r}: {exc}",
                step="parameters",
                hint=f"{self.name}: {self.help}" + (f" (e.g. {self.example})" if self.example else ""),
            ) from None


def _check_carriable(value: Any, in_list: bool = False) -> None:
    """Raise ValueError for a value the operation envelopes cannot carry unchanged to a remote script."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character, which no remote script can receive")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid Unicode text (it contains a lone surrogate)") from None
        if in_list and ("\n" in value or "\r" in value):
            raise ValueError(f"the list item {value!r} contains a line break")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_carriable(item, in_list=True)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_carriable(key)
            _check_carriable(item)


@dataclass
class Finding:
    """One thing ``check`` saw, for the report: a writer, a service, a registry value."""

    subject: str
    state: str
    compliant: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "state": self.state,
            "compliant": self.compliant,
            "detail": self.detail,
        }


@dataclass
class Change:
    """One planned change: a sentence, the exact remote operation, what is there and what will be.

    ``undo`` is the operation that restores ``before`` (journaled, for ``remediate undo``); where a change
    cannot be undone (a service restart, a reinstall), ``undo_note`` says so plainly.
    """

    summary: str
    operation: Operation
    before: Any = None
    after: Any = None
    undo: Operation | None = None
    undo_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "operation": self.operation.to_dict(),
            "command": self.operation.describe(),
            "before": self.before,
            "after": self.after,
            "undo": self.undo.to_dict() if self.undo else None,
            "undo_note": self.undo_note,
        }


@dataclass
class Plan:
    """The ordered changes; ``notes`` are things reported but deliberately not changed."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def __len__(self) -> int:
        return len(self.changes)


@dataclass
class Verdict:
    """Whether fresh state is compliant. ``final`` means waiting longer cannot help."""

    compliant: bool
    reasons: list[str] = field(default_factory=list)
    final: bool = False


S = TypeVar("S")


class Remediation(ABC, Generic[S]):
    """Base class of every remediation. Subclasses set the class attributes and the three methods."""

    slug: ClassVar[str] = ""
    title: ClassVar[str] = ""
    os: ClassVar[str] = "windows"  # "windows", "linux" or "any"
    risk: ClassVar[Risk] = Risk.SAFE
    answers: ClassVar[tuple[str, ...]] = ()  # error codes and message rows of the troubleshooting page
    params: ClassVar[tuple[Param, ...]] = ()
    example: ClassVar[str] = ""
    order: ClassVar[int] = 100  # position in ``remediate list``
    verify_attempts: ClassVar[int] = 1  # how often verification reads state again ...
    verify_delay: ClassVar[float] = 0.0  # ... and how long it waits between reads (seconds)

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self.values = self.parse_params(params or {})

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        known = {p.name: p for p in cls.params}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ConfigError(
                f"{cls.slug} takes no parameter {', '.join(map(repr, unknown))}",
                step="parameters",
                hint=f"its parameters: {', '.join(known) or 'none'} (see `remediate show {cls.slug}`)",
            )
        values: dict[str, Any] = {}
        for name, param in known.items():
            value = param.convert(raw[name]) if name in raw else param.default
            if value is None and param.required:
                raise ConfigError(
                    f"{cls.slug} needs parameter {name!r}",
                    step="parameters",
                    hint=f"--param {name}=... ({param.help})",
                )
            values[name] = value
        return values

    def applies_to(self, host_os: str | None) -> bool:
        return self.os == "any" or host_os is None or host_os == self.os

    @abstractmethod
    def check(self, conn: Connection) -> S:
        """Read the state with read-only operations only."""

    @abstractmethod
    def plan(self, state: S) -> Plan:
        """Decide, without I/O, what to change. An empty plan means compliant."""

    def findings(self, state: S) -> list[Finding]:
        """What check saw, item by item, for the report."""
        return []

    def verdict(self, state: S) -> Verdict:
        """Is fresh state compliant? By default: when it plans nothing."""
        plan = self.plan(state)
        return Verdict(compliant=plan.empty, reasons=[c.summary for c in plan.changes])

    def escalate(self, state: S, applied: Sequence[Plan]) -> Plan:
        """The next documented step when verification fails after ``applied``; empty when there is none."""
        return Plan()

    @classmethod
    def documentation(cls) -> str:
        """The remediation's module docstring (its rows, changes, example) and its class docstring."""
        import inspect
        import sys

        module = sys.modules.get(cls.__module__)
        parts = [
            inspect.cleandoc(module.__doc__) if module and module.__doc__ else "",
            inspect.cleandoc(cls.__doc__ or ""),
        ]
        return "\n\n".join(p for p in parts if p)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "slug": cls.slug,
            "title": cls.title,
            "os": cls.os,
            "risk": cls.risk.value,
            "answers": list(cls.answers),
            "params": [
                {
                    "name": p.name,
                    "help": p.help,
                    "default": p.default,
                    "required": p.required,
                    "example": p.example,
                }
                for p in cls.params
            ],
            "example": cls.example,
            "doc": cls.documentation(),
        }
