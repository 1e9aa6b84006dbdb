"""vss-writers: the language-independent parser on real captures, the writer table, and the remediation end to
end against lab hosts (en-US and ja-JP) through the runner."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from lab_run import lab_run
from remediate.lab.windows.model import default_machine
from remediate.lab.windows.vssadmin import render_list_writers
from remediate.remediations.vss_writers import VssWriters, parse_vss_writers
from remediate.remediations.vss_writers.parse import decode_output
from remediate.remediations.vss_writers.services import service_for

CAPTURES = Path(__file__).parent / "captures" / "vssadmin"
BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
SYSTEM_WRITER = "{e8132975-6f93-4464-a53e-1050253ae220}"


def capture(name: str) -> str:
    return (CAPTURES / name).read_text(encoding="utf-8")


def quick_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.1))


# -- parser on real outputs -----------------------------------------------------------------------------------------


def test_english_capture_failed_and_waiting_writers() -> None:
    writers = parse_vss_writers(capture("en-US_gilkirkpatrick_hyperv-failed.txt"))
    assert [(w.name, w.state) for w in writers] == [("Microsoft Hyper-V VSS Writer", 8), ("System Writer", 5)]
    hyperv, system = writers
    assert hyperv.writer_id == "{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}"
    assert hyperv.instance_id == "{6162e336-7448-4371-93a7-29581512b103}"
    assert hyperv.last_error == "Inconsistent shadow copy" and not hyperv.healthy
    assert system.healthy and not system.stable  # [5] after a backup is normal
    # the elided last record ('Registry Writer' with no ids nor state) is left out, not guessed
    assert "Registry Writer" not in [w.name for w in writers]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_japanese_capture_in_every_encoding(encoding: str, newline: str) -> None:
    text = capture("ja-JP_jpwinsup_healthy.txt").replace("\n", newline)
    raw = text.encode(encoding, errors="replace")
    writers = parse_vss_writers(decode_output(raw, "cp932"))
    assert [w.name for w in writers] == [
        "System Writer",
        "ASR Writer",
        "Registry Writer",
        "WMI Writer",
        "COM+ REGDB Writer",
        "Shadow Copy Optimization Writer",
    ]
    assert all(w.state == 1 and w.stable for w in writers)
    assert writers[0].state_text == "安定" and writers[0].last_error == "エラーなし"
    assert writers[0].instance_id == "{a1111111-1a11-2222-a33a-eacf897c2bb2}"


def test_japanese_capture_survives_only_as_bytes() -> None:
    """PowerShell decodes a native program's pipe with [Console]::OutputEncoding (UTF-8 in a 65001 shell); vssadmin
    writes cp932 all the same. "ー" (U+30FC) is 0x81 0x5B there: read as UTF-8 it becomes U+FFFD + "[", the name
    lines stop looking like name lines, and no writer is left. Decoded from its bytes, all six are there."""
    raw = capture("ja-JP_jpwinsup_healthy.txt").replace("\n", "\r\n").encode("cp932", errors="replace")
    assert "\u30fc".encode("cp932") == b"\x81\x5b" and b"\x81\x5b" in raw
    through_powershell = raw.decode("utf-8", errors="replace")
    assert "\ufffd[" in through_powershell
    assert parse_vss_writers(through_powershell) == []
    assert len(parse_vss_writers(decode_output(raw, 932))) == 6
    assert len(parse_vss_writers(decode_output(raw))) == 6  # recognised as Japanese without the hint too


@pytest.mark.parametrize(("console", "found"), [(65001, 0), (932, 7)])
def test_lab_native_text_is_decoded_with_the_console_code_page(console: int, found: int) -> None:
    """The lab's model of ``& vssadmin.exe | Out-String`` on a Japanese host: right only when the console's code
    page is the OEM one; under remediate's 65001 shell it loses every writer, as Windows does."""
    from remediate.lab.windows.model import Call

    machine = default_machine("ja-JP")
    text, _ = render_list_writers(machine, time.time())
    call = Call(machine, {}, {"machine": machine}, console_codepage=console)
    assert call.native_output(text) == text.encode("cp932")
    assert len(parse_vss_writers(call.native_text(text))) == found


