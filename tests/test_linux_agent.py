"""linux-agent: version parsing on real `waagent --version` outputs, config edits on a real waagent.conf, lifecycle."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from linux_lab import linux_lab
from remediate.remediations.linux_agent import VERSION_FLOOR, effective_version, parse_conf, parse_version
from remediate.remediations.linux_agent.conf import agent_values, apply_edits, edits_for

CAPTURES = Path(__file__).parent / "captures" / "waagent"
DISTROS = sorted((Path(__file__).parent / "fixtures" / "waagent").glob("*.conf"))
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
        # Only the line the agent reads changes: no line break is added at the end of the file.
        assert conf.read_bytes() == text.replace(b"Extensions.Enabled=n", b"Extensions.Enabled=y")


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


# -- waagent.conf as the agent reads it (azurelinuxagent/common/conf.py, ConfigurationProvider.load) -----------
@pytest.mark.parametrize(
    ("text", "extensions", "provisioning"),
    [
        ("Extensions.Enabled=n\n", "n", None),
        ("Extensions.Enabled=n\nExtensions.Enabled=y\n", "y", None),  # the last line wins
        ("Extensions.Enabled=y\nExtensions.Enabled=n\n", "n", None),
        ("#Extensions.Enabled=n\n", None, None),  # a comment
        ("  # Extensions.Enabled=n\n", None, None),  # key "# Extensions.Enabled": nothing reads it
        ("  Extensions.Enabled = n \n", "n", None),  # whitespace around key and value
        ('Extensions.Enabled="n"\n', "n", None),  # double quotes go
        ("Extensions.Enabled='n'\n", "'n'", None),  # single quotes stay
        ("Extensions.Enabled=n # off for now\n", "n", None),  # inline comment
        ("Extensions.Enabled=#n\n", "", None),
        ("Extensions.Enabled=None\n", None, None),
        ("Extensions.Enabled=n\nExtensions.Enabled=None\n", None, None),  # None, last, means unset
        ("Extensions.Enabled=n\r\nProvisioning.Agent=waagent\r\n", "n", "waagent"),  # CRLF
        ("Extensions.Enabled\n", None, None),  # no '='
        ("Provisioning.Agent=cloud-init=x\n", None, "cloud-init=x"),  # split on the first '='
        ("\ufeffExtensions.Enabled=n\n", None, None),  # a BOM is part of the first key
    ],
)
def test_values_as_the_agent_reads_them(text: str, extensions: str | None, provisioning: str | None) -> None:
    values = agent_values(text)
    assert values.get("Extensions.Enabled") == extensions
    assert values.get("Provisioning.Agent") == provisioning


@pytest.mark.parametrize(
    ("value", "compliant"),
    [("y", True), ("Y", True), ("n", False), ("N", False), ("yes", True), ("no", True), ("", True), (None, True)],
)
def test_extensions_switch_reads_unknown_values_as_the_default(value: str | None, compliant: bool) -> None:
    from remediate.remediations.linux_agent import SETTINGS

    assert SETTINGS[0].key == "Extensions.Enabled" and SETTINGS[0].compliant(value) is compliant


@pytest.mark.parametrize(("value", "compliant"), [("auto", True), (None, True), ("Auto", False), ("waagent", False)])
def test_provisioning_agent_compared_as_written(value: str | None, compliant: bool) -> None:
    from remediate.remediations.linux_agent import SETTINGS

    assert SETTINGS[1].key == "Provisioning.Agent" and SETTINGS[1].compliant(value) is compliant


def _variants(text: str) -> dict[str, tuple[str, str]]:
    """``{name: (file, what it must become)}`` for one distribution file, built by plain text edits."""
    active = [ln for ln in text.split("\n") if ln.startswith(("Extensions.Enabled=", "Provisioning.Agent="))]
    absent = "\n".join(ln for ln in text.split("\n") if ln not in active)
    # chainguard and cacheguard ship extensions off; cacheguard also names waagent as its provisioning agent
    as_is = text.replace("Extensions.Enabled=n\n", "Extensions.Enabled=y\n")
    as_is = as_is.replace("Provisioning.Agent=waagent\n", "Provisioning.Agent=auto\n")
    duplicated = text + "Extensions.Enabled=y\nExtensions.Enabled = N # later\nProvisioning.Agent=waagent\n"
    duplicated_fixed = text + "Extensions.Enabled=y\nExtensions.Enabled=y\nProvisioning.Agent=auto\n"
    crlf = duplicated.replace("\n", "\r\n")
    comments = "#Extensions.Enabled=n\n  # Provisioning.Agent=waagent\n"
    return {
        "as-is": (text, as_is),
        "commented": (text + comments, as_is + comments),
        "absent": (absent, absent),
        "duplicated": (duplicated, duplicated_fixed),
        "duplicated-crlf": (crlf, duplicated_fixed.replace("\n", "\r\n")),
    }


@pytest.mark.parametrize("path", DISTROS, ids=[p.stem for p in DISTROS])
def test_every_distribution_file_read_and_edited_as_the_agent_reads_it(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")  # as the agent reads it: no newline translation
    for name, (before, after) in _variants(text).items():
        after = before if after is None else after
        values = agent_values(before)
        wrong = {}
        if values.get("Extensions.Enabled") in ("n", "N"):
            wrong["Extensions.Enabled"] = "y"
        if values.get("Provisioning.Agent") not in (None, "auto"):
            wrong["Provisioning.Agent"] = "auto"
        fixed = apply_edits(before, edits_for(before, wrong)) if wrong else before
        assert fixed == after, name
        reread = agent_values(fixed)
        assert reread.get("Extensions.Enabled") in (None, "y") and reread.get("Provisioning.Agent") in (None, "auto")


def test_distribution_files_that_ship_a_value_to_change() -> None:
    """Which of WALinuxAgent's own files the agent reads with extensions off or another provisioning agent."""
    values = {p.stem: agent_values(p.read_bytes().decode("utf-8")) for p in DISTROS}
    assert len(values) == 20
    assert {k for k, v in values.items() if v.get("Extensions.Enabled") not in (None, "y")} == {
        "cacheguard",
        "chainguard",
    }
    assert {k for k, v in values.items() if v.get("Provisioning.Agent") not in (None, "auto")} == {"cacheguard"}
    assert values["cacheguard"]["Provisioning.Agent"] == "waagent"
    assert "Provisioning.Agent" not in values["ubuntu"] and "Provisioning.Agent" not in values["nsbsd"]


