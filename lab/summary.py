"""What ``remediate lab show`` and ``remediate lab log`` print by default: a summary a person reads.

A Windows host's VSS writers are shown as ``vssadmin list writers`` would report them now (a writer whose
service was restarted recovers after ``recover_after_s``), not as the stored starting state; times are
local ISO times, not epoch seconds. ``--output yaml|json`` prints the raw state instead.
"""

from __future__ import annotations

import json
import time
from typing import Any

SCALARS = (str, int, float, bool, type(None))


def when(epoch: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(epoch)))
    except (TypeError, ValueError, OverflowError):
        return str(epoch)


def _value(key: str, value: Any) -> str:
    if key.endswith("_at") or key == "ts":
        return when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, SCALARS):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _inline(item: dict[str, Any]) -> str:
    return "  ".join(f"{k}={_value(k, v)}" for k, v in item.items())


def _section(name: str, value: Any, indent: str = "") -> list[str]:
    if isinstance(value, SCALARS):
        return [f"{indent}{name}: {_value(name, value)}"]
    if isinstance(value, list):
        if not value:
            return [f"{indent}{name}: none"]
        if all(isinstance(v, dict) for v in value):
            return [f"{indent}{name}:", *(f"{indent}  - {_inline(v)}" for v in value)]
        return [f"{indent}{name}: {', '.join(_value(name, v) for v in value)}"]
    if isinstance(value, dict):
        if not value:
            return [f"{indent}{name}: none"]
        if all(isinstance(v, SCALARS) for v in value.values()):
            return [f"{indent}{name}: {_inline(value)}"]
        out = [f"{indent}{name}:"]
        for key, sub in value.items():
            out.extend(_section(str(key), sub, indent + "  "))
        return out
    return [f"{indent}{name}: {value!r}"]


def _windows(machine: dict[str, Any], now: float) -> list[str]:
    from remediate.lab.windows.vssadmin import STATES, effective_writer, state_text

    lines = []
    language = machine.get("language", "en-US")
    services = machine.get("services") or {}
    if services:
        width = max(len(n) for n in services)
        lines.append("services:")
        for name, svc in services.items():
            extra = {k: v for k, v in svc.items() if k not in ("status", "start_type", "logon")}
            tail = f"  {_inline(extra)}" if extra else ""
            lines.append(
                f"  {name:<{width}}  {svc.get('status', '?'):<8} {svc.get('start_type', '?'):<10} "
                f"{svc.get('logon', '')}{tail}"
            )
    writers = machine.get("vss_writers") or []
    if writers:
        lines.append("VSS writers (as vssadmin reports them now):")
        width = max(len(w["name"]) for w in writers)
        for w in writers:
            code, error = effective_writer(machine, w, now)
            text = state_text(language if language in STATES else "en-US", code)
            stored = f"  (stored state [{w.get('state')}], recovered)" if code != int(w.get("state", 1)) else ""
            err = f"  last error 0x{error:08x}" if error else ""
            lines.append(f"  [{code}] {w['name']:<{width}}  {text}  service {w.get('service', '-')}{err}{stored}")
    return lines


def summarize_host(state: dict[str, Any], now: float | None = None) -> str:
    """A lab host's state for a person: who it is, its faults, then its machine section by section."""
    now = time.time() if now is None else now
    machine = state.get("machine") or {}
    head = [
        state.get("name", "?"),
        state.get("os", "?"),
        f"port {state.get('port') or '-'}",
        f"user {state.get('user')}",
    ]
    if state.get("os") == "windows":
        head.append(
            f"{machine.get('hostname', '')} {machine.get('language', '')} (code page {machine.get('codepage')})"
        )
        head.append(f"Windows {machine.get('os_version', '?')}")
    elif machine.get("distro"):
        head.append(" ".join(str(v) for v in machine["distro"].values()))
    lines = ["  ".join(head)]
    faults = state.get("faults") or {}
    lines.append(f"faults: {_inline(faults) if faults else 'none'}")
    shown = {"hostname", "language", "codepage", "os_version", "distro"}
    if state.get("os") == "windows":
        lines.extend(_windows(machine, now))
        shown |= {"services", "vss_writers"}
    for key, value in machine.items():
        if key not in shown:
            lines.extend(_section(str(key), value))
    return "\n".join(lines) + "\n"


def summarize_log(entries: list[dict[str, Any]]) -> str:
    """One line per operation the lab executed: time, host, read or CHANGE, the operation, its outcome."""
    if not entries:
        return "no operations recorded\n"
    width = max(4, *(len(str(e.get("host", ""))) for e in entries))
    lines = [f"{'TIME':<19}  {'HOST':<{width}}  {'KIND':<6}  OPERATION"]
    for e in entries:
        kind = "CHANGE" if e.get("mutating") else "read"
        detail = {k: v for k, v in e.items() if k not in ("ts", "host", "op", "mutating", "args", "command")}
        ok = detail.pop("ok", None)
        outcome = "" if ok is None else ("  ok" if ok else "  FAILED")
        extra = f"  {_inline(detail)}" if detail else ""
        lines.append(f"{when(e.get('ts')):<19}  {e.get('host', ''):<{width}}  {kind:<6}  {e.get('op')}{outcome}{extra}")
    return "\n".join(lines) + "\n"
