"""From the portal's error text (English or Japanese) or an error code to the remediations to run.

The rows live in ``catalog_rows.yml`` beside this module: every error row of Microsoft's "Troubleshoot Azure virtual
machine backup" page (the ja-JP 2018 seed and its English wordings), of its later revisions and of the companion
snapshot-timeout page, each with its codes, messages, cause, the remediations in the order to try them, and the
documented action. Azure-side rows carry no remediation: ``diagnose`` explains them and says that no in-guest fix
applies.

Matching, strongest first:

1. an exact error code anywhere in the text (``ExtensionFailedVssWriterInBadState``, ``320001``), several allowed;
2. a known message (or its headline, the part before `` - ``) contained in the normalised text;
3. a distinctive term of a row (``FIFREEZE``, ``168.63.129.16``, ``COM+``, ``Guest Agent Status: NotReady``) when
   no code or message is found: a text with a code or a term is never matched to another row by similarity;
4. character n-gram similarity (bigrams for Japanese, which has no spaces; trigrams for English) above a threshold
   that rejects unrelated text.

Normalisation: NFKC (full-width letters, digits, punctuation and spaces), case folding, URLs, Markdown links and
HTML tags removed, the "詳細については ... をご覧ください / を参照してください" and "More details at / For more
information, see" tails removed, the portal's "Error code:" / "エラー コード:" labels removed, punctuation and
whitespace (line breaks included) dropped.

    >>> [m.row.id for m in diagnose("Error code: ExtensionConfigParsingFailure")]
    ['config-parsing-failure']
    >>> remediations_for("COM+ エラーが発生したため、スナップショット操作に失敗しました")
    ['comsysapp', 'msdtc']
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "SLUGS",
    "Match",
    "Row",
    "azure_remediations_for",
    "diagnose",
    "remediations_for",
    "render_text",
    "rows",
    "suggest",
    "to_json",
]

#: Every remediation slug of the catalog, with the OS it applies to ("any" = Windows and Linux).
SLUGS: dict[str, str] = {
    "vss-writers": "windows",
    "vss-service": "windows",
    "machinekeys-acl": "windows",
    "extension-certs": "windows",
    "comsysapp": "windows",
    "msdtc": "windows",
    "strong-crypto": "windows",
    "vss-copy-backup": "windows",
    "snapshot-method": "windows",
    "msiexec": "windows",
    "bitlocker": "windows",
    "vm-agent": "windows",
    "agent-network": "any",
    "fs-freeze": "linux",
    "linux-agent": "linux",
    "selinux-waagent": "linux",
}

#: The Azure-side remediations (ARM requests over the ``azure-arm`` connection), named by a row's ``azure`` field.
AZURE_SLUGS: dict[str, str] = {
    "snapshot-extension": "any",
    "restore-point-limit": "any",
    "keyvault-backup-access": "any",
}

# Scores: a code match is 1.0; a contained message is in [CONTAINED, 1.0); a similar message in [THRESHOLD, CONTAINED).
CODE_SCORE = 1.0
TERM_SCORE = 0.995
CONTAINED = 0.85
THRESHOLD = 0.55
# Similarity (share of the message's n-grams found in the text) a message must reach to count as a match.
MIN_COVERAGE = 0.6
# Messages (compacted) shorter than this never match by containment: too likely to occur by chance.
MIN_KEY_CHARS = 12
# A text that is only a piece of a message matches when it is this long and found in at most this many rows.
MIN_FRAGMENT_LATIN = 24
MIN_FRAGMENT_CJK = 12
MAX_FRAGMENT_ROWS = 2
# Words of a text that ``suggest`` compares with the known codes (bounded work for a long log).
MAX_CANDIDATES = 200


@dataclass(frozen=True)
class Row:
    """One error row: what the portal says, why, and what to do about it."""

    id: str
    title: str
    codes: tuple[str, ...]
    messages: dict[str, tuple[str, ...]]
    cause: str
    remediations: tuple[str, ...]
    in_guest: bool
    action: str
    source: str
    section: str
    terms: tuple[str, ...] = ()  # distinctive words that name the row as surely as a code
    manual: bool = False  # no remediation of ours, but the fix is made in the guest by hand (not Azure-side)
    azure_remediations: tuple[str, ...] = ()

    @property
    def code(self) -> str | None:
        """The row's main error code, if the documentation names one."""
        return self.codes[0] if self.codes else None

    def remediations_for_os(self, os: str | None = None) -> list[str]:
        """The remediation slugs in order, keeping only those that apply to ``os`` ("windows"/"linux") if given."""
        if os is None:
            return list(self.remediations)
        os = os.lower()
        return [s for s in self.remediations if SLUGS[s] in ("any", os)]


