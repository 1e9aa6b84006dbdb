"""bitlocker against lab Windows hosts: report only by default; unlock and disable only when asked.

The recovery password never reaches a log line, a report, a result or a journal on the operator's side.
"""

from __future__ import annotations

import json

import pytest
from lab_run import lab_run
from remediate.remediations.bitlocker import BitLockerRemediation, valid_recovery_password

from remediate import report as report_mod
from remediate.errors import ConfigError

PASSWORD = "135795-258016-380237-502458-624679-660000-013574-720885"  # F:'s, in windows-bitlocker-locked.yml
OTHER = "000000-000011-000022-000033-000044-000055-000066-000077"  # well-formed, another volume's
ENV = "LAB_BL_RECOVERY"


def _no_secret_anywhere(lr, *reports, secret: str = PASSWORD) -> None:
    text = lr.operator_side_text(*reports)
    for r in reports:
        text += report_mod.render_text(r, verbose=True) + report_mod.render_json(r)
        text += json.dumps(r.to_dict(), default=str)
    assert text.strip()
    assert secret not in text
    assert secret.replace("-", "") not in text


def test_recovery_password_format() -> None:
    assert valid_recovery_password(PASSWORD) and valid_recovery_password(OTHER)
    assert not valid_recovery_password("123456-258016-380237-502458-624679-660000-013574-720885")  # not /11
    assert not valid_recovery_password("135795-258016-380237-502458-624679-660000-013574")  # 7 groups
    assert not valid_recovery_password("135795258016380237502458624679660000013574720885")


@pytest.mark.parametrize(
    ("env_value", "name", "words"),
    [
        (PASSWORD, "not a name!", "not an environment variable name"),
        (None, ENV, "is not set"),
        ("hunter2-secret", ENV, "does not hold a BitLocker recovery password"),
    ],
)
def test_unlock_secret_env_is_validated_before_anything_runs(monkeypatch, env_value, name, words) -> None:
    if env_value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, env_value)
    with pytest.raises(ConfigError) as info:
        BitLockerRemediation({"unlock_secret_env": name})
    assert "unlock_secret_env" in str(info.value) and words in str(info.value)
    if env_value:
        assert env_value not in str(info.value)


def test_wrong_param_fails_the_run_before_any_operation(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV, "not-a-password")
    with lab_run(tmp_path, "windows-bitlocker-locked") as lr:
        with pytest.raises(ConfigError, match="unlock_secret_env"):
            lr.run("bitlocker", params={"unlock_secret_env": ENV}, assume_yes=True)
        assert lr.lab.oplog.entries(lr.name) == []


def test_locked_volume_is_reported_not_changed_by_default(tmp_path) -> None:
    with lab_run(tmp_path, "windows-bitlocker-locked") as lr:
        for kwargs in ({"dry_run": True}, {"assume_yes": True}):
            result, _ = lr.run("bitlocker", **kwargs)
            (step,) = result.steps
            assert result.status == "failed" and "F: is locked by BitLocker" in result.reason, result.reason
            assert step.planned == [] and any("unlock_secret_env" in n for n in step.notes)
            assert {f["subject"]: f["compliant"] for f in step.findings} == {"volume C:": True, "volume F:": False}
        assert lr.mutations() == []
        assert lr.machine()["bitlocker"][1]["lock_status"] == "Locked"


