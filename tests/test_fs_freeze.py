"""fs-freeze: parser on real tune2fs captures, the lifecycle on the lab model, and on real ext4 loop devices."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import loop_devices_available
from linux_lab import linux_lab
from remediate.lab.linux.host import attach_image, cleanup
from remediate.remediations.fs_freeze import parse_findmnt_raw, parse_mounts_to_skip, parse_tune2fs

CAPTURES = Path(__file__).parent / "captures" / "tune2fs"


@pytest.mark.parametrize(
    ("name", "state", "errors"),
    [
        ("e2fsprogs-issue-37-clean.txt", "clean", "Continue"),
        ("ext4-clean.txt", "clean", "Continue"),
        ("ext4-not-clean.txt", "not clean", "Continue"),
        ("ext4-clean-with-errors.txt", "clean with errors", "Remount read-only"),
    ],
)
def test_parse_tune2fs_real_outputs(name: str, state: str, errors: str) -> None:
    parsed = parse_tune2fs((CAPTURES / name).read_text(encoding="utf-8"))
    assert parsed == {"state": state, "errors": errors}


def test_parse_tune2fs_without_state() -> None:
    assert parse_tune2fs("tune2fs: Bad magic number in super-block")["state"] is None


def test_findmnt_raw_escapes_and_mounts_to_skip() -> None:
    assert parse_findmnt_raw(r"/dev/sdc1 /data\x20disk ext4 rw,relatime") == (
        "/dev/sdc1",
        "/data disk",
        "ext4",
        "rw,relatime",
    )
    conf = "[SnapshotThreshold]\nfsfreeze: True\nMountsToSkip = /mnt/resource,/data\nSafeFreezeWaitInSeconds=600\n"
    assert parse_mounts_to_skip(conf) == ["/mnt/resource", "/data"]


def test_healthy_host_is_compliant(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        _result, step = h.run("fs-freeze", assume_yes=True)
        assert step.status == "ok", step.reason
        assert step.planned == []
        assert h.mutations() == []


def test_unclean_fs_dry_run_then_fix_then_zero_changes(tmp_path) -> None:
    with linux_lab(tmp_path, "fs-unclean") as h:
        before = h.snapshot()
        result, step = h.run("fs-freeze", dry_run=True)
        assert step.status == "pending" and not step.applied
        (change,) = step.planned  # /data only: /mnt is the resource disk, / and /logs are clean
        assert "/data" in change["summary"] and change["undo_note"]
        assert h.mutations() == []
        assert h.snapshot() == before

        result, step = h.run("fs-freeze", assume_yes=True)
        assert result.status == "changed" and step.status == "changed", step.reason
        assert step.verified is True
        data = next(m for m in h.machine()["mounts"] if m["target"] == "/data")
        assert data["state"] == "clean" and data["mounted"] and not data.get("frozen")
        ops = [e["op"] for e in h.mutations()]
        assert ops[:3] == ["umount /data", "e2fsck -f -y /dev/sdc1", "mount -o rw,relatime /dev/sdc1 /data"]
        assert "fsfreeze -f /data" in ops and "fsfreeze -u /data" in ops  # verified by a freeze and a thaw

        count = len(h.mutations())
        _result, step = h.run("fs-freeze", assume_yes=True)
        assert step.status == "ok" and step.planned == []
        assert len(h.mutations()) == count


def test_fsck_cannot_fix_ends_failed_with_remote_reason(tmp_path) -> None:
    with linux_lab(tmp_path, "fs-unclean") as h:
        with h.edit() as state:
            for m in state["machine"]["mounts"]:
                if m["target"] == "/data":
                    m["fsck_fixes"] = False
        result, step = h.run("fs-freeze", assume_yes=True)
        assert result.status == "failed"
        assert "still not clean" in step.reason and "Filesystem still has errors" in step.reason
        data = next(m for m in h.machine()["mounts"] if m["target"] == "/data")
        assert data["mounted"]  # mounted again even though the repair failed


def test_busy_fs_reported_then_skipped_with_undo(tmp_path) -> None:
    with linux_lab(tmp_path, "fs-unclean") as h:
        with h.edit() as state:
            for m in state["machine"]["mounts"]:
                if m["target"] == "/data":
                    m["busy"] = True
        conf = h.root / "etc/azure/vmbackup.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        original = b"[SnapshotThreshold]\nfsfreeze: True\nMountsToSkip = /mnt/resource\nSafeFreezeWaitInSeconds=600\n"
        conf.write_bytes(original)

        result, step = h.run("fs-freeze", assume_yes=True)
        assert step.planned == [] and any("skip_unmountable" in n for n in step.notes)
        assert result.status == "failed"  # not compliant, and nothing it may do without the parameter

        result, step = h.run("fs-freeze", assume_yes=True, params={"skip_unmountable": "true"})
        assert step.status == "changed", step.reason
        text = conf.read_text()
        assert "MountsToSkip = /mnt/resource,/data\n" in text
        assert text.replace("/mnt/resource,/data", "/mnt/resource").encode() == original
        backups = list(conf.parent.glob("vmbackup.conf.remediate-*"))
        assert len(backups) == 1 and backups[0].read_bytes() == original

        report = h.undo(result_run_id(h))
        assert report.hosts[0].status in ("changed", "ok"), report.hosts[0].reason
        assert conf.read_bytes() == original


def result_run_id(h) -> str:
    # the newest journal: run ids of two runs in the same second do not sort by time
    journal = max((h.tmp / "journal").glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    return journal.stem


def test_bad_parameter_is_a_config_error() -> None:
    from remediate.remediations.fs_freeze import FsFreeze

    from remediate.errors import ConfigError

    with pytest.raises(ConfigError, match="skip_unmountable"):
        FsFreeze({"skip_unmountable": "perhaps"})


# -- real ext4 file systems on loop devices -------------------------------------------------------------------
@pytest.fixture
def real_fs_lab(tmp_path, monkeypatch):
    ok, why = loop_devices_available()
    if not ok:
        pytest.skip(why)
    from remediate.lab.linux.host import loop_devices_available as lab_reason

    reason = lab_reason()
    if reason:
        pytest.skip(reason)
    with linux_lab(tmp_path) as h:
        try:
            yield h
        finally:
            cleanup(h.lab)
            left = subprocess.run(["losetup", "-J", "-l"], capture_output=True, text=True).stdout
            assert str(h.lab.dir) not in left


@pytest.mark.loop
def test_real_dirty_ext4_is_repaired_and_freezes(real_fs_lab) -> None:
    h = real_fs_lab
    entry = attach_image(h.lab.state(h.name), "/dev/sdc1", "/data", dirty=True)
    loop = entry["real"]["loop"]
    before = subprocess.run(["tune2fs", "-l", loop], capture_output=True, text=True).stdout
    assert parse_tune2fs(before)["state"] == "not clean"

    result, step = h.run("fs-freeze", dry_run=True)
    assert [c["operation"]["args"]["device"] for c in step.planned] == ["/dev/sdc1"]
    assert h.mutations() == []

    result, step = h.run("fs-freeze", assume_yes=True)
    assert result.status == "changed" and step.verified, step.reason
    after = subprocess.run(["tune2fs", "-l", loop], capture_output=True, text=True).stdout
    assert parse_tune2fs(after)["state"] == "clean"
    mounts = Path("/proc/self/mounts").read_text()
    assert entry["real"]["dir"] in mounts

    _result, step = h.run("fs-freeze", assume_yes=True)
    assert step.status == "ok" and step.planned == []


@pytest.mark.loop
def test_lab_refuses_devices_that_are_not_its_own(real_fs_lab) -> None:
    h = real_fs_lab
    with h.edit() as state:
        state["machine"]["mounts"].append(
            {
                "device": "/dev/sde1",
                "target": "/evil",
                "fstype": "ext4",
                "options": "rw",
                "mounted": True,
                "real": {"loop": "/dev/loop0", "dir": "/", "image": "/etc/passwd"},
            }
        )
    from remediate.lab.linux.host import exec_environment

    env = exec_environment(h.lab.state(h.name), h.lab.oplog)
    done = subprocess.run(["/bin/sh", "-c", "umount /evil"], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "refusing" in done.stderr