@dataclass(frozen=True)
class Match:
    """A row found in a text: ``kind`` is "code", "message", "similar" or "suggestion"; ``matched`` what was found."""

    row: Row
    score: float
    kind: str
    matched: str


# --------------------------------------------------------------------------------------------------- loading


_FIELDS = frozenset({"id", "title", "codes", "messages", "cause", "remediations", "in_guest", "action", "source"})
_OPTIONAL = frozenset({"section", "terms", "manual", "azure"})


def _load_rows(data: Any) -> tuple[Row, ...]:
    if not isinstance(data, list):
        raise ValueError("catalog_rows.yml: expected a list of rows")
    out: list[Row] = []
    ids: set[str] = set()
    codes: dict[str, str] = {}
    for item in data:
        if not isinstance(item, dict):
            raise ValueError("catalog_rows.yml: every row is a mapping")
        missing = _FIELDS - set(item)
        if missing:
            raise ValueError(f"catalog_rows.yml: row {item.get('id')!r} lacks {sorted(missing)}")
        unknown = set(item) - _FIELDS - _OPTIONAL
        if unknown:
            raise ValueError(f"catalog_rows.yml: row {item.get('id')!r} has unknown fields {sorted(unknown)}")
        rid = str(item["id"])
        if rid in ids:
            raise ValueError(f"catalog_rows.yml: duplicate row id {rid!r}")
        ids.add(rid)
        for slug in item["remediations"]:
            if slug not in SLUGS:
                raise ValueError(f"catalog_rows.yml: row {rid!r} names unknown remediation {slug!r}")
        for slug in item.get("azure") or ():
            if slug not in AZURE_SLUGS:
                raise ValueError(f"catalog_rows.yml: row {rid!r} names unknown Azure-side remediation {slug!r}")
        for code in item["codes"]:
            key = str(code).casefold()
            if key in codes:
                raise ValueError(f"catalog_rows.yml: code {code!r} in rows {codes[key]!r} and {rid!r}")
            codes[key] = rid
        messages = {lang: tuple(str(m) for m in item["messages"].get(lang) or ()) for lang in ("en", "ja")}
        if not messages["en"] and not messages["ja"] and not item["codes"]:
            raise ValueError(f"catalog_rows.yml: row {rid!r} has neither a message nor a code")
        out.append(
            Row(
                id=rid,
                title=str(item["title"]),
                codes=tuple(str(c) for c in item["codes"]),
                messages=messages,
                cause=str(item["cause"]),
                remediations=tuple(item["remediations"]),
                in_guest=bool(item["in_guest"]),
                action=str(item["action"]),
                source=str(item["source"]),
                section=str(item.get("section", "backup")),
                terms=tuple(str(t) for t in item.get("terms") or ()),
                manual=bool(item.get("manual", False)),
                azure_remediations=tuple(item.get("azure") or ()),
            )
        )
    return tuple(out)


@functools.lru_cache(maxsize=1)
def rows() -> tuple[Row, ...]:
    """Every error row, in the table's order (validated on first use)."""
    text = resources.files("remediate").joinpath("catalog_rows.yml").read_text(encoding="utf-8")
    return _load_rows(yaml.safe_load(text))


# --------------------------------------------------------------------------------------------- normalising

