"""selinux-waagent on the lab: enforcing host found, dry-run, fix, verify, second run, undo."""

from __future__ import annotations

from linux_lab import linux_lab
from remediate.remediations.selinux_waagent import LABEL_TYPE, PATTERN, rule_type


def test_rule_type() -> None:
    line = "/var/lib/waagent(/.*)?                             all files          system_u:object_r:bin_t:s0"
    assert rule_type(line) == "bin_t"


def test_no_selinux_is_compliant(tmp_path) -> None:
    with linux_lab(tmp_path) as h:
        result, step = h.run("selinux-waagent", assume_yes=True)
        assert result.status == "ok" and step.planned == []
        assert h.mutations() == []


def test_permissive_is_compliant(tmp_path) -> None:
    with linux_lab(tmp_path, "selinux") as h:
        with h.edit() as state:
            state["machine"]["selinux"]["mode"] = "Permissive"
        result, _ = h.run("selinux-waagent", assume_yes=True)
        assert result.status == "ok"


def test_enforcing_is_labelled_then_undone(tmp_path) -> None:
    with linux_lab(tmp_path, "selinux") as h:
        before = h.snapshot()
        _, step = h.run("selinux-waagent", dry_run=True)
        (change,) = step.planned
        assert change["operation"]["script"] == "selinux_waagent/exclude.sh"
        assert change["undo"]["script"] == "selinux_waagent/remove_exclusion.sh"
        assert h.mutations() == [] and h.snapshot() == before

        result, step = h.run("selinux-waagent", assume_yes=True)
        assert result.status == "changed" and step.verified, step.reason
        sel = h.machine()["selinux"]
        assert sel["fcontext"] == [{"pattern": PATTERN, "type": LABEL_TYPE}]
        assert sel["labels"]["/var/lib/waagent"] == LABEL_TYPE
        assert sel["mode"] == "Enforcing"

        result, step = h.run("selinux-waagent", assume_yes=True)
        assert result.status == "ok" and step.planned == []

        journal = sorted((h.tmp / "journal").glob("*.jsonl"))
        fix = next(j.stem for j in journal if "exclude.sh" in j.read_text())
        report = h.undo(fix)
        assert report.hosts[0].status != "failed", report.hosts[0].reason
        sel = h.machine()["selinux"]
        assert sel["fcontext"] == [] and sel["labels"]["/var/lib/waagent"] == "var_lib_t"


def test_rule_present_but_files_not_relabelled(tmp_path) -> None:
    with linux_lab(tmp_path, "selinux") as h:
        with h.edit() as state:
            state["machine"]["selinux"]["fcontext"] = [{"pattern": PATTERN, "type": LABEL_TYPE}]
        _, step = h.run("selinux-waagent", dry_run=True)
        assert step.planned and "Would relabel /var/lib/waagent" in str(step.planned[0]["before"])
        result, step = h.run("selinux-waagent", assume_yes=True)
        assert result.status == "changed" and step.verified, step.reason
