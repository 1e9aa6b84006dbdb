"""vss-service: a VSS service that lists no writers, or is Disabled, is restarted (and set back to Manual)."""

from __future__ import annotations

import time

from lab_run import lab_run


def quick_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.1))


def step_of(result):
    (step,) = result.steps
    return step


def test_healthy_idle_vss_is_compliant(tmp_path) -> None:
    with lab_run(tmp_path, "healthy") as run:
        assert run.machine()["services"]["VSS"]["status"] == "Stopped"
        result, _ = run.run("vss-service", assume_yes=True)
        assert result.status == "ok" and result.changes == 0 and run.mutations() == []


def test_broken_vss_dry_run_then_restart_then_nothing(tmp_path) -> None:
    with lab_run(tmp_path, "vss-service-bad") as run:
        dry, _ = run.run("vss-service", dry_run=True)
        step = step_of(dry)
        assert step.status == "pending" and run.mutations() == []
        assert [c["operation"]["args"] for c in step.planned] == [
            {"name": "VSS", "action": "restart", "timeout_s": 60.0}
        ]
        assert "unexpected error" in step.planned[0]["summary"]
        result, _ = run.run("vss-service", assume_yes=True, sleep=quick_sleep)
        assert step_of(result).status == "changed" and step_of(result).verified
        assert run.machine()["services"]["VSS"]["status"] == "Running"
        again, _ = run.run("vss-service", assume_yes=True)
        assert again.status == "ok" and again.changes == 0


def test_disabled_vss_is_set_to_manual_restarted_and_undo_restores_the_start_type(tmp_path) -> None:
    machine = {"machine": {"services": {"VSS": {"status": "Stopped", "start_type": "Disabled"}}}}
    with lab_run(tmp_path, machine, language="ja-JP") as run:
        result, report = run.run("vss-service", assume_yes=True, sleep=quick_sleep)
        step = step_of(result)
        assert step.status == "changed", step.reason
        assert [c["operation"]["script"] for c in step.applied] == [
            "common/service_config.ps1",
            "common/service_control.ps1",
        ]
        assert step.applied[0]["before"] == {"start_type": "Disabled"}
        vss = run.machine()["services"]["VSS"]
        assert vss["start_type"] == "Manual" and vss["status"] == "Running"
        run.undo(report.run_id)
        assert run.machine()["services"]["VSS"]["start_type"] == "Disabled"


def test_vss_that_will_not_start_fails_with_the_services_own_error(tmp_path) -> None:
    machine = {
        "machine": {"services": {"VSS": {"broken": True, "fail_start": "The service did not start: 0x8007041d"}}}
    }
    with lab_run(tmp_path, machine) as run:
        result, _ = run.run("vss-service", assume_yes=True, sleep=quick_sleep)
        step = step_of(result)
        assert step.status == "failed" and "0x8007041d" in step.reason
