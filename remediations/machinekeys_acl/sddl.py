"""Security descriptors in SDDL, compared by meaning rather than by text.

Windows may write the same descriptor in different ways: ACEs in another order, ``FA`` or ``0x1f01ff``,
``WD`` or ``S-1-1-0``. :func:`parse` turns an SDDL string into a :class:`SecurityDescriptor` of SIDs and
numeric access masks, so two descriptors are equal when owner, group, the DACL's protected flag and the set
of ACEs are equal. Account names are never involved (they differ by language: "Everyone", "Jeder", ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Well-known SID abbreviations of SDDL (machine-independent ones only; domain-relative ones stay as written).
SID_ALIASES = {
    "AN": "S-1-5-7",
    "AU": "S-1-5-11",
    "BA": "S-1-5-32-544",
    "BU": "S-1-5-32-545",
    "BG": "S-1-5-32-546",
    "PU": "S-1-5-32-547",
    "AO": "S-1-5-32-548",
    "SO": "S-1-5-32-549",
    "PO": "S-1-5-32-550",
    "BO": "S-1-5-32-551",
    "RE": "S-1-5-32-552",
    "RU": "S-1-5-32-554",
    "RD": "S-1-5-32-555",
    "NO": "S-1-5-32-556",
    "MU": "S-1-5-32-558",
    "LU": "S-1-5-32-559",
    "IS": "S-1-5-32-568",
    "CY": "S-1-5-32-569",
    "ER": "S-1-5-32-573",
    "CD": "S-1-5-32-574",
    "RA": "S-1-5-32-575",
    "ES": "S-1-5-32-576",
    "MS": "S-1-5-32-577",
    "HA": "S-1-5-32-578",
    "AA": "S-1-5-32-579",
    "RM": "S-1-5-32-580",
    "WD": "S-1-1-0",
    "CO": "S-1-3-0",
    "CG": "S-1-3-1",
    "OW": "S-1-3-4",
    "NU": "S-1-5-2",
    "IU": "S-1-5-4",
    "SU": "S-1-5-6",
    "ED": "S-1-5-9",
    "PS": "S-1-5-10",
    "RC": "S-1-5-12",
    "WR": "S-1-5-33",
    "SY": "S-1-5-18",
    "LS": "S-1-5-19",
    "NS": "S-1-5-20",
    "AC": "S-1-15-2-1",
    "LW": "S-1-16-4096",
    "ME": "S-1-16-8192",
    "HI": "S-1-16-12288",
    "SI": "S-1-16-16384",
}

# Access right abbreviations and their masks.
RIGHTS = {
    "GA": 0x10000000,
    "GX": 0x20000000,
    "GW": 0x40000000,
    "GR": 0x80000000,
    "SD": 0x00010000,
    "RC": 0x00020000,
    "WD": 0x00040000,
    "WO": 0x00080000,
    "CC": 0x00000001,
    "DC": 0x00000002,
    "LC": 0x00000004,
    "SW": 0x00000008,
    "RP": 0x00000010,
    "WP": 0x00000020,
    "DT": 0x00000040,
    "LO": 0x00000080,
    "CR": 0x00000100,
    "FA": 0x001F01FF,
    "FR": 0x00120089,
    "FW": 0x00120116,
    "FX": 0x001200A0,
    "KA": 0x000F003F,
    "KR": 0x00020019,
    "KW": 0x00020006,
    "KX": 0x00020019,
    "NR": 0x00000001,
    "NW": 0x00000002,
    "NX": 0x00000004,
}

_SID = re.compile(r"^S-1-\d+(-\d+)*$", re.I)
_PART = re.compile(r"(O|G|D|S):")


class SddlError(ValueError):
    """Text that is not a security descriptor in SDDL."""


@dataclass(frozen=True)
class Ace:
    """One access control entry: type (``A`` allow, ``D`` deny, ...), flags, mask and trustee SID."""

    type: str
    flags: frozenset[str]
    mask: int
    sid: str
    object_guid: str = ""
    inherit_guid: str = ""

    def __str__(self) -> str:
        flags = "".join(sorted(self.flags))
        return f"({self.type};{flags};0x{self.mask:x};{self.object_guid};{self.inherit_guid};{self.sid})"


@dataclass(frozen=True)
class SecurityDescriptor:
    owner: str | None
    group: str | None
    dacl_protected: bool
    dacl: frozenset[Ace] | None  # None: no DACL part in the text

    def differences(self, other: SecurityDescriptor) -> list[str]:
        """What differs from ``other`` (the expected one), in words; empty when equal."""
        out = []
        if self.owner != other.owner:
            out.append(f"owner is {self.owner}, expected {other.owner}")
        if self.group != other.group:
            out.append(f"group is {self.group}, expected {other.group}")
        if self.dacl_protected != other.dacl_protected:
            state = "protected" if self.dacl_protected else "not protected (inherits from the parent)"
            out.append(f"the DACL is {state}")
        mine, theirs = self.dacl or frozenset(), other.dacl or frozenset()
        out.extend(f"extra ACE {ace}" for ace in sorted(mine - theirs, key=str))
        out.extend(f"missing ACE {ace}" for ace in sorted(theirs - mine, key=str))
        return out

    def same_as(self, other: SecurityDescriptor) -> bool:
        return not self.differences(other)


def sid(token: str) -> str:
    """A SID string from an SDDL trustee (``WD``, ``S-1-1-0``); unknown aliases stay as written."""
    token = token.strip()
    upper = token.upper()
    if upper in SID_ALIASES:
        return SID_ALIASES[upper]
    if _SID.match(token):
        return upper
    if re.fullmatch(r"[A-Z]{2}", upper):
        return upper  # domain-relative alias (DA, DU, ...): machine-specific, compared as written
    raise SddlError(f"not a SID: {token!r}")


def mask(token: str) -> int:
    """An access mask from SDDL rights: ``0x12019f``, ``1179817`` or abbreviations like ``FA`` / ``RPWP``."""
    token = token.strip()
    if not token:
        return 0
    if token.lower().startswith("0x"):
        return int(token, 16)
    if token.isdigit():
        return int(token, 8) if token.startswith("0") and len(token) > 1 else int(token)
    if len(token) % 2:
        raise SddlError(f"not an access mask: {token!r}")
    value = 0
    for i in range(0, len(token), 2):
        code = token[i : i + 2].upper()
        if code not in RIGHTS:
            raise SddlError(f"unknown access right {code!r} in {token!r}")
        value |= RIGHTS[code]
    return value


def _ace(text: str) -> Ace:
    fields = text.split(";")
    if len(fields) < 6:
        raise SddlError(f"not an ACE: ({text})")
    ace_type, flags, rights, obj, inherit, trustee = fields[:6]
    flag_set = frozenset(flags[i : i + 2].upper() for i in range(0, len(flags), 2))
    return Ace(ace_type.upper(), flag_set, mask(rights), sid(trustee), obj.lower(), inherit.lower())


def _aces(text: str) -> tuple[str, list[Ace]]:
    """Split ``PAI(A;;...)(...)`` into its flags and ACEs (parentheses of conditional ACEs nest)."""
    start = text.find("(")
    flags = text if start < 0 else text[:start]
    aces = []
    depth, begin = 0, -1
    for i, ch in enumerate(text[len(flags) :], start=len(flags)):
        if ch == "(":
            if depth == 0:
                begin = i + 1
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                aces.append(_ace(text[begin:i]))
            elif depth < 0:
                raise SddlError("unbalanced parentheses")
        elif depth == 0 and not ch.isspace():
            raise SddlError(f"unexpected {ch!r} between ACEs")
    if depth:
        raise SddlError("unbalanced parentheses")
    return flags.upper(), aces


def _split_parts(text: str) -> dict[str, str]:
    """``O:..G:..D:..S:..`` into its parts; a part's tag is only recognised outside parentheses."""
    parts: dict[str, str] = {}
    depth = 0
    current: str | None = None
    begin = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch in "OGDS" and i + 1 < len(text) and text[i + 1] == ":":
            # inside an owner/group value (a SID such as S-1-5-...) a tag cannot start with "S:" -- SIDs use "-"
            if current is not None:
                parts[current] = text[begin:i]
            current, begin = ch, i + 2
            i += 2
            continue
        i += 1
    if current is None:
        raise SddlError("no O:, G:, D: or S: part")
    parts[current] = text[begin:]
    return parts


def parse(text: str) -> SecurityDescriptor:
    """Parse SDDL (as ``Get-Acl``'s ``.Sddl`` or ``icacls /save`` write it)."""
    text = (text or "").strip()
    if not text:
        raise SddlError("empty security descriptor")
    parts = _split_parts(text)
    owner = sid(parts["O"]) if parts.get("O") else None
    group = sid(parts["G"]) if parts.get("G") else None
    dacl = None
    protected = False
    if "D" in parts:
        flags, aces = _aces(parts["D"])
        protected = "P" in flags.replace("AI", "").replace("AR", "")
        dacl = frozenset(aces)
    return SecurityDescriptor(owner, group, protected, dacl)
