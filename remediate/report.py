"""What a person reads at the end of a run: a summary table, the plans, the reasons; and JSON for machines."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from remediate.playbook import HostResult, RunReport

STATUS_MARK = {
    "ok": "ok",
    "changed": "changed",
    "pending": "pending",
    "failed": "FAILED",
    "unreachable": "UNREACHABLE",
    "skipped": "skipped",
}


def render_text(report: RunReport, *, verbose: bool = False) -> str:
    """The summary table, then per host one line per step (ran, held back for ``--yes``, skipped) with the plan
    (dry-run and held back), the changes, notes and failures under it. A host whose only step the table row
    already says in full gets no details."""
    lines: list[str] = []
    width = max([4, *(len(h.host) for h in report.hosts)])
    term = shutil.get_terminal_size((120, 20)).columns
    header = f"{'HOST':<{width}}  {'STATUS':<11}  {'CHANGES':>7}  REASON"
    lines.append(header)
    for h in report.hosts:
        n = h.pending if report.dry_run else h.changes
        reason = h.reason.replace("\n", " ")
        room = max(20, term - width - 26)
        if len(reason) > room and not verbose:
            reason = reason[: room - 3] + "..."
        lines.append(f"{h.host:<{width}}  {STATUS_MARK.get(h.status, h.status):<11}  {n:>7}  {reason}")
    details = [_host_details(h, report.dry_run) for h in report.hosts]
    details = [d for d in details if d]
    if details:
        lines.append("")
        lines.extend(details)
    counts = report.counts()
    hidden = "changed" if report.dry_run else "pending"  # always 0 in that kind of run
    summary = "  ".join(f"{k}={v}" for k, v in counts.items() if k != hidden)
    mode = "dry-run, nothing was changed" if report.dry_run else f"journal: {report.journal}"
    lines.append("")
    lines.append(f"{summary}   run {report.run_id} ({mode})")
    if report.dry_run and report.pending:
        lines.append(f"{report.pending} change(s) pending: run again without --dry-run (and with --yes) to apply.")
    from remediate.log import scrub

    return scrub("\n".join(lines) + "\n")


def _host_details(h: HostResult, dry_run: bool) -> str:
    out: list[str] = []
    for step in h.steps:
        items: list[str] = []
        held_back = step.status == "skipped" and step.applicable and bool(step.planned)
        if step.planned and (dry_run or held_back):
            for c in step.planned:
                items.append(f"    would: {c['summary']}")
                items.append(f"           {c['command']}")
        for c in step.applied:
            items.append(f"    done:  {c['summary']}")
        for note in step.notes:
            items.append(f"    note:  {note}")
        if not step.applicable:
            label = "not applicable"
        else:
            label = "held back" if held_back else STATUS_MARK.get(step.status, step.status)
        reason = step.reason.replace("\n", " ")
        out.append(f"  {h.host} / {step.remediation}: {label}" + (f": {reason}" if reason else ""))
        out.extend(items)
    if not any(s.applicable for s in h.steps) and not any(s.planned or s.notes for s in h.steps):
        return ""  # the table row says it: nothing here is for this host's OS
    if len(h.steps) == 1 and len(out) == 1 and h.steps[0].status == h.status and h.status in ("ok", "skipped"):
        return ""  # the table row says it all
    return "\n".join(out)


def render_json(report: RunReport) -> str:
    from remediate.log import _clean

    return json.dumps(_clean(report.to_dict()), indent=2, ensure_ascii=False, default=str) + "\n"


class Progress:
    """A one-line progress bar on a terminal while a batch runs (nothing when not a TTY)."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = (self.stream.isatty() if enabled is None else enabled) and total > 1
        self.done = 0
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, result: Any) -> None:
        with self._lock:
            self.done += 1
            self.counts[result.status] = self.counts.get(result.status, 0) + 1
            if self.enabled:
                width = 30
                filled = int(width * self.done / max(1, self.total))
                counts = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
                bar = "#" * filled + "-" * (width - filled)
                self.stream.write(f"\r[{bar}] {self.done}/{self.total} {counts}")
                self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
