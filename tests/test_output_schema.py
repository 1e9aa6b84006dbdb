"""Every --output json validates against the versioned schema shipped in the package."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from test_runner import WRONG_TYPE

from remediate import cli, schema


def _validate(kind: str, data: object) -> None:
    jsonschema.Draft202012Validator(schema.for_kind(kind)).validate(data)
    jsonschema.Draft202012Validator(schema.load()).validate(data)  # the document accepts every kind


def _json(capsys, argv: list[str], codes: tuple[int, ...] = (0,)) -> object:
    assert cli.main(argv) in codes
    return json.loads(capsys.readouterr().out)


def test_the_schema_is_a_valid_versioned_schema_in_the_package() -> None:
    document = schema.load()
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["version"] == schema.VERSION and f"v{schema.VERSION}" in document["$id"]
    assert schema.PATH.parent == Path(cli.__file__).parent / "schema"


def test_run_dry_run_undo_and_ping_reports_validate(lab, tmp_path: Path, capsys) -> None:
    lab.add_windows("healthy")
    lab.add_windows("broken", machine=WRONG_TYPE)
    lab.add_windows("down", faults={"refuse_connections": True})
    lab.add_windows("com", machine="windows-msdtc-broken")
    lab.add_linux("penguin")
    lab.start()
    inv = str(lab.write_inventory(tmp_path / "lab.yml"))
    common = ["-i", inv, "--output", "json", "--retries", "1", "--no-progress"]

    dry = _json(capsys, [*common, "vss-copy-backup", "linux-agent", "--dry-run"], (cli.EXIT_UNREACHABLE,))
    _validate("report", dry)
    assert {h["status"] for h in dry["hosts"]} >= {"ok", "pending", "unreachable"}

    held = _json(capsys, [*common, "--limit", "com", "--for", "ExtensionSnapshotFailedCOM"], (cli.EXIT_FAILED,))
    _validate("report", held)
    assert {s["status"] for s in held["hosts"][0]["steps"]} == {"failed", "skipped"}

    run = _json(capsys, [*common, "--limit", "healthy,broken,penguin", "vss-copy-backup"])
    _validate("report", run)
    assert {h["status"] for h in run["hosts"]} == {"ok", "changed", "skipped"}

    for extra in (["--dry-run"], []):
        undo = _json(capsys, ["undo", run["run_id"], "--output", "json", "--no-progress", *extra])
        _validate("report", undo)
        assert undo["hosts"][0]["status"] == ("pending" if extra else "changed")

    ping = _json(capsys, ["ping", *common], (cli.EXIT_UNREACHABLE,))
    _validate("report", ping)
    assert any(h["reason"].startswith("reachable") for h in ping["hosts"])


def test_list_show_diagnose_and_inventory_validate(capsys) -> None:
    rows = _json(capsys, ["list", "--output", "json"])
    _validate("remediations", rows)
    for row in rows:
        _validate("remediation", _json(capsys, ["show", row["slug"], "--output", "json"]))
    _validate("diagnosis", _json(capsys, ["diagnose", "ExtensionSnapshotFailedCOM", "--output", "json"]))
    _validate("diagnosis", _json(capsys, ["diagnose", "VSS ライターの状態が正しくない", "--output", "json"]))
    _validate("codes", _json(capsys, ["diagnose", "--codes", "--output", "json"]))
    example = str(Path(__file__).resolve().parent.parent / "inventory" / "examples" / "ansible.ini")
    _validate("inventory", _json(capsys, ["inventory", "-i", example, "--list"]))
    data = _json(capsys, ["inventory", "-i", example, "--output", "json", "--limit", "all"])
    _validate("inventory", data)


def test_the_schema_refuses_what_it_should(capsys) -> None:
    """A test that cannot fail is no test: a report with an unknown status or no hosts does not validate."""
    bad = {"run_id": "r", "dry_run": True, "remediations": [], "started": 0, "finished": 0, "duration": 0,
           "summary": {"ok": 0, "changed": 0, "pending": 0, "failed": 0, "unreachable": 0, "skipped": 0},
           "pending_changes": 0, "journal": None,
           "hosts": [{"host": "vm1", "status": "fine", "reason": "", "changes": 0, "pending": 0, "duration": 0,
                      "steps": [], "operations": []}]}  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        _validate("report", bad)
    del bad["hosts"]
    with pytest.raises(jsonschema.ValidationError):
        _validate("report", bad)
