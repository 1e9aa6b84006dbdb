"""What every benchmark here shares: the lab process, timed runs, interleaving, medians and the table.

Timings are wall-clock seconds of whole runs (a fresh process per run, start-up included), taken in turns:
each repetition runs every tool once, in a rotated order, so that a busy moment of a shared machine falls on
all of them alike. Reported: the median of each tool and its ratio to remediate's median.
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


_compiled = False


def compile_checkout() -> None:
    """Byte-compile this checkout's modules, as pip does when it installs a wheel: the peers' libraries in
    site-packages are compiled, and under ``PYTHONDONTWRITEBYTECODE`` a source checkout would otherwise compile
    remediate's modules again at every start (~40 ms), a cost no installed copy pays."""
    global _compiled
    if not _compiled:
        import compileall

        for folder in ("remediate", "inventory", "remediations", "lab"):
            compileall.compile_dir(str(REPO / folder), quiet=1)
        compileall.compile_file(str(REPO / "playbook.py"), quiet=1)
        _compiled = True


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: this checkout's packages first on the path, whatever is installed."""
    compile_checkout()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def executable(name: str) -> str | None:
    """A console script of this interpreter's environment (not a version manager's shim, which costs a start)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


class LabProcess:
    """``bench/labserver.py`` in a child process: started, asked for counters, stopped."""

    def __init__(self, directory: Path, *, linux: int = 0, windows: int = 0, extra: Sequence[str] = ()) -> None:
        self.directory = directory
        cmd = [sys.executable, str(BENCH_DIR / "labserver.py"), "--dir", str(directory)]
        cmd += ["--linux", str(linux), "--windows", str(windows), *extra]
        self.log = open(directory.parent / f"{directory.name}-lab.log", "wb")  # noqa: SIM115 - the child's stderr
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=str(directory.parent),
            env=environment(),
        )
        self.info: dict[str, Any] = self._line(timeout=60 + (linux + windows) * 0.5)
        if not self.info.get("ready"):
            raise RuntimeError(f"the lab did not start: {self.info}")

    def _line(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.stop()
            raise RuntimeError(f"no answer from the lab within {timeout:.0f}s; see {self.log.name}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the lab process ended; see {self.log.name}")
        return json.loads(line)

    def cpu(self) -> float:
        """CPU seconds the lab used so far: its process and every live descendant (OpenSSH's sshd listeners),
        each with its finished children (the per-connection sshd processes, the hosts' commands)."""
        return sum(_proc_cpu(pid) for pid in _tree(self.proc.pid))

    def measured(self, run: Callable[[], Run]) -> Callable[[], Run]:
        """``run`` with the lab's CPU during it noted in ``Run.lab_cpu``."""

        def wrapped() -> Run:
            before = self.cpu()
            result = run()
            result.lab_cpu = self.cpu() - before
            return result

        return wrapped

    def stats(self) -> dict[str, dict[str, int]]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"stats\n")
        self.proc.stdin.flush()
        return self._line(timeout=30)["stats"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def __enter__(self) -> LabProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Run:
    seconds: float  # wall clock
    returncode: int
    stdout: str
    stderr: str
    cpu: float = 0.0  # user + system CPU seconds of the child and everything it waited for (the client's cost)
    lab_cpu: float | None = None  # CPU seconds the lab (servers and the hosts' commands) used meanwhile
    peak_kib: int = 0  # the process's peak resident memory (ru_maxrss), KiB


def remediate_command(inventory: str, check: str, forks: int) -> list[str]:
    """remediate's command line for a read-only check on every host: ``ping``, or a remediation in dry-run."""
    exe = executable("remediate")
    base = [exe] if exe else [sys.executable, "-m", "remediate.cli"]
    if check == "ping":
        return [*base, "ping", "-i", inventory, "--forks", str(forks)]
    return [*base, "-i", inventory, check, "--dry-run", "--forks", str(forks)]


def remediate_problem(run: Run, hosts: int) -> str | None:
    """Why a remediate run does not count: a non-zero exit, or fewer than every host ``ok`` in its summary line."""
    if run.returncode != 0:
        return f"exit {run.returncode}: {(run.stderr or run.stdout)[-300:]}"
    found = re.search(r"^ok=(\d+) ", run.stdout, re.M)  # the summary line of the text report
    return None if found and int(found.group(1)) == hosts else f"not every host ok: {run.stdout[-300:]}"


def peer_command(workdir: Path, script: str, job: dict[str, Any]) -> list[str]:
    """Write a peer's job file and return the command that runs ``bench/SCRIPT`` on it."""
    path = workdir / (Path(script).stem + "-job.json")
    path.write_text(json.dumps(job), encoding="utf-8")
    return [sys.executable, str(BENCH_DIR / script), str(path)]


def peer_problem(run: Run, hosts: int) -> str | None:
    """Why a peer's run does not count: its last line (JSON ``{ok, failed, first_failures}``) says a host failed."""
    try:
        out = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"exit {run.returncode}: {run.stderr[-300:]}"
    return None if out["ok"] == hosts else f"{out['failed']} failed: {out['first_failures']}"


def _proc_cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of one process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> list[int]:
    """``root`` and its live descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int, Any]:
    """Reap the child the moment it ends (a pidfd becomes readable then), or kill it at the deadline. Polling
    with a sleep would round every time up to the poll's period: 10 ms is a third of a bare ``python -c pass``."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd (not Linux >= 5.3): poll finely
        fd = None
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                return status, usage
            left = deadline - time.perf_counter()
            if left <= 0:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                return status, usage
            if fd is not None:
                select.select([fd], [], [], left)
            else:
                time.sleep(min(0.001, left))
    finally:
        if fd is not None:
            os.close(fd)


def timed(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 600, cwd: str | None = None
) -> Run:
    """One run of a command: wall clock, CPU and peak memory, output kept. A run past ``timeout`` is killed."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, env=env or environment(), cwd=cwd, stdin=subprocess.DEVNULL
        )
        status, usage = _wait(proc, t0 + timeout)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    if proc.returncode == -9:
        return Run(seconds, -9, stdout, f"timed out after {timeout:.0f}s")
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    # ru_maxrss of the process itself (kilobytes on Linux); its children (Ansible's ssh) are not in it
    return Run(seconds, code, stdout, stderr, _children_cpu() - cpu0, peak_kib=usage.ru_maxrss if usage else 0)


@dataclass
class Tool:
    """A contender: ``run()`` does one whole run and returns its Run; ``check(run)`` says what went wrong, if any."""

    name: str
    run: Callable[[], Run]
    check: Callable[[Run], str | None]
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    lab_cpu: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None
    rounds: dict[int, float] = field(default_factory=dict)  # round -> seconds, for the paired ratios
    peak_kib: list[int] = field(default_factory=list)


def warm_up(tools: Sequence[Tool], hosts: int, log: Callable[[str], None] = print) -> None:
    """One untimed run of each tool. A tool that reaches no host at all is skipped, with why; a run that misses
    some hosts is counted as a failure and the tool keeps being measured (one flaky host drops no contender)."""
    log("warm-up (not timed):")
    for tool in tools:
        if tool.skipped:
            log(f"  {tool.name}: skipped ({tool.skipped})")
            continue
        run = tool.run()
        problem = tool.check(run)
        if problem and run.returncode not in (0, 2) and not run.stdout.strip():
            tool.skipped = f"cannot run against the lab: {problem}"
            log(f"  {tool.name}: SKIPPED: {problem}")
        elif problem:
            tool.failures.append(f"warm-up: {problem}")
            log(f"  {tool.name}: warm-up FAILED on some hosts, still measured ({problem[:200]})")
        else:
            log(f"  {tool.name:<28} {run.seconds:8.2f} s  (ok on {hosts} hosts)")


def interleave(tools: Sequence[Tool], reps: int, *, budget: float, log: Callable[[str], None] = print) -> None:
    """Rounds, each tool once per round in a rotated order, so that every tool runs in every position equally
    often: ``reps`` is rounded up to a multiple of the number of tools. (The first run of a round came out
    slower in 9 of 9 rounds at 10 SSH hosts; with 2 tools and 3 rounds one tool would be first twice.) No new
    round starts once ``budget`` seconds have passed; a stop before the rotation is complete is said."""
    active = [t for t in tools if not t.skipped]
    if active and reps % len(active):
        reps += len(active) - reps % len(active)
        log(f"  {reps} rounds, so that each tool runs in each position as often as the others")
    started = time.monotonic()
    for rep in range(reps):
        order = active[rep % len(active) :] + active[: rep % len(active)] if active else []
        for tool in order:
            run = tool.run()
            problem = tool.check(run)
            if problem:
                tool.failures.append(problem)
                log(f"  round {rep + 1}: {tool.name}: FAILED ({problem})")
                continue
            tool.times.append(run.seconds)
            tool.rounds[rep] = run.seconds
            tool.peak_kib.append(run.peak_kib)
            tool.cpu.append(run.cpu)
            lab = ""
            if run.lab_cpu is not None:
                tool.lab_cpu.append(run.lab_cpu)
                lab = f"   lab CPU {run.lab_cpu:6.2f} s"
            log(f"  round {rep + 1}: {tool.name:<28} {run.seconds:8.2f} s   client CPU {run.cpu:6.2f} s{lab}")
        if time.monotonic() - started > budget and rep + 1 < reps:
            balanced = "" if (rep + 1) % max(1, len(active)) == 0 else " (positions not balanced: read with care)"
            log(f"  time budget of {budget:.0f}s spent after {rep + 1} round(s); stopping there{balanced}")
            break


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def table(tools: Sequence[Tool], reference: str, columns: dict[str, Any]) -> str:
    """The results: tool, the given columns, runs, median seconds, ratio to the reference tool's median, and the
    median CPU seconds of the client process (the lab's excluded) with its ratio."""
    ref = next((median(t.times) for t in tools if t.name == reference), None)
    ref_cpu = next((median(t.cpu) for t in tools if t.name == reference), None)
    ref_tool = next((t for t in tools if t.name == reference), None)
    head = ["tool", *columns, "runs", "median s", f"x {reference}", "paired [min-max]", "client CPU s",
            f"CPU x {reference}", "peak RSS MiB", "server CPU s"]  # fmt: skip
    rows = []
    for t in tools:
        m = median(t.times)
        if t.skipped:
            rows.append(
                [t.name, *map(str, columns.values()), "-", "skipped", " ".join(t.skipped.split())[:80], *[""] * 5]
            )
            continue
        ratio = f"{m / ref:.2f}" if m is not None and ref else "-"
        shown = f"{m:.2f}" if m is not None else "-"
        c = median(t.cpu)
        cpu = f"{c:.2f}" if c is not None else "-"
        cpu_ratio = f"{c / ref_cpu:.2f}" if c is not None and ref_cpu else "-"
        lab = median(t.lab_cpu)
        lab_shown = f"{lab:.2f}" if lab is not None else "-"
        paired = paired_ratios(t, ref_tool) if ref_tool is not None else []
        spread = f"{median(paired):.2f} [{min(paired):.2f}-{max(paired):.2f}]" if paired else "-"
        peak = f"{max(t.peak_kib) / 1024:.1f}" if t.peak_kib else "-"
        row = [t.name, *columns.values(), len(t.times), shown, ratio, spread, cpu, cpu_ratio, peak, lab_shown]
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in [head, *rows]]
    return "\n".join(lines)


def paired_ratios(tool: Tool, reference: Tool) -> list[float]:
    """tool / reference, round by round (the rounds both completed): a busy moment hits both of a pair."""
    return [tool.rounds[r] / reference.rounds[r] for r in sorted(tool.rounds) if reference.rounds.get(r)]


def paired(tools: Sequence[Tool], slower: str, faster: str) -> tuple[float, float, float] | None:
    """Median, min and max of slower/faster over the rounds both completed, when both ran."""
    by = {t.name: t for t in tools}
    if slower not in by or faster not in by:
        return None
    values = paired_ratios(by[slower], by[faster])
    return (statistics.median(values), min(values), max(values)) if values else None


def verdict(tools: Sequence[Tool], peer: str, target: float, log: Callable[[str], None] = print) -> None:
    """One line: how many times faster remediate is than ``peer`` (paired medians and spread), against target."""
    found = paired(tools, peer, "remediate")
    if found is None:
        tool = next((t for t in tools if t.name == peer), None)
        log(f"remediate vs {peer}: not measured ({tool.skipped if tool else 'not run'})")
        return
    m, lo, hi = found
    met = "MET" if m >= target else "NOT MET"
    log(f"remediate is {m:.2f}x faster than {peer} [{lo:.2f}-{hi:.2f} over rounds] (target >= {target}x): {met}")


def memory_baseline(inventory: str, check: str, host: str) -> int:
    """remediate's peak resident memory (KiB) for the same check on one host: what the fleet adds is per host."""
    return timed([*remediate_command(inventory, check, 1), "--limit", host], timeout=120).peak_kib


def memory_verdict(tools: Sequence[Tool], hosts: int, baseline_kib: int, log: Callable[[str], None] = print) -> None:
    """What each host adds to remediate's peak resident memory, over a one-host run, against 150 KiB at 500 hosts
    (below that, a run's one-off costs, its threads and first connections, weigh on few hosts)."""
    tool = next((t for t in tools if t.name == "remediate"), None)
    if tool is None or not tool.peak_kib or hosts < 2 or not baseline_kib:
        return
    per_host = (max(tool.peak_kib) - baseline_kib) / (hosts - 1)
    met = ("MET" if per_host < 150 else "NOT MET") if hosts >= 500 else "the target is for 500 hosts"
    log(f"remediate peak RSS {max(tool.peak_kib) / 1024:.1f} MiB ({baseline_kib / 1024:.1f} MiB for one host): "
        f"{per_host:.0f} KiB per added host (target < 150): {met}")  # fmt: skip


def ratio(tools: Sequence[Tool], slower: str, faster: str) -> float | None:
    """median(slower) / median(faster), when both ran."""
    by = {t.name: median(t.times) for t in tools}
    a, b = by.get(slower), by.get(faster)
    return a / b if a and b else None


def machine_line() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    when = time.strftime("%Y-%m-%d %H:%M")
    return f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load {load:.2f}, {when}"
