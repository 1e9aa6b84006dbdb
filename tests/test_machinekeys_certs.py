"""machinekeys-acl and extension-certs against lab Windows hosts, through the playbook."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_run import lab_run
from remediate.remediations.extension_certs import Certificate, ExtensionCertificates, ExtensionCertificatesRemediation
from remediate.remediations.machinekeys_acl import DEFAULT_SDDL, MachineKeysAcl, MachineKeysAclRemediation
from remediate.remediations.machinekeys_acl.sddl import SddlError, parse

CAPTURES = Path(__file__).parent / "captures" / "sddl"
BROKEN = "O:BAG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)"


# -- SDDL, by meaning ------------------------------------------------------------------------------------------
def _captures() -> list[tuple[str, str]]:
    out = []
    for line in (CAPTURES / "machinekeys.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            verdict, sddl = line.split(None, 1)
            out.append((verdict, sddl.strip()))
    return out


@pytest.mark.parametrize(("verdict", "sddl"), _captures())
def test_captured_descriptors(verdict: str, sddl: str) -> None:
    state = MachineKeysAcl("C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys", True, sddl)
    assert (state.differences() == []) is (verdict == "default"), state.differences()


def test_reordered_and_spelled_out_descriptor_is_the_default() -> None:
    spelled = "O:S-1-5-18G:S-1-5-18D:PAI(A;;0x1f01ff;;;S-1-5-32-544)(A;;1180063;;;S-1-1-0)"
    assert parse(spelled).same_as(parse(DEFAULT_SDDL))
    assert parse("O:SYG:SYD:PAI(A;;FA;;;BA)(A;;0x12019f;;;WD)") == parse(DEFAULT_SDDL)


@pytest.mark.parametrize(
    ("sddl", "words"),
    [
        ("O:BAG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)", "owner is S-1-5-32-544"),
        ("O:SYG:SYD:AI(A;;0x12019f;;;WD)(A;;FA;;;BA)", "not protected"),
        ("O:SYG:SYD:PAI(A;;FA;;;WD)(A;;FA;;;BA)", "extra ACE (A;;0x1f01ff;;;S-1-1-0)"),
        ("O:SYG:SYD:PAI(A;OICI;0x12019f;;;WD)(A;;FA;;;BA)", "extra ACE (A;CIOI;0x12019f;;;S-1-1-0)"),
        ("O:SYG:SYD:PAI(A;;FA;;;BA)", "missing ACE (A;;0x12019f;;;S-1-1-0)"),
        ("O:SYG:SYD:PAI(D;;FA;;;WD)(A;;0x12019f;;;WD)(A;;FA;;;BA)", "extra ACE (D;;0x1f01ff;;;S-1-1-0)"),
    ],
)
def test_differences_are_named(sddl: str, words: str) -> None:
    assert any(words in d for d in parse(sddl).differences(parse(DEFAULT_SDDL))), parse(sddl).differences(
        parse(DEFAULT_SDDL)
    )


@pytest.mark.parametrize("text", ["", "Everyone:(R,W)", "O:SYG:SYD:PAI(A;;0x12019f;;;WD", "D:(A;;ZZ;;;WD)"])
def test_not_sddl_is_refused(text: str) -> None:
    with pytest.raises(SddlError):
        parse(text)


def test_unreadable_descriptor_plans_a_reset_without_undo() -> None:
    plan = MachineKeysAclRemediation().plan(MachineKeysAcl("C:\\x", True, "garbage"))
    (change,) = plan.changes
    assert change.undo is None and "icacls" in (change.undo_note or "")


# -- machinekeys-acl on lab hosts ------------------------------------------------------------------------------
def test_machinekeys_acl_found_planned_fixed_verified_and_second_run_is_clean(tmp_path) -> None:
    with lab_run(tmp_path, "windows-machinekeys-acl") as lr:
        dry, _ = lr.run("machinekeys-acl", dry_run=True)
        assert dry.status == "pending" and dry.pending == 1, dry.reason
        (step,) = dry.steps
        assert not step.findings[0]["compliant"] and "not protected" in step.findings[0]["detail"]
        assert step.planned[0]["before"] == BROKEN and step.planned[0]["after"] == DEFAULT_SDDL
        assert lr.mutations() == []
        assert lr.machine()["machinekeys"]["sddl"] == BROKEN

        done, report = lr.run("machinekeys-acl", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified is True, done.reason
        mk = lr.machine()["machinekeys"]
        assert mk["sddl"] == DEFAULT_SDDL
        assert [s["sddl"] for s in mk["saved"]] == [BROKEN]  # the copy on the host, made before the change
        assert mk["saved"][0]["path"].startswith("C:\\ProgramData\\remediate\\backup\\MachineKeys-")
        assert [m["op"] for m in lr.mutations()] == ["machinekeys_acl/set.ps1"]

        again, _ = lr.run("machinekeys-acl", assume_yes=True)
        assert again.status == "ok" and again.changes == 0
        assert len(lr.mutations()) == 1

        undone = lr.undo(report.run_id)
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        assert lr.machine()["machinekeys"]["sddl"] == BROKEN


def test_machinekeys_acl_on_a_japanese_host(tmp_path) -> None:
    with lab_run(tmp_path, "windows-machinekeys-acl-ja") as lr:
        assert lr.machine()["language"] == "ja-JP"
        done, _ = lr.run("machinekeys-acl", assume_yes=True)
        assert done.status == "changed", done.reason
        assert "extra ACE (D;;0x1f01ff;;;S-1-1-0)" in done.steps[0].planned[0]["summary"]
        assert lr.machine()["machinekeys"]["sddl"] == DEFAULT_SDDL


def test_japanese_host_with_the_default_written_differently_is_compliant(tmp_path) -> None:
    spelled = "O:S-1-5-18G:S-1-5-18D:PAI(A;;FA;;;S-1-5-32-544)(A;;0x12019f;;;S-1-1-0)"
    with lab_run(tmp_path, {"machinekeys": {"sddl": spelled}}, language="ja-JP") as lr:
        result, _ = lr.run("machinekeys-acl", assume_yes=True)
        assert result.status == "ok" and result.changes == 0
        assert lr.mutations() == []


def test_machinekeys_acl_that_cannot_be_set_fails_with_the_remote_reason(tmp_path) -> None:
    machine = {"machinekeys": {"sddl": BROKEN, "set_error": "Access is denied."}}
    with lab_run(tmp_path, machine) as lr:
        result, _ = lr.run("machinekeys-acl", assume_yes=True)
        assert result.status == "failed"
        assert "Access is denied." in result.reason and "machinekeys_acl/set.ps1" in result.reason
        assert lr.machine()["machinekeys"]["sddl"] == BROKEN


def test_machinekeys_acl_is_set_where_administrators_lost_write_dac(tmp_path) -> None:
    """Owned by another account, Administrators may only read: SetAccessControl (no privilege) is refused;
    icacls /setowner and /restore use SeRestorePrivilege and set it."""
    user = "S-1-5-21-1004336348-1177238915-682003330-1001"
    locked = f"O:{user}G:SYD:PAI(A;;FR;;;BA)(A;;FA;;;{user})"
    with lab_run(tmp_path, {"machinekeys": {"sddl": locked}}) as lr:
        done, report = lr.run("machinekeys-acl", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        assert lr.machine()["machinekeys"]["sddl"] == DEFAULT_SDDL
        undone = lr.undo(report.run_id)
        assert undone.hosts[0].status == "changed", undone.hosts[0].reason
        assert lr.machine()["machinekeys"]["sddl"] == locked


def test_machinekeys_acl_needs_yes(tmp_path) -> None:
    with lab_run(tmp_path, "windows-machinekeys-acl") as lr:
        result, _ = lr.run("machinekeys-acl")
        assert result.status == "skipped" and "--yes" in result.reason
        assert lr.mutations() == []


def test_hostile_descriptor_is_data(tmp_path) -> None:
    """A value meant to break out of the script is only ever an argument: the host refuses it as SDDL."""
    from windows_lab import windows_host

    from remediate.errors import RemoteScriptError
    from remediate.operation import mutate

    with windows_host(tmp_path, "win01") as h:
        for hostile in ["x'; Remove-Item C:\\ -Recurse #", "$(Restart-Computer)", "O:SY`nD:(A;;FA;;;WD)"]:
            with pytest.raises(RemoteScriptError) as info:
                h.conn.run(mutate("machinekeys_acl/set.ps1", sddl=hostile))
            assert "not valid SDDL" in str(info.value)
        sent = [e["args"]["sddl"] for e in h.lab.oplog.entries("win01") if e["op"] == "machinekeys_acl/set.ps1"]
        assert sent == ["x'; Remove-Item C:\\ -Recurse #", "$(Restart-Computer)", "O:SY`nD:(A;;FA;;;WD)"]
        assert h.machine()["machinekeys"]["sddl"] == DEFAULT_SDDL


# -- extension-certs ---------------------------------------------------------------------------------------------
def test_extension_certificates_are_matched_on_the_name_value() -> None:
    def cert(subject: str, issuer: str | None = None) -> Certificate:
        return Certificate("AA" * 20, subject, issuer or subject, "", "", "", "")

    assert cert("DC=Windows Azure CRP Certificate Generator").is_extension_certificate
    assert cert("CN=Windows Azure Service Management for Extensions").is_extension_certificate
    assert not cert("CN=Windows Azure CRP Certificate Generator Backup").is_extension_certificate
    assert not cert("CN=www.contoso.com", "CN=Contoso CA").is_extension_certificate


CRP_THUMB = "3F2A9C1B7E5D4A6B8C0D1E2F3A4B5C6D7E8F9A0B"
CLASSIC_THUMB = "A1B2C3D4E5F60718293A4B5C6D7E8F9001122334"
WEB_THUMB = "0F0E0D0C0B0A09080706050403020100FFEEDDCC"


def test_extension_certs_deleted_and_the_agent_makes_a_fresh_one(tmp_path) -> None:
    with lab_run(tmp_path, "windows-extension-certs") as lr:
        before = {c["thumbprint"]: c for c in lr.machine()["certificates"]}
        dry, _ = lr.run("extension-certs", dry_run=True)
        assert dry.status == "pending" and dry.pending == 2, dry.reason
        planned = dry.steps[0].planned
        assert {p["before"]["thumbprint"] for p in planned} == {CRP_THUMB, CLASSIC_THUMB}
        assert all(p["undo"] is None and "private key" in p["undo_note"] for p in planned)
        assert any("0x80090016" in f["detail"] for f in dry.steps[0].findings)
        assert lr.mutations() == []

        done, report = lr.run("extension-certs", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        left = lr.machine()["certificates"]
        assert {c["thumbprint"] for c in left} == {WEB_THUMB}  # not touched; the agent's goal state is later
        # the unreadable key file could not be deleted: the certificate went alone, its key is reported
        results = {tuple(a["operation"]["args"]["thumbprints"]): a["result"] for a in done.steps[0].applied}
        assert results[(CRP_THUMB,)]["orphaned_keys"][0]["thumbprint"] == CRP_THUMB
        assert results[(CLASSIC_THUMB,)]["orphaned_keys"] == []
        # the journal keeps the public part of what was deleted
        assert before[CRP_THUMB]["der_b64"] in lr.journal_text()

        again, _ = lr.run("extension-certs", assume_yes=True)
        assert again.status == "ok" and again.changes == 0

        undone = lr.undo(report.run_id)
        assert undone.hosts[0].status == "ok"
        assert "private key" in undone.hosts[0].reason


def test_a_run_days_later_leaves_the_agents_new_certificate_alone(tmp_path) -> None:
    """The agent re-creates its certificate on its next goal state; a later run finds it working: nothing to do.
    (A run that deleted every certificate older than its own start deleted the agent's working one each time.)"""
    with lab_run(tmp_path, "windows-extension-certs") as lr:
        done, _ = lr.run("extension-certs", assume_yes=True)
        assert done.status == "changed", done.reason
        with lr.edit() as st:  # days later: the goal state came long ago
            st["machine"]["agent"]["certificate_due"] -= 3 * 86400
        mutations = len(lr.mutations())
        later, _ = lr.run("extension-certs", assume_yes=True)
        assert later.status == "ok" and later.changes == 0, later.reason
        assert len(lr.mutations()) == mutations
        (crp,) = [f for f in later.steps[0].findings if "CRP" in f["state"]]  # the agent's new certificate
        assert crp["compliant"] and CRP_THUMB not in crp["subject"] and "private key ok" in crp["detail"]


def test_operator_named_certificate_is_deleted_even_with_a_working_key(tmp_path) -> None:
    with lab_run(tmp_path, "windows-extension-certs") as lr:
        with lr.edit() as st:
            for cert in st["machine"]["certificates"]:
                cert.pop("key", None)
        dry, _ = lr.run("extension-certs", dry_run=True)
        assert dry.status == "ok" and dry.pending == 0
        named, _ = lr.run("extension-certs", dry_run=True, params={"thumbprints": CLASSIC_THUMB.lower()})
        assert [p["before"]["thumbprint"] for p in named.steps[0].planned] == [CLASSIC_THUMB]


def test_extension_cert_that_cannot_be_deleted_fails_with_the_remote_reason(tmp_path) -> None:
    cert = {
        "thumbprint": "3F2A9C1B7E5D4A6B8C0D1E2F3A4B5C6D7E8F9A0B",
        "subject": "DC=Windows Azure CRP Certificate Generator",
        "issuer": "DC=Windows Azure CRP Certificate Generator",
        "friendly_name": "TenantEncryptionCert",
        "not_before": "2024-03-01T08:15:00Z",
        "not_after": "2025-03-01T08:15:00Z",
        "der_b64": "AAAA",
        "key": "missing",
        "delete_error": "Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))",
    }
    with lab_run(tmp_path, {"certificates": [cert]}) as lr:
        result, _ = lr.run("extension-certs", assume_yes=True)
        assert result.status == "failed" and "0x80070005" in result.reason
        assert len(lr.machine()["certificates"]) == 1


def test_only_certificates_whose_key_cannot_be_opened_are_deleted() -> None:
    crp = "DC=Windows Azure CRP Certificate Generator"
    broken = Certificate("AA" * 20, crp, "", "", "", "", "", key_state="unusable", key_error="0x80090016")
    working = Certificate("BB" * 20, crp, "", "", "", "", "")
    state = ExtensionCertificates.split([broken, working])
    plan = ExtensionCertificatesRemediation().plan(state)
    assert [c.before["thumbprint"] for c in plan.changes] == ["AA" * 20]
    assert ExtensionCertificatesRemediation().plan(ExtensionCertificates.split([working])).empty
    named = ExtensionCertificates.split([working], ("BB" * 20,))
    assert [c.thumbprint for c in named.broken] == ["BB" * 20]


def test_healthy_host_has_nothing_to_do(tmp_path) -> None:
    with lab_run(tmp_path) as lr:
        result, _ = lr.run(["machinekeys-acl", "extension-certs"], assume_yes=True)
        assert result.status == "ok" and result.changes == 0
        assert lr.mutations() == []
