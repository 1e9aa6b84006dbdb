"""fs-freeze: file systems the backup cannot freeze because they are not clean.

Answers UserErrorFsFreezeFailed ("Failed to freeze one or more mount points of the VM to take a file system
consistent snapshot"; seed row "マウント ポイントをフリーズできません").

Check: every mounted ext3/ext4/xfs/btrfs file system that the backup freezes (not loop devices, not the resource
disk ``/mnt`` or ``/mnt/resource``, not those listed in ``MountsToSkip`` of ``/etc/azure/vmbackup.conf``), its
state from ``tune2fs -l`` (``Filesystem state``; ``LC_ALL=C``) or ``xfs_repair -n`` (which cannot read a file
system mounted read-write: such an xfs is reported ``unknown`` and left to the freeze test), and whether its mount
point is in use (``fuser -m``; ``/`` always is).

Change, per file system that is not clean: unmount it, ``e2fsck -f -y`` (exit 0, 1 and 2 are success) or
``xfs_repair``, mount it again with the same options. A file system that is still not clean fails the step with
the repair tool's words. One that cannot be unmounted is reported; with ``skip_unmountable=true`` its mount point
is added to ``MountsToSkip`` (comma-separated, no spaces) after a copy of the file is kept beside it.

Verify: every file system clean, and ``fsfreeze -f`` then ``fsfreeze -u`` succeed on each (the verification
after a change freezes and at once thaws, under a trap that thaws on any exit, the way the backup does).

Paths: ``vmbackup_conf`` defaults to ``/etc/azure/vmbackup.conf``; the lab's inventory gives its lab path.
Undo: a repair cannot be undone (said in the plan); ``MountsToSkip`` is restored from the kept copy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk, Verdict, parse_bool
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

FROZEN_TYPES = ("ext3", "ext4", "xfs", "btrfs")
RESOURCE_DISK = ("/mnt", "/mnt/resource")
VMBACKUP_CONF = "/etc/azure/vmbackup.conf"
UNCLEAN = ("not clean", "clean with errors", "not clean with errors")


def parse_tune2fs(text: str) -> dict[str, str | None]:
    """``{"state": "clean" | "not clean" | "clean with errors" | ..., "errors": "Continue" | ...}`` of
    ``tune2fs -l`` output (``LC_ALL=C`` labels). Missing fields are None."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return {"state": fields.get("Filesystem state"), "errors": fields.get("Errors behavior")}


def parse_findmnt_raw(line: str) -> tuple[str, str, str, str]:
    """One ``findmnt -rn -o SOURCE,TARGET,FSTYPE,OPTIONS`` line, with ``\\xNN`` escapes decoded."""
    parts = line.split(" ")
    parts += [""] * (4 - len(parts))
    decoded = [re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), p) for p in parts[:4]]
    return decoded[0], decoded[1], decoded[2], decoded[3]


def parse_mounts_to_skip(text: str | None) -> list[str]:
    if not text:
        return []
    for line in text.splitlines():
        m = re.match(r"^\s*MountsToSkip\s*[=:]\s*(.*)$", line)
        if m:
            return [p.strip() for p in m.group(1).split(",") if p.strip()]
    return []


@dataclass
class Filesystem:
    device: str
    target: str
    fstype: str
    options: str
    state: str = "unknown"  # clean, not clean, clean with errors, unknown, unreadable
    errors: str | None = None
    busy: bool | None = None
    detail: str = ""

    @property
    def unclean(self) -> bool:
        return self.state in UNCLEAN

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FsFreezeState:
    filesystems: list[Filesystem]
    ignored: list[tuple[str, str]]  # (mount point, why the backup does not freeze it)
    conf_path: str
    conf_text: str | None  # None: the file does not exist
    mounts_to_skip: list[str]
    freeze: dict[str, str] | None = None  # mount point -> "ok" or the error; None when not tested
    notes: list[str] = field(default_factory=list)