def test_french_capture_with_space_before_colon_and_cut_off_end() -> None:
    writers = parse_vss_writers(capture("fr-FR_openzfsonwindows-406.txt").encode("utf-8"))
    assert len(writers) == 4
    assert writers[3].name == "System Writer" and writers[3].writer_id == SYSTEM_WRITER
    assert writers[3].last_error == "Aucune erreur" and writers[3].state == 1


def test_numeric_error_code_is_kept_with_the_raw_text() -> None:
    text = (
        "Writer name: 'SqlServerWriter'\r\n   Writer Id: {a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}\r\n"
        "   Writer Instance Id: {9075d8d5-a7d9-4d3d-8d82-7e8c2d0e71bc}\r\n   State: [8] Failed\r\n"
        "   Last error: Unexpected error (0x800423f4)\r\n"
    )
    (writer,) = parse_vss_writers("\ufeff" + text)
    assert writer.last_error == "Unexpected error (0x800423f4)" and writer.last_error_code == 0x800423F4


@pytest.mark.parametrize("language", ["en-US", "ja-JP", "de-DE", "fr-FR"])
def test_lab_rendering_parses_the_same_in_every_language(language: str) -> None:
    machine = default_machine(language)
    machine["vss_writers"][0].update(state=8, last_error=0x800423F3, recover_after_s=None)
    text, code = render_list_writers(machine, time.time())
    writers = parse_vss_writers(text)
    assert code == 0 and len(writers) == len(machine["vss_writers"])
    assert [w.writer_id for w in writers] == [w["id"] for w in machine["vss_writers"]]
    assert writers[0].state == 8 and [w.state for w in writers[1:]] == [1] * (len(writers) - 1)


def test_writer_to_service_by_id_then_english_name() -> None:
    assert service_for(SYSTEM_WRITER, "ライター何か").service == "CryptSvc"
    assert service_for(SYSTEM_WRITER, "x").by == "id"
    assert service_for("{00000000-0000-0000-0000-000000000000}", "WMI Writer").service == "Winmgmt"
    assert service_for("{76fe1ac4-15f7-4bcd-987e-8e1acb462fb7}", "Microsoft Exchange Replica Writer").service == (
        "MSExchangeRepl"
    )
    assert service_for("{00000000-0000-0000-0000-000000000000}", "Contoso Writer") is None


def test_plan_orders_vss_last_and_names_workload_services() -> None:
    from remediate.remediations.common.windows import ServiceState
    from remediate.remediations.vss_writers import VssWritersState

    machine = default_machine()
    machine["vss_writers"][2].update(state=8)  # COM+ REGDB -> VSS
    machine["vss_writers"][0].update(state=7)  # System -> CryptSvc
    machine["vss_writers"].append(
        {"name": "NTDS", "id": "{b2014c9e-8711-4c5c-a5a9-3cf384484757}", "instance_id": "{1}", "state": 11,
         "last_error": 0x800423F4, "service": "NTDS", "recover_after_s": 0}
    )  # fmt: skip
    machine["vss_writers"][-1]["instance_id"] = "{11111111-2222-3333-4444-555555555555}"
    text, _ = render_list_writers(machine, time.time())
    services = {n: ServiceState(n, True, "Running", "Automatic") for n in ("VSS", "CryptSvc", "NTDS")}
    plan = VssWriters().plan(VssWritersState(text, 0, parse_vss_writers(text), services))
    assert [c.operation.args["name"] for c in plan.changes] == ["CryptSvc", "NTDS", "VSS"]
    assert "interrupts Active Directory" in plan.changes[1].summary
    assert all(c.undo is None and c.undo_note for c in plan.changes)


