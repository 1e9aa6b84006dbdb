"""linux-agent: version parsing on real `waagent --version` outputs, config edits on a real waagent.conf, lifecycle."""

from __future__ import annotations

from pathlib import Path

import pytest
from linux_lab import linux_lab

from remediations.linux_agent import VERSION_FLOOR, effective_version, parse_conf, parse_version

CAPTURES = Path(__file__).parent / "captures" / "waagent"
REAL_CONF = (CAPTURES / "waagent.conf").read_bytes()


@pytest.mark.parametrize(
    ("name", "package", "goal"),
    [
        ("version-2.2.45-ubuntu.txt", (2, 2, 45), (2, 8, 0, 11)),
        ("version-2.1.5.3-ubuntu.txt", (2, 1, 5, 3), (2, 1, 6)),
        ("version-2.2.32.2-centos.txt", (2, 2, 32, 2), (2, 2, 36)),
    ],
)
def test_parse_real_version_outputs(name: str, package: tuple, goal: tuple) -> None:
    text = (CAPTURES / name).read_text(encoding="utf-8")
    assert parse_version(text) == {"package": package, "goal_state": goal}
    assert effective_version(text) == goal


def test_floor_comparison() -> None:
    assert effective_version("WALinuxAgent-2.2.45 running on ubuntu 18.04\nPython: 3.6.9\n") < VERSION_FLOOR
    assert effective_version("WALinuxAgent-2.2.45 running on ubuntu 18.04\nGoal state agent: 2.9.1.1\n") > VERSION_FLOOR


def test_parse_real_conf() -> None:
    values = parse_conf(REAL_CONF.decode())
    assert values["Extensions.Enabled"] == "y" and values["Provisioning.Agent"] == "auto"
    assert "HttpProxy.Host" not in values  # commented out


def test_healthy_agent(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "ok" and step.planned == [], step.reason
        assert h.mutations() == []


def test_stopped_agent_is_restarted(tmp_path) -> None:
    with linux_lab(tmp_path, "agent-stopped") as h:
        before = h.snapshot()
        _, step = h.run("linux-agent", dry_run=True)
        assert [c["operation"]["script"] for c in step.planned] == ["linux_agent/restart.sh"]
        assert step.planned[0]["undo_note"]
        assert h.mutations() == [] and h.snapshot() == before

        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "changed" and step.verified, step.reason
        assert h.machine()["services"]["walinuxagent"]["active"] == "active"
        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "ok" and step.planned == []


def test_service_that_will_not_start_fails_with_systemctl_words(tmp_path) -> None:
    with linux_lab(tmp_path, "agent-stopped") as h:
        with h.edit() as state:
            state["machine"]["services"]["walinuxagent"]["start_fails"] = True
        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "failed"
        assert "Job for walinuxagent.service failed" in step.reason


def test_config_fixed_byte_identical_with_backup_and_undo(tmp_path) -> None:
    with linux_lab(tmp_path, "agent-config") as h:
        conf = h.root / "etc/waagent.conf"
        broken = conf.read_bytes()
        assert b"Extensions.Enabled=n\n" in broken and b"Provisioning.Agent=waagent\n" in broken
        before = h.snapshot()
        _, step = h.run("linux-agent", dry_run=True)
        assert [c["operation"]["script"] for c in step.planned] == ["linux_agent/set_conf.sh", "linux_agent/restart.sh"]
        assert h.mutations() == [] and h.snapshot() == before

        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "changed" and step.verified, step.reason
        assert conf.read_bytes() == REAL_CONF  # only the two lines changed back; every other byte kept
        backups = list(conf.parent.glob("waagent.conf.remediate-*"))
        assert [b.read_bytes() for b in backups] == [broken]

        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "ok" and step.planned == []

        journal = sorted((h.tmp / "journal").glob("*.jsonl"))
        first_fix = next(j.stem for j in journal if "set_conf.sh" in j.read_text())
        report = h.undo(first_fix)
        assert report.hosts[0].status != "failed", report.hosts[0].reason
        assert conf.read_bytes() == broken


def test_missing_key_is_appended_keeping_the_rest(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        conf = h.root / "etc/waagent.conf"
        text = REAL_CONF.replace(b"Provisioning.Agent=auto\n", b"").replace(b"Extensions.Enabled=y\n", b"")
        text = text.rstrip(b"\n") + b"\nExtensions.Enabled=n"  # no newline at the end
        conf.write_bytes(text)
        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "changed", step.reason
        assert conf.read_bytes() == text.replace(b"Extensions.Enabled=n", b"Extensions.Enabled=y\n")


def test_old_agent_reported_then_updated_only_on_request(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        with h.edit() as state:
            state["machine"]["waagent"].update(goal_state_version=None, available_version="2.2.53.1")
        result, step = h.run("linux-agent", assume_yes=True)
        assert step.planned == [] and any("update_agent=true" in n for n in step.notes)
        assert result.status == "failed"
        assert h.mutations() == []

        result, step = h.run("linux-agent", assume_yes=True, params={"update_agent": "yes"})
        assert result.status == "changed" and step.verified, step.reason
        assert h.machine()["waagent"]["package_version"] == "2.2.53.1"
        assert any(e["op"].startswith("apt-get install") for e in h.mutations())


def test_hostile_config_path_is_data(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        marker = tmp_path / "pwned"
        path = f"{h.root}/etc/waagent.conf'; touch {marker}; echo '$(touch {marker})`touch {marker}`"
        result, _ = h.run("linux-agent", assume_yes=True, params={"waagent_conf": path})
        assert not marker.exists()
        assert result.status in ("ok", "failed")
