"""``remediate show SLUG`` for a reader: the error rows it answers, its parameters, its risk, examples.

The remediation's docstring is written in reStructuredText for the code's readers; here it is rendered as
plain text: inline literals and roles lose their markup, the "Answers ..." paragraph becomes the list of error
rows (with their titles from the catalog), and the ``Example::`` block becomes the examples section.
"""

from __future__ import annotations

import inspect
import re
import shutil
import sys
import textwrap
from typing import Any

RISK_TEXT = {
    "safe": "changes nothing a workload notices; runs without --yes",
    "disruptive": "restarts services or reinstalls components; needs --yes (or a confirmation) outside --dry-run",
    "destructive": "unmounts or turns protection off; needs --yes (or a confirmation) outside --dry-run",
}
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``", re.S)
_SEED = re.compile(r"\bseed (rows?)\b")


def plain(text: str) -> str:
    """reStructuredText inline markup to plain text."""
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _SEED.sub(r"\1 of the troubleshooting page", text)
    return text.replace("\\\\", "\\")


def _paragraphs(doc: str) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for line in doc.splitlines():
        if line.strip():
            out[-1].append(line.rstrip())
        elif out[-1]:
            out.append([])
    return [p for p in out if p]


def _split(doc: str) -> tuple[list[list[str]], list[str]]:
    """The descriptive paragraphs, and the example commands of the ``Example::`` block."""
    described: list[list[str]] = []
    examples: list[str] = []
    in_example = in_answers = False
    for para in _paragraphs(doc):
        first = para[0].strip()
        if in_example and para[0].startswith(" "):
            examples.extend(line.strip() for line in para)
            continue
        in_example = False
        if first.startswith("Example"):
            in_example = True
            examples.extend(line.strip() for line in para[1:])
            continue
        if first.startswith("Answers"):
            in_answers = True
            continue
        if in_answers and first.startswith(("- ", "* ")):
            continue
        in_answers = False
        described.append(para)
    return described, examples


def _wrap(para: list[str], width: int) -> list[str]:
    text = plain("\n".join(para)).split("\n")  # a literal may run over a line break
    if any(re.match(r"\s*([-*]|\d+\.)\s", line) for line in text) or text[0].startswith(" "):
        return ["  " + line for line in text]  # lists and indented blocks keep their lines
    return textwrap.wrap(" ".join(line.strip() for line in text), width, initial_indent="  ", subsequent_indent="  ")


def _row_for(answer: str) -> Any:
    try:
        from remediate import diagnose

        rows = diagnose.rows()
    except Exception:  # the catalog is a convenience here
        return None
    for row in rows:
        if answer in row.codes:
            return row
    for row in rows:
        if any(answer in m for msgs in row.messages.values() for m in msgs):
            return row
    return None


def render(cls: Any) -> str:
    width = min(100, max(60, shutil.get_terminal_size((100, 20)).columns - 2))
    info = cls.describe()
    lines = [f"{info['slug']} -- {info['title']}", ""]
    lines.append(f"  OS:    {info['os']}")
    lines.append(f"  risk:  {info['risk']}: {RISK_TEXT.get(info['risk'], '')}")
    lines += ["", "Answers these errors of the backup job (`remediate diagnose TEXT` finds them):"]
    for answer in info["answers"]:
        row = _row_for(answer)
        if answer.isascii():
            lines.append(f"  - {answer}" + (f": {row.title}" if row and row.title != answer else ""))
        else:
            quoted = answer if answer[:1] in "\"'" else f'"{answer}"'
            lines.append(f"  - {quoted}" + (f" ({row.title})" if row else ""))
    if info["params"]:
        lines += ["", "Parameters (--param NAME=VALUE, an inventory variable of that name, or --params-file):"]
        for p in info["params"]:
            if p["required"]:
                default = "required"
            elif p["default"] in (None, "", ()):
                default = "default: not set"
            else:
                value = p["default"]
                default = f"default: {str(value).lower() if isinstance(value, bool) else value}"
            lines.append(f"  {p['name']} ({p['type']}; {default})")
            lines += textwrap.wrap(plain(p["help"]), width, initial_indent="      ", subsequent_indent="      ")
            if p["example"]:
                lines.append(f"      e.g. --param {p['name']}={p['example']}")
    module = sys.modules.get(cls.__module__)
    doc = inspect.cleandoc(module.__doc__) if module and module.__doc__ else inspect.cleandoc(cls.__doc__ or "")
    described, examples = _split(doc)
    if described:
        first = described[0]
        first[0] = re.sub(rf"^{re.escape(info['slug'])}:\s*", "", first[0])
        first[0] = first[0][:1].upper() + first[0][1:]
        lines += ["", "What it does:"]
        for para in described:
            lines += _wrap(para, width)
            lines.append("")
        lines.pop()
    if info["example"] and info["example"] not in examples:
        examples.append(info["example"])
    if not any("--dry-run" in e for e in examples):
        examples.insert(0, f"remediate --host vm1 {info['slug']} --dry-run")
    lines += ["", "Examples:"]
    lines += [f"  {e}" for e in examples]
    return "\n".join(lines) + "\n"