class FsFreeze(Remediation[FsFreezeState]):
    """Repairs file systems that are not clean so that the backup can freeze them."""

    slug = "fs-freeze"
    title = "Repair file systems that the backup cannot freeze"
    os = "linux"
    risk = Risk.DESTRUCTIVE
    answers = ("UserErrorFsFreezeFailed", "マウント ポイントをフリーズできません")
    params = (
        Param(
            "skip_unmountable",
            "add a mount point that cannot be unmounted to MountsToSkip of vmbackup.conf",
            parse=parse_bool,
            default=False,
            example="true",
        ),
        Param("vmbackup_conf", "path of the backup extension's vmbackup.conf", default=VMBACKUP_CONF),
    )
    example = "remediate --host vm1 fs-freeze --yes --param skip_unmountable=true"
    order = 300
    verify_attempts = 1

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self._verifying = False

    # -- check -----------------------------------------------------------------------------------------------
    def check(self, conn: Connection) -> FsFreezeState:
        conf = self.values["vmbackup_conf"]
        # One command (one SSH channel): the listing and the state of every file system of a frozen type.
        listing = (
            conn.run(
                read("fs_freeze/check.sh", vmbackup_conf=conf, frozen=list(FROZEN_TYPES), resource=list(RESOURCE_DISK))
            ).data
            or {}
        )
        conf_text = None
        if (listing.get("conf") or ["absent"])[0] == "present":
            conf_text = (listing.get("conf_text") or ["x"])[0][:-1]
        skip = parse_mounts_to_skip(conf_text)
        inspected = {
            line: (kind, rc, output, busy)
            for line, kind, rc, output, busy in zip(
                listing.get("line", []),
                listing.get("kind", []),
                listing.get("rc", []),
                listing.get("output", []),
                listing.get("busy", []),
                strict=False,
            )
        }
        filesystems, ignored = [], []
        for line in listing.get("mount", []):
            device, target, fstype, options = parse_findmnt_raw(line)
            if fstype not in FROZEN_TYPES:
                continue
            why = None
            if device.startswith("/dev/loop"):
                why = "loop device"
            elif target in RESOURCE_DISK:
                why = "resource disk"
            elif target in skip:
                why = "in MountsToSkip"
            if why:
                ignored.append((target, why))
                continue
            fs = Filesystem(device, target, fstype, options)
            filesystems.append(fs)
            if line in inspected:
                kind, rc, output, busy = inspected[line]
                fs.busy = {"1": True, "0": False}.get(busy)
                self._read_state(fs, kind, int(rc), output)
        state = FsFreezeState(filesystems, ignored, conf, conf_text, skip)
        if self._verifying:
            targets = [f.target for f in filesystems if not f.unclean]
            if targets:
                result = conn.run(mutate("fs_freeze/freeze_test.sh", targets=targets)).data or {}
                state.freeze = dict(zip(result.get("target", []), result.get("result", []), strict=False))
            else:
                state.freeze = {}
        return state

    @staticmethod
    def _read_state(fs: Filesystem, kind: str, rc: int, output: str) -> None:
        if kind == "tune2fs":
            parsed = parse_tune2fs(output)
            if rc != 0 or parsed["state"] is None:
                fs.state, fs.detail = "unreadable", output.strip()[-300:]
            else:
                fs.state, fs.errors = str(parsed["state"]), parsed["errors"]
        elif kind == "xfs_repair":
            if rc == 0:
                fs.state = "clean"
            elif "mounted" in output:
                fs.state, fs.detail = "unknown", "xfs_repair -n cannot check an xfs mounted read-write"
            else:
                fs.state, fs.detail = "not clean", output.strip()[-300:]
        else:
            fs.state, fs.detail = "unknown", f"no offline check of {fs.fstype} while mounted"

    # -- plan ------------------------------------------------------------------------------------------------
    def plan(self, state: FsFreezeState) -> Plan:
        plan = Plan()
        stuck = []
        for fs in state.filesystems:
            if not fs.unclean:
                continue
            if fs.busy:
                stuck.append(fs)
                continue
            tool = "xfs_repair" if fs.fstype == "xfs" else "e2fsck -f -y"
            plan.changes.append(
                Change(
                    f"unmount {fs.target}, repair {fs.device} ({fs.fstype}, {fs.state}) with {tool}, mount it again",
                    mutate(
                        "fs_freeze/repair.sh", device=fs.device, target=fs.target, fstype=fs.fstype, options=fs.options
                    ),
                    before={"device": fs.device, "state": fs.state, "errors": fs.errors},
                    after={"device": fs.device, "state": "clean"},
                    undo_note="a file system repair cannot be undone",
                )
            )
        if stuck:
            targets = [f.target for f in stuck]
            if self.values["skip_unmountable"]:
                plan.changes.append(self._skip_change(state, targets))
            else:
                for fs in stuck:
                    plan.notes.append(
                        f"{fs.target} ({fs.device}) is {fs.state} but in use and cannot be unmounted: repair it at "
                        "the next boot (fsck), or run again with skip_unmountable=true to add it to MountsToSkip"
                    )
        for target, why in state.ignored:
            if why == "in MountsToSkip":
                plan.notes.append(f"{target} is in MountsToSkip: the backup does not freeze it")
        if plan.changes:
            self._verifying = True
        return plan

    def _skip_change(self, state: FsFreezeState, targets: list[str]) -> Change:
        conf = state.conf_path
        if state.conf_text is None:
            backup = ""
        else:
            digest = hashlib.sha256(state.conf_text.encode("utf-8")).hexdigest()[:12]
            backup = f"{conf}.remediate-{digest}"
        new = [*state.mounts_to_skip, *[t for t in targets if t not in state.mounts_to_skip]]
        return Change(
            f"add {', '.join(targets)} to MountsToSkip in {conf}",
            mutate("fs_freeze/skip_mounts.sh", conf=conf, backup=backup or f"{conf}.remediate-new", mounts=targets),
            before={
                "path": conf,
                "MountsToSkip": ",".join(state.mounts_to_skip),
                "exists": state.conf_text is not None,
            },
            after={"path": conf, "MountsToSkip": ",".join(new), "backup": backup or None},
            undo=mutate("common/file_restore.sh", path=conf, backup=backup),
        )

    # -- verify ----------------------------------------------------------------------------------------------
    def verdict(self, state: FsFreezeState) -> Verdict:
        reasons = [f"{f.target} ({f.device}) is {f.state}" for f in state.filesystems if f.unclean]
        for target, result in (state.freeze or {}).items():
            if result != "ok":
                reasons.append(f"{target}: {result}")
        return Verdict(compliant=not reasons, reasons=reasons)

    def findings(self, state: FsFreezeState) -> list[Finding]:
        found = []
        for fs in state.filesystems:
            freeze = (state.freeze or {}).get(fs.target)
            detail = f"errors: {fs.errors}" if fs.errors else fs.detail
            if freeze is not None:
                detail = (detail + "; " if detail else "") + f"freeze test: {freeze}"
            found.append(
                Finding(
                    f"{fs.target} ({fs.device}, {fs.fstype})",
                    fs.state,
                    compliant=not fs.unclean and freeze in (None, "ok"),
                    detail=detail,
                )
            )
        for target, why in state.ignored:
            found.append(Finding(target, "not frozen by the backup", compliant=True, detail=why))
        return found