_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]{0,40}>")
_URL = re.compile(r"(?:https?://|www\.|go\.microsoft\.com/|aka\.ms/)\S*", re.IGNORECASE)
_JA_TAIL = re.compile(r"詳細について(?:は)?[、,]?.{0,120}?(?:をご覧ください|を参照してください)[。.]?")
_EN_TAIL = re.compile(
    r"more details at|for more information,?\s*(?:refer to(?:\s+the article,?)?|see)|learn more", re.IGNORECASE
)
_LABEL = re.compile(r"(?:error\s*(?:code|message|details?)|エラー\s*(?:コード|メッセージ|の詳細))\s*:", re.IGNORECASE)
_HEADLINE = re.compile(r"\s+-\s+|:\s*<br>|\s*<br>\s*")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}|(?<!\d)\d{6}(?!\d)")
_CODE_LABEL = re.compile(r"(?:error\s*code|エラー\s*コード)\s*:\s*([A-Za-z][A-Za-z0-9]{5,})", re.IGNORECASE)


def _clean(text: str) -> str:
    """NFKC, links/tags/URLs/tails/labels removed, case folded; words kept apart by spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _MD_LINK.sub(r" \1 ", text)
    text = _TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _JA_TAIL.sub(" ", text)
    text = _EN_TAIL.sub(" ", text)
    text = _LABEL.sub(" ", text)
    text = text.casefold()
    chars = [" " if unicodedata.category(c)[0] in "PZC" else c for c in text]
    return " ".join("".join(chars).split())


def _compact(text: str) -> str:
    """The cleaned text without any space: robust to line breaks and to the spacing of Japanese text."""
    return _clean(text).replace(" ", "")


def _is_latin(s: str) -> bool:
    return sum(c.isascii() for c in s) >= 0.6 * max(len(s), 1)


def _grams(s: str, n: int) -> frozenset[str]:
    if len(s) <= n:
        return frozenset({s}) if s else frozenset()
    return frozenset(s[i : i + n] for i in range(len(s) - n + 1))


@dataclass(frozen=True)
class _Key:
    row: Row
    text: str  # the message as written (for "matched")
    compact: str
    n: int
    grams: frozenset[str]
    headline: bool  # the message's first sentence (or all of it): what similarity compares against


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Row], tuple[_Key, ...]]:
    codes: dict[str, Row] = {}
    raw: list[tuple[Row, str, str, int, bool]] = []
    for row in rows():
        for code in row.codes:
            codes[code.casefold()] = row
        seen: set[str] = set()
        for message in (row.title, *row.messages["en"], *row.messages["ja"]):
            for part in _alternatives(message):
                headline = _HEADLINE.split(part, maxsplit=1)[0]
                for variant in (headline, part):
                    compact = _compact(variant)
                    if len(compact) < MIN_KEY_CHARS or compact in seen:
                        continue
                    seen.add(compact)
                    raw.append((row, variant.strip(), compact, 3 if _is_latin(compact) else 2, variant is headline))
    keys = tuple(_Key(row, text, compact, n, _grams(compact, n), head) for row, text, compact, n, head in raw)
    return codes, keys


@functools.lru_cache(maxsize=1)
def _weights() -> dict[str, float]:
    """Inverse row frequency of each n-gram: words every row shares ("snapshot operation failed") weigh little."""
    _, keys = _index()
    holders: dict[str, set[str]] = {}
    for key in keys:
        for gram in key.grams:
            holders.setdefault(gram, set()).add(key.row.id)
    total = len({key.row.id for key in keys})
    return {gram: math.log(1 + total / len(ids)) ** 2 for gram, ids in holders.items()}


def _alternatives(message: str) -> list[str]:
    """A cell that lists two messages ("<br>または<br>", "<br>OR<br>") counts as each of them."""
    parts = re.split(r"\s*<br>\s*(?:または|\**or\**)\s*<br>\s*", message, flags=re.IGNORECASE)
    return [message, *parts] if len(parts) > 1 else [message]


# ------------------------------------------------------------------------------------------------ matching


def _term_pattern(term: str) -> re.Pattern[str]:
    """A term as written, case-insensitive, spaces optional, not inside a longer (ASCII) word or number."""
    parts = [re.escape(p) for p in term.split()]
    body = r"\s*".join(parts)
    head = r"(?<![A-Za-z0-9.])"  # ASCII only: a Japanese word may touch a term ("COM+エラー")
    tail = r"(?![A-Za-z0-9])" if not term[-1].isdigit() else r"(?![0-9]|\.[0-9])"
    return re.compile(head + body + tail, re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _terms() -> tuple[tuple[str, re.Pattern[str], Row], ...]:
    return tuple((term, _term_pattern(term), row) for row in rows() for term in row.terms)


def _terms_in(text: str) -> list[tuple[int, str, Row]]:
    """``(position, term, row)`` of every distinctive term in the text."""
    normal = unicodedata.normalize("NFKC", text)
    found = []
    for term, pattern, row in _terms():
        hit = pattern.search(normal)
        if hit:
            found.append((hit.start(), term, row))
    return sorted(found, key=lambda f: f[0])


def known_codes() -> list[dict[str, str]]:
    """Every code and term ``diagnose`` knows: ``{"code", "kind", "row", "title", "source"}``, in the table's order."""
    out = []
    for row in rows():
        for code in row.codes:
            out.append({"code": code, "kind": "code", "row": row.id, "title": row.title, "source": row.source})
        for term in row.terms:
            out.append({"code": term, "kind": "term", "row": row.id, "title": row.title, "source": row.source})
    return out