# -- end to end -------------------------------------------------------------------------------------------------------


def step_of(result):
    (step,) = result.steps
    return step


def test_healthy_host_plans_nothing(tmp_path) -> None:
    with lab_run(tmp_path, "healthy") as run:
        result, _ = run.run("vss-writers")
        assert result.status == "ok" and result.changes == 0
        assert run.mutations() == []


def test_dry_run_plans_the_restart_and_mutates_nothing(tmp_path) -> None:
    with lab_run(tmp_path, "vss-writers-failed") as run:
        result, _ = run.run("vss-writers", dry_run=True)
        step = step_of(result)
        assert step.status == "pending" and "dry-run" in step.reason
        assert [c["operation"]["args"]["name"] for c in step.planned] == ["CryptSvc"]
        assert "System Writer" in step.planned[0]["summary"]
        assert any(not f["compliant"] and "System Writer" in f["subject"] for f in step.findings)
        assert run.mutations() == []
        assert "restarted_at" not in run.machine()["services"]["CryptSvc"]


def test_apply_fixes_verifies_and_second_run_changes_nothing(tmp_path) -> None:
    with lab_run(tmp_path, "vss-writers-failed") as run:
        result, _ = run.run("vss-writers", assume_yes=True, sleep=quick_sleep)
        step = step_of(result)
        assert step.status == "changed", step.reason
        assert step.verified is True and len(step.applied) == 1
        assert [m["op"] for m in run.mutations()] == ["common/service_control.ps1"]
        again, _ = run.run("vss-writers", assume_yes=True)
        assert again.status == "ok" and again.changes == 0


def test_disruptive_change_needs_yes(tmp_path) -> None:
    with lab_run(tmp_path, "vss-writers-failed") as run:
        result, _ = run.run("vss-writers")
        assert step_of(result).status == "skipped" and run.mutations() == []


def test_never_recovering_writer_fails_with_the_remote_reason_and_offers_the_next_step(tmp_path) -> None:
    with lab_run(tmp_path, "vss-writer-never-recovers") as run:
        result, _ = run.run("vss-writers", assume_yes=True, sleep=quick_sleep)
        step = step_of(result)
        assert step.status == "failed"
        assert "System Writer" in step.reason and "[8] Failed" in step.reason and "Retryable error" in step.reason
        assert "snapshot_without_threads=true" in step.reason
        assert "SnapshotWithoutThreads" not in run.machine()["registry"][BCDR]


def test_escalation_sets_snapshot_without_threads_and_undo_removes_it(tmp_path) -> None:
    with lab_run(tmp_path, "vss-writer-never-recovers") as run:
        result, report = run.run(
            "vss-writers", assume_yes=True, sleep=quick_sleep, params={"snapshot_without_threads": "true"}
        )
        step = step_of(result)
        assert step.status == "failed"
        assert run.machine()["registry"][BCDR]["SnapshotWithoutThreads"] == {"type": "REG_SZ", "data": "True"}
        scripts = [c["operation"]["script"] for c in step.applied]
        assert scripts == ["common/service_control.ps1", "common/registry_set.ps1"]
        undone = run.undo(report.run_id)
        assert undone.hosts[0].status in ("ok", "changed")
        assert "SnapshotWithoutThreads" not in run.machine()["registry"][BCDR]
        assert run.machine()["registry"][BCDR]["SnapshotMethod"]["data"] == "firstHostThenGuest"


def test_unknown_writer_is_reported_not_guessed(tmp_path) -> None:
    with lab_run(tmp_path, "vss-unknown-writer") as run:
        result, _ = run.run("vss-writers", dry_run=True)
        step = step_of(result)
        assert [c["operation"]["args"]["name"] for c in step.planned] == ["Winmgmt"]
        assert any("Contoso Backup Writer" in n and "no known service" in n for n in step.notes)
        result, _ = run.run("vss-writers", assume_yes=True, sleep=quick_sleep)
        assert step_of(result).status == "failed" and "Contoso Backup Writer" in step_of(result).reason
        assert "restarted_at" not in run.machine()["services"]["ContosoBackup"]


