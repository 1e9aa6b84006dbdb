"""strong-crypto, vss-copy-backup and snapshot-method against lab Windows hosts, through the playbook."""

from __future__ import annotations

import copy

import pytest
from lab_run import lab_run
from remediate.remediations.strong_crypto import FrameworkKeys, StrongCrypto
from remediate.remediations.vss_copy_backup import KEY as BCDR_KEY

from remediate import remediations

NET = "HKLM\\SOFTWARE\\Microsoft\\.NETFramework"
NET32 = "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\.NETFramework"
PERSISTENT = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
DWORD_1 = {"type": "REG_DWORD", "data": 1}

# slug, ready-made machine, pending changes, {key: {value: wanted}} after the fix
CASES = [
    (
        "strong-crypto",
        "windows-strong-crypto",
        3,
        {
            f"{NET}\\v4.0.30319": {"SchUseStrongCrypto": DWORD_1, "SystemDefaultTlsVersions": DWORD_1},
            f"{NET32}\\v4.0.30319": {"SchUseStrongCrypto": DWORD_1, "SystemDefaultTlsVersions": DWORD_1},
            f"{NET}\\v2.0.50727": {"SchUseStrongCrypto": DWORD_1},
            f"{NET32}\\v2.0.50727": {"SchUseStrongCrypto": DWORD_1},
        },
    ),
    (
        "vss-copy-backup",
        "windows-vss-copy-backup",
        1,
        {BCDR_KEY: {"USEVSSCOPYBACKUP": {"type": "REG_SZ", "data": "TRUE"}}},
    ),
    (
        "snapshot-method",
        "windows-snapshot-method",
        2,
        {
            PERSISTENT: {
                "SnapshotMethod": {"type": "REG_SZ", "data": "firstHostThenGuest"},
                "CalculateSnapshotTimeFromHost": {"type": "REG_SZ", "data": "True"},
            }
        },
    ),
]


def _values(machine: dict, key: str) -> dict:
    return machine["registry"][key]


@pytest.mark.parametrize(("slug", "machine", "pending", "wanted"), CASES, ids=[c[0] for c in CASES])
def test_found_planned_fixed_verified_clean_and_undone(tmp_path, slug, machine, pending, wanted) -> None:
    with lab_run(tmp_path, machine) as lr:
        original = copy.deepcopy(lr.machine()["registry"])

        dry, _ = lr.run(slug, dry_run=True)
        assert dry.status == "pending" and dry.pending == pending, dry.reason
        (step,) = dry.steps
        assert sum(not f["compliant"] for f in step.findings) == pending
        for change in step.planned:
            assert change["operation"]["script"] == "common/registry_set.ps1"
            assert change["before"] is not None and change["undo"], change
        assert lr.mutations() == []
        assert lr.machine()["registry"] == original

        done, report = lr.run(slug)  # safe: no --yes needed
        assert done.status == "changed" and done.changes == pending, done.reason
        assert done.steps[0].verified is True
        registry = lr.machine()["registry"]
        for key, values in wanted.items():
            for name, value in values.items():
                assert _values({"registry": registry}, key)[name] == value, (key, name)

        again, _ = lr.run(slug)
        assert again.status == "ok" and again.changes == 0, again.reason

        undone = lr.undo(report.run_id)
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        assert lr.machine()["registry"] == original


def test_healthy_host_plans_nothing(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        for slug in ("strong-crypto", "vss-copy-backup", "snapshot-method"):
            result, _ = lr.run(slug, dry_run=True)
            assert result.status == "ok" and result.pending == 0, (slug, result.reason)
        assert lr.mutations() == []


def test_missing_key_is_created_and_undo_removes_the_value(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        with lr.edit() as st:
            del st["machine"]["registry"][BCDR_KEY]
        done, report = lr.run("vss-copy-backup")
        assert done.status == "changed", done.reason
        (change,) = done.steps[0].applied
        assert change["before"] == {"exists": False, "type": None, "data": None}
        assert change["undo"]["script"] == "common/registry_remove.ps1"
        assert lr.machine()["registry"][BCDR_KEY]["USEVSSCOPYBACKUP"] == {"type": "REG_SZ", "data": "TRUE"}
        lr.undo(report.run_id)
        assert "USEVSSCOPYBACKUP" not in lr.machine()["registry"][BCDR_KEY]


def test_strong_crypto_covers_every_version_key_on_a_japanese_host(tmp_path) -> None:
    """Version keys are found by structure (v* subkeys), whatever the language; odd names travel as data."""
    odd = "v9.9'; Remove-Item C:/ -Recurse #$(Restart-Computer)`n"  # no backslash: it separates keys
    with lab_run(tmp_path, language="ja-JP") as lr:
        with lr.edit() as st:
            reg = st["machine"]["registry"]
            reg[f"{NET}\\v1.1.4322\\1033"] = {}  # a version known only through a deeper key
            reg[f"{NET}\\{odd}"] = {}
            reg[f"{NET}\\Policy"] = {"x": {"type": "REG_SZ", "data": "not a version"}}
        dry, _ = lr.run("strong-crypto", dry_run=True)
        paths = sorted(c["operation"]["args"]["path"] for c in dry.steps[0].planned)
        assert paths == sorted([f"{NET}\\{odd}", f"{NET}\\v1.1.4322"])
        done, _ = lr.run("strong-crypto")
        assert done.status == "changed", done.reason
        reg = lr.machine()["registry"]
        assert reg[f"{NET}\\{odd}"] == {"SchUseStrongCrypto": DWORD_1}
        assert reg[f"{NET}\\v1.1.4322"] == {"SchUseStrongCrypto": DWORD_1}
        assert reg[f"{NET}\\Policy"] == {"x": {"type": "REG_SZ", "data": "not a version"}}
        assert lr.run("strong-crypto")[0].status == "ok"


def test_strong_crypto_reads_powershell_single_item_shapes() -> None:
    """ConvertTo-Json sends a one-item list as the item itself; a missing root is a note, not a change."""
    data = {
        "roots": {
            "path": NET,
            "exists": True,
            "versions": {
                "name": "v4.0.30319",
                "path": f"{NET}\\v4.0.30319",
                "values": {
                    "SchUseStrongCrypto": {"exists": True, "type": "REG_DWORD", "data": 1},
                    "SystemDefaultTlsVersions": {"exists": False, "type": None, "data": None},
                },
            },
        }
    }
    state = FrameworkKeys.from_data(data)
    plan = StrongCrypto().plan(state)
    assert [c.operation.args["name"] for c in plan.changes] == ["SystemDefaultTlsVersions"]
    assert plan.changes[0].undo.script == "common/registry_remove.ps1"
    empty = StrongCrypto().plan(FrameworkKeys.from_data({"roots": [{"path": NET32, "exists": False, "versions": []}]}))
    assert empty.empty and any("WOW6432Node" in n for n in empty.notes)


@pytest.mark.parametrize("slug", ["strong-crypto", "vss-copy-backup", "snapshot-method"])
def test_docstring_names_rows_changes_and_example(slug: str) -> None:
    cls = remediations.get(slug)
    doc = cls.__doc__ or ""
    module_doc = __import__(cls.__module__, fromlist=["x"]).__doc__ or ""
    assert cls.risk.value == "safe"
    for row in cls.answers:
        assert row in module_doc, row
    assert f"remediate --host vm1 {slug} --dry-run" in module_doc and cls.example in module_doc
    assert "Change:" in module_doc and doc