def _codes_in(text: str) -> list[tuple[str, Row]]:
    codes, _ = _index()
    found: list[tuple[str, Row]] = []
    for token in _TOKEN.findall(unicodedata.normalize("NFKC", text)):
        row = codes.get(token.casefold())
        if row is not None:
            found.append((next(c for c in row.codes if c.casefold() == token.casefold()), row))
    return found


def _similarity(key: _Key, grams: dict[int, frozenset[str]]) -> float:
    """How much of ``key`` the text covers (0..1): the weighted share of the key's n-grams found in the text."""
    weights = _weights()
    total = sum(weights[g] for g in key.grams)
    if not total:
        return 0.0
    return sum(weights[g] for g in key.grams & grams[key.n]) / total


def _best(found: dict[str, Match], match: Match) -> None:
    current = found.get(match.row.id)
    if current is None or match.score > current.score:
        found[match.row.id] = match


def diagnose(text: str) -> list[Match]:
    """The rows ``text`` names, best first; an empty list when nothing matches (see ``suggest``).

    Codes found in the text come first, then messages contained in it, both in the text's order. When neither is
    found, rows whose messages are similar enough are returned instead, most similar first.
    """
    if not text or not text.strip():
        return []
    found: dict[str, Match] = {}
    for position, (code, row) in enumerate(_codes_in(text)):
        _best(found, Match(row, CODE_SCORE - position * 1e-6, "code", code))

    compact = _compact(text)
    if not compact:
        return list(found.values())
    _, keys = _index()
    spans: dict[str, tuple[int, int]] = {}
    for key in keys:
        start = compact.find(key.compact)
        if start < 0:
            continue
        share = len(key.compact) / len(compact)
        match = Match(key.row, CONTAINED + (0.99 - CONTAINED) * min(share, 1.0), "message", key.text)
        if key.row.id not in found or match.score > found[key.row.id].score:
            spans[key.row.id] = (start, start + len(key.compact))
        _best(found, match)
    # A message found only inside another row's longer message is part of that message, not a second error.
    for rid, (start, end) in list(spans.items()):
        if found[rid].kind == "message" and any(
            other != rid and s <= start and end <= e and (e - s) > (end - start) for other, (s, e) in spans.items()
        ):
            del found[rid]
    if spans:
        order = {rid: start for rid, (start, _) in spans.items()}
        codes_first = [m for m in found.values() if m.kind in ("code", "term")]
        by_position = sorted(
            (m for m in found.values() if m.kind not in ("code", "term")), key=lambda m: order[m.row.id]
        )
        return sorted(codes_first, key=lambda m: -m.score) + by_position
    if not found:
        # A distinctive term (FIFREEZE, 168.63.129.16, COM+) names its rows; similarity never overrides it. A piece
        # of one message (the inner error alone, say) narrows them down, or names its row(s) when there is no term.
        terms = _terms_in(text)
        term_rows = {row.id for _, _, row in terms}
        minimum = MIN_FRAGMENT_LATIN if _is_latin(compact) else MIN_FRAGMENT_CJK
        holders = {k.row.id: k for k in keys if len(compact) >= minimum and compact in k.compact}
        if terms and holders and set(holders) <= term_rows:
            for position, (_, term, row) in enumerate(terms):
                if row.id in holders:
                    _best(found, Match(row, TERM_SCORE - position * 1e-6, "term", term))
        elif terms:
            for position, (_, term, row) in enumerate(terms):
                _best(found, Match(row, TERM_SCORE - position * 1e-6, "term", term))
        elif 0 < len(holders) <= MAX_FRAGMENT_ROWS:
            for key in holders.values():
                share = len(compact) / len(key.compact)
                score = THRESHOLD + (CONTAINED - 0.01 - THRESHOLD) * share
                _best(found, Match(key.row, round(score, 4), "similar", key.text))
    if not found:
        latin = _is_latin(compact)  # an English text is not compared with Japanese messages, nor the reverse
        grams = {2: _grams(compact, 2), 3: _grams(compact, 3)}
        for key in keys:
            coverage = _similarity(key, grams) if key.headline and (key.n == 3) == latin else 0.0
            if coverage >= MIN_COVERAGE:
                score = THRESHOLD + (CONTAINED - 0.01 - THRESHOLD) * (coverage - MIN_COVERAGE) / (1 - MIN_COVERAGE)
                _best(found, Match(key.row, round(score, 4), "similar", key.text))
    return sorted(found.values(), key=lambda m: -m.score)