def test_japanese_host_end_to_end(tmp_path) -> None:
    with lab_run(tmp_path, "vss-writers-failed", language="ja-JP") as run:
        assert run.machine()["codepage"] == 932
        dry, _ = run.run("vss-writers", dry_run=True)
        assert [c["operation"]["args"]["name"] for c in step_of(dry).planned] == ["CryptSvc"]
        assert any(f["state"] == "[8] 失敗" for f in step_of(dry).findings)
        result, _ = run.run("vss-writers", assume_yes=True, sleep=quick_sleep)
        assert step_of(result).status == "changed" and step_of(result).verified


def test_japanese_never_recovering_reason_is_the_hosts_own_words(tmp_path) -> None:
    with lab_run(tmp_path, "vss-writer-never-recovers", language="ja-JP") as run:
        result, _ = run.run("vss-writers", assume_yes=True, sleep=quick_sleep)
        assert step_of(result).status == "failed" and "再試行可能なエラー" in step_of(result).reason


HOSTILE = ["x'; Remove-Item C:\\ -Recurse #", "$(Restart-Computer)", "`whoami`", "CryptSvc'; Stop-Service *"]


def test_hostile_writer_names_are_harmless(tmp_path) -> None:
    machine = default_machine()
    for i, name in enumerate(HOSTILE):
        machine["vss_writers"].append(
            {"name": name, "id": f"{{0000000{i}-1111-2222-3333-444444444444}}", "state": 8, "last_error": 0,
             "instance_id": f"{{0000000{i}-5555-6666-7777-888888888888}}", "service": "Nope", "recover_after_s": 0}
        )  # fmt: skip
    with lab_run(tmp_path, {"machine": {"vss_writers": machine["vss_writers"]}}) as run:
        result, _ = run.run("vss-writers", assume_yes=True, sleep=quick_sleep)
        step = step_of(result)
        assert step.planned == [] and run.mutations() == []
        for name in HOSTILE:
            assert any(f"'{name}'" in n for n in step.notes), name
        assert all(s["status"] in ("Running", "Stopped") for s in run.machine()["services"].values())


@pytest.mark.parametrize("language", ["en-US", "ja-JP", "de-DE", "fr-FR"])
def test_vssadmin_bytes_in_the_oem_code_page_are_read_over_winrm(tmp_path, language: str) -> None:
    """The lab's vssadmin writes its OEM code page (cp932, cp850, cp437) although remediate's shell asked for
    65001; check.ps1 returns the bytes and the operator's side decodes them: the host's own words come back."""
    from remediate.lab.windows.vssadmin import error_text, state_text
    from remediate.remediations.vss_writers import CHECK, VssWriters
    from windows_lab import windows_host

    from remediate.operation import read

    with windows_host(tmp_path, "win01", language=language) as h:
        with h.state.edit() as data:
            data["machine"]["vss_writers"][0].update(state=8, last_error=0x800423F2, recover_after_s=None)
        raw = h.conn.run(read(CHECK, services=["CryptSvc"])).data
        state = VssWriters().check(h.conn)
    oem = {"en-US": 437, "ja-JP": 932, "de-DE": 850, "fr-FR": 850}[language]
    assert raw["oem_codepage"] == oem
    wire = base64.b64decode(raw["stdout_base64"])
    if language != "en-US":
        with pytest.raises(UnicodeDecodeError):
            wire.decode("utf-8")  # OEM bytes, not the UTF-8 the shell asked for
    assert len(state.writers) == 7 and state.listed
    (failed,) = state.failing
    assert failed.name == "System Writer"
    assert failed.state_text == state_text(language, 8) and failed.last_error == error_text(language, 0x800423F2)
    assert "\ufffd" not in state.text
