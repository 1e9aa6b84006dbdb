"""A runbook's Output stream: one line per host, then one short JSON summary line; a failure raises.

The Automation portal shows the Output stream as text and keeps at most 1 MiB of it, so the full results (every
step, plan and operation) do not go there: ``--output-file`` writes them where a Hybrid Worker can keep them.
The last line is the summary a parent runbook (or any caller of the jobs API) reads back::

    {"remediate": "summary", "run_id": "...", "dry_run": false, "summary": {"ok": 180, "changed": 19, ...},
     "hosts": {"vm1": "changed", "vm7": "unreachable", ...}, "reasons": {"vm7": "connection refused ..."}}

``summary`` counts every host; ``hosts`` names those whose status is not ``ok`` (a compliant fleet of thousands
stays one short line), ``reasons`` those that failed or were unreachable. A run with such hosts then raises
:class:`RunbookFailed`: an exception is what makes an Automation job end Failed (a Python runbook's exit code
alone is not documented to do so), so an alert on failed Automation jobs also covers failed remediations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

SUMMARY_KEY = "remediate"
SUMMARY_TAG = "summary"
# Statuses that do not fail a job: a dry-run's pending changes are what it was asked to show.
FINE = ("ok", "changed", "pending", "skipped")
REASON_CHARS = 160
BAD = ("failed", "unreachable")


class RunbookFailed(Exception):
    """Raised at the end of a runbook whose run left hosts failed or unreachable (or lost, for a parent)."""

    def __init__(self, message: str, summary: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = dict(summary or {})


def _short(text: str, limit: int = REASON_CHARS) -> str:
    from remediate.log import scrub

    text = " ".join(scrub(str(text or "")).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def host_line(name: str, status: str, reason: str, extra: str = "") -> str:
    line = f"{name}: {status}"
    if reason:
        line += f" - {_short(reason)}"
    return line + (f" [{extra}]" if extra else "")


def summary_of(hosts: Mapping[str, str], reasons: Mapping[str, str], **fields: Any) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for status in hosts.values():
        counts[status] = counts.get(status, 0) + 1
    listed = {h: s for h, s in hosts.items() if s != "ok"}
    out: dict[str, Any] = {SUMMARY_KEY: SUMMARY_TAG, **fields, "summary": counts, "hosts": listed}
    bad = {h: _short(reasons.get(h, "")) for h, s in hosts.items() if s not in FINE}
    if bad:
        out["reasons"] = bad
    return out


def report_summary(report: Any) -> dict[str, Any]:
    """The summary line of a ``playbook.RunReport``."""
    return summary_of(
        {h.host: h.status for h in report.hosts},
        {h.host: h.reason for h in report.hosts},
        run_id=report.run_id,
        dry_run=report.dry_run,
    )


def emit_report(report: Any, write: Callable[[str], Any] = print, extra: Mapping[str, str] | None = None) -> dict:
    """Write one line per host and the summary; return the summary."""
    for h in report.hosts:
        write(host_line(h.host, h.status, h.reason, (extra or {}).get(h.host, "")))
    summary = report_summary(report)
    write(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
    return summary


def raise_if_failed(summary: Mapping[str, Any], what: str = "run") -> None:
    """Raise :class:`RunbookFailed` naming the failed hosts (at most 20) when any host did not make it."""
    bad = [h for h, s in summary.get("hosts", {}).items() if s not in FINE]
    if not bad:
        return
    counts = summary.get("summary", {})
    parts = [f"{counts[s]} {s}" for s in sorted(counts) if s not in FINE]
    names = ", ".join(bad[:20]) + (f" and {len(bad) - 20} more" if len(bad) > 20 else "")
    run = f" (run {summary['run_id']})" if summary.get("run_id") else ""
    raise RunbookFailed(f"{what}: {', '.join(parts)}: {names}{run}", summary)


def parse_summary(output: str) -> dict[str, Any] | None:
    """The last summary line in a job's output text, or None when there is none (the job died before it)."""
    for line in reversed(output.splitlines()):
        line = line.strip()
        if line.startswith("{") and f'"{SUMMARY_KEY}"' in line:
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and data.get(SUMMARY_KEY) == SUMMARY_TAG:
                return data
    return None