def suggest(text: str, n: int = 3) -> list[Match]:
    """The ``n`` rows closest to ``text`` however weak the resemblance (kind "suggestion"), best first.

    Used when ``diagnose`` finds nothing: a mistyped code is compared with the known codes, any text with the messages.
    """
    codes, keys = _index()
    found: dict[str, Match] = {}
    normal = unicodedata.normalize("NFKC", text or "")
    # Labelled codes first; a pasted log can hold thousands of words: at most MAX_CANDIDATES are compared.
    candidates = {label.casefold(): label for label in _CODE_LABEL.findall(normal)}
    for token in _TOKEN.findall(normal):
        if len(candidates) >= MAX_CANDIDATES:
            break
        if len(token) >= 8:
            candidates.setdefault(token.casefold(), token)
    for folded in candidates:
        for close in difflib.get_close_matches(folded, list(codes), n=n, cutoff=0.75):
            row = codes[close]
            ratio = difflib.SequenceMatcher(None, folded, close).ratio()
            code = next(c for c in row.codes if c.casefold() == close)
            _best(found, Match(row, round(ratio * CONTAINED, 4), "suggestion", code))
    compact = _compact(text or "")
    if compact:
        latin = _is_latin(compact)
        grams = {2: _grams(compact, 2), 3: _grams(compact, 3)}
        for key in keys:
            coverage = _similarity(key, grams) if key.headline and (key.n == 3) == latin else 0.0
            if coverage > 0:
                _best(found, Match(key.row, round(coverage * CONTAINED, 4), "suggestion", key.text))
    return sorted(found.values(), key=lambda m: -m.score)[: max(n, 0)]


def azure_remediations_for(text_or_code: str) -> list[str]:
    """The Azure-side remediation slugs (``azure-arm`` connection) for a text or code, in order."""
    slugs: list[str] = []
    for match in diagnose(text_or_code):
        slugs.extend(s for s in match.row.azure_remediations if s not in slugs)
    return slugs