def test_unlock_with_a_named_secret_and_undo(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    params = {"unlock_secret_env": ENV}
    with lab_run(tmp_path, "windows-bitlocker-locked") as lr:
        dry, dry_report = lr.run("bitlocker", params=params, dry_run=True)
        assert dry.status == "pending" and dry.pending == 1, dry.reason
        (planned,) = dry.steps[0].planned
        assert "********" in planned["command"] and planned["operation"]["args"]["recovery_password"] == "********"
        assert lr.mutations() == []

        done, report = lr.run("bitlocker", params=params, assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        assert lr.machine()["bitlocker"][1]["lock_status"] == "Unlocked"
        assert lr.machine()["bitlocker"][1]["protection_status"] == "On"  # only unlocked
        journal = [json.loads(line) for line in lr.journal_text().splitlines()]
        (change,) = [e for e in journal if e["event"] == "change"]
        assert change["after"]["unlocked_with"].startswith(f"recovery password from ${ENV}")
        assert change["undo"]["script"] == "bitlocker/lock.ps1"

        again, again_report = lr.run("bitlocker", params=params, assume_yes=True)
        assert again.status == "ok" and again.changes == 0

        undone = lr.undo(report.run_id)
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        assert lr.machine()["bitlocker"][1]["lock_status"] == "Locked"
        _no_secret_anywhere(lr, dry_report, report, again_report, undone)
        # the host did receive it, as data (the volume unlocked); the lab's own operation log masks it too
        (sent,) = [e for e in lr.lab.oplog.entries(lr.name) if e["op"] == "bitlocker/unlock.ps1"]
        assert sent["args"]["recovery_password"] == "********"
        oplog_text = lr.lab.oplog.path.read_text(encoding="utf-8")
        assert PASSWORD not in oplog_text and PASSWORD.replace("-", "") not in oplog_text


def test_wrong_recovery_password_fails_with_the_remote_reason(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV, OTHER)
    with lab_run(tmp_path, "windows-bitlocker-locked") as lr:
        result, report = lr.run("bitlocker", params={"unlock_secret_env": ENV}, assume_yes=True)
        assert result.status == "failed" and "0x80310027" in result.reason, result.reason
        assert lr.machine()["bitlocker"][1]["lock_status"] == "Locked"
        _no_secret_anywhere(lr, report, secret=OTHER)


def test_disable_protection_on_a_locked_volume_fails_with_the_remote_reason(tmp_path) -> None:
    with lab_run(tmp_path, "windows-bitlocker-locked") as lr:
        result, _ = lr.run("bitlocker", params={"disable_protection": "true"}, assume_yes=True)
        assert result.status == "failed" and "locked by BitLocker Drive Encryption" in result.reason
        assert "0x80310000" in result.reason
        assert lr.machine()["bitlocker"][1]["protection_status"] == "On"


def test_unlock_then_disable_protection_as_the_page_says(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    params = {"unlock_secret_env": ENV, "disable_protection": True}
    with lab_run(tmp_path, "windows-bitlocker-locked") as lr:
        done, report = lr.run("bitlocker", params=params, assume_yes=True)
        assert done.status == "changed", done.reason
        assert [m["op"] for m in lr.mutations()] == ["bitlocker/unlock.ps1", "bitlocker/disable.ps1"]
        f = lr.machine()["bitlocker"][1]
        assert f["lock_status"] == "Unlocked" and f["protection_status"] == "Off"
        assert lr.machine()["bitlocker"][0]["protection_status"] == "On"  # C: was not locked: left alone
        disable = done.steps[0].applied[1]
        assert disable["undo"] is None and "Enable-BitLocker" in disable["undo_note"]
        _no_secret_anywhere(lr, report)


def test_destructive_needs_yes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    with lab_run(tmp_path, "windows-bitlocker-locked") as lr:
        result, _ = lr.run("bitlocker", params={"unlock_secret_env": ENV})
        assert result.status == "skipped" and "destructive" in result.reason
        assert lr.mutations() == []


@pytest.mark.parametrize("machine", ["healthy", {"bitlocker_available": False, "bitlocker": []}])
def test_nothing_locked_nothing_to_do(tmp_path, machine) -> None:
    with lab_run(tmp_path, machine) as lr:
        result, _ = lr.run("bitlocker", assume_yes=True, params={"disable_protection": "true"})
        assert result.status == "ok" and result.changes == 0
        assert lr.mutations() == []