def test_append_keeps_the_file_line_ending() -> None:
    assert apply_edits("A=1\r\nB=2", edits_for("A=1\r\nB=2", {"Extensions.Enabled": "y"})) == (
        "A=1\r\nB=2\r\nExtensions.Enabled=y\r\n"
    )
    assert apply_edits("A=1\n", edits_for("A=1\n", {"Provisioning.Agent": "auto"})) == "A=1\nProvisioning.Agent=auto\n"


@pytest.mark.parametrize("path", DISTROS, ids=[p.stem for p in DISTROS])
def test_every_distribution_file_over_ssh(tmp_path, path: Path) -> None:
    """Each variant of the distribution's file on the lab host, changed by set_conf.sh over SSH, byte for byte."""
    variants = _variants(path.read_bytes().decode("utf-8"))
    with linux_lab(tmp_path) as h:
        conf = h.root / "etc/waagent.conf"
        for name in ("as-is", "commented", "absent", "duplicated-crlf"):
            before, after = variants[name]
            after = before if after is None else after
            conf.write_bytes(before.encode("utf-8"))
            result, step = h.run("linux-agent", assume_yes=True)
            assert result.status in ("ok", "changed"), (name, step.reason)
            assert conf.read_bytes() == after.encode("utf-8"), name
            assert (result.status == "ok") == (before == after), name


def test_show_names_the_page_key_and_the_agent_key(capsys) -> None:
    import re

    from remediate.cli import main

    assert main(["show", "linux-agent"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # show wraps its text to the terminal
    assert re.search(r"page names the first key \W*Extensions\.Enable\b(?!d)", out)
    assert re.search(r"the agent reads \W*Extensions\.Enabled\b", out)


def test_file_the_agent_cannot_read_is_reported_not_rewritten(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        conf = h.root / "etc/waagent.conf"
        data = REAL_CONF.replace(b"Extensions.Enabled=y", b"Extensions.Enabled=n") + b"# caf\xe9\n"  # Latin-1
        conf.write_bytes(data)
        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "failed" and any("not plain UTF-8" in n for n in step.notes)
        assert conf.read_bytes() == data and h.mutations() == []


def test_empty_file_gets_the_keys(tmp_path) -> None:
    """The agent refuses an empty configuration ("Can't not parse empty configuration")."""
    with linux_lab(tmp_path) as h:
        conf = h.root / "etc/waagent.conf"
        conf.write_bytes(b"")
        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "changed", step.reason
        assert conf.read_bytes() == b"Extensions.Enabled=y\nProvisioning.Agent=auto\n"


def test_file_changed_since_it_was_read_is_left_alone(tmp_path) -> None:
    from remediate.remediations.linux_agent.conf import edits_for, render_edits

    from remediate.operation import mutate

    with linux_lab(tmp_path) as h:
        conf = h.root / "etc/waagent.conf"
        text = REAL_CONF.replace(b"Extensions.Enabled=y", b"Extensions.Enabled=n")
        conf.write_bytes(text)
        stale = hashlib.sha256(REAL_CONF).hexdigest()  # the digest of what was there before
        edits = render_edits(edits_for(text.decode(), {"Extensions.Enabled": "y"}))
        with h.connection() as conn:
            op = mutate("linux_agent/set_conf.sh", conf=str(conf), backup=f"{conf}.bak", sha256=stale, edits=edits)
            result = conn.run(op, check=False)
        assert result.failed and "changed since it was read" in result.stderr
        assert conf.read_bytes() == text and not (conf.parent / "waagent.conf.bak").exists()


def test_stopped_agent_with_an_empty_file_starts_once_the_keys_are_written(tmp_path):
    """The agent will not start on an empty waagent.conf (the lab refuses as conf.py does): the keys come first."""
    with linux_lab(tmp_path, "agent-stopped") as h:
        conf = h.root / "etc/waagent.conf"
        conf.write_bytes(b"")
        _, step = h.run("linux-agent", dry_run=True)
        assert [c["operation"]["script"] for c in step.planned] == ["linux_agent/set_conf.sh", "linux_agent/restart.sh"]
        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "changed" and step.verified, step.reason
        assert h.machine()["services"]["walinuxagent"]["active"] == "active"


def test_lab_agent_refuses_a_file_it_cannot_decode(tmp_path):
    with linux_lab(tmp_path, "agent-stopped") as h:
        (h.root / "etc/waagent.conf").write_bytes(b"Extensions.Enabled=y\n# caf\xe9\n")
        result, step = h.run("linux-agent", assume_yes=True)
        assert result.status == "failed" and "Job for walinuxagent.service failed" in step.reason
        assert any("not plain UTF-8" in n for n in step.notes)