def remediations_for(text_or_code: str, os: str | None = None) -> list[str]:
    """The remediation slugs to run for a text or code, in order, without duplicates.

    An empty list means nothing in-guest to run: either the rows are Azure-side or nothing matched (``diagnose``
    tells which). ``os`` ("windows" or "linux") keeps only the remediations for that OS.
    """
    slugs: list[str] = []
    for match in diagnose(text_or_code):
        for slug in match.row.remediations_for_os(os):
            if slug not in slugs:
                slugs.append(slug)
    return slugs


# ------------------------------------------------------------------------------------------------- output


def to_json(matches: Iterable[Match]) -> list[dict[str, Any]]:
    """Plain data for ``--output json``: one dict per match."""
    out = []
    for m in matches:
        code = m.matched if m.kind in ("code",) or m.matched in m.row.codes else m.row.code
        out.append(
            {
                "id": m.row.id,
                "code": code,
                "codes": list(m.row.codes),
                "title": m.row.title,
                "cause": m.row.cause,
                "remediations": list(m.row.remediations),
                "azure_remediations": list(m.row.azure_remediations),
                "in_guest": m.row.in_guest,
                "action": m.row.action,
                "matched": m.matched,
                "match": m.kind,
                "score": round(m.score, 4),
            }
        )
    return out


def _commands(row: Row, host: str) -> list[str]:
    lines = []
    for slug in row.remediations:
        command = f"remediate --host {host} {slug} --dry-run"
        os = SLUGS[slug]
        lines.append(command if os == "any" else f"{command}   # {os.capitalize()} VMs")
    return lines


def _render_row(m: Match, host: str) -> list[str]:
    row = m.row
    head = f"{row.code}: {row.title}" if row.code else row.title
    lines = [head, f"  row: {row.id}   matched {m.kind} {m.matched!r} (score {m.score:.2f})"]
    if len(row.codes) > 1:
        lines.append(f"  codes: {', '.join(row.codes)}")
    lines.append(f"  cause: {row.cause}")
    if row.in_guest and row.remediations:
        lines.append("  run, in this order (each shows its plan; drop --dry-run to apply):")
        lines += [f"    {c}" for c in _commands(row, host)]
        lines.append(f"  documented action: {row.action}")
    else:
        if row.azure_remediations:
            lines.append("  Azure-side fix (ARM requests; see its plan first):")
            lines += [
                f"    remediate -i 'azure://SUBSCRIPTION/RG?connection=azure-arm' --limit {host} {slug} --dry-run"
                for slug in row.azure_remediations
            ]
            lines.append("    or: remediate azure failed-backups --remediate --dry-run")
        if row.remediations:
            lines.append(f"  Azure-side first: {row.action}")
        else:
            if row.manual:
                lines.append("  In the guest, by hand: no remediation of this tool applies.")
            else:
                lines.append("  Azure-side: no in-guest fix applies.")
            lines.append(f"  action: {row.action}")
        if row.remediations:
            lines.append("  then, in the guest:")
            lines += [f"    {c}" for c in _commands(row, host)]
    return lines


def render_text(matches: Sequence[Match], text: str | None = None, host: str = "VM", n: int = 3) -> str:
    """A human answer: each row, its cause, and the commands to run in order (or the Azure-side action).

    With no matches, says that the text is unknown and, when ``text`` is given, lists the ``n`` closest rows.
    """
    if matches:
        blocks = ["\n".join(_render_row(m, host)) for m in matches]
        return "\n\n".join(blocks) + "\n"
    lines = ["No known error row matches this text."]
    closest = suggest(text, n) if text else []
    if closest:
        lines.append("Closest rows:")
        for m in closest:
            label = f"{m.row.code}: {m.row.title}" if m.row.code else m.row.title
            lines.append(f"  - {label}   [{m.row.id}, similarity {m.score:.2f}]")
        lines.append('Try `remediate diagnose "<error code>"` with the code from the job\'s error details.')
    return "\n".join(lines) + "\n"
