"""diagnose: every error row of the troubleshooting page, in Japanese and English, by message and by code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from remediate import diagnose as dg
from remediate.diagnose import diagnose, remediations_for, render_text, suggest, to_json

FIXTURES = Path(__file__).parent / "fixtures" / "diagnose"
SEED = FIXTURES / "seed_ja-JP_2018-01.md"
SHARED_SEED = Path("/work/shared/seeds/000_45325719b4c15c94.txt")
SHARED_CATALOG = Path("/work/shared/catalog.md")

# The catalog's list of remediation slugs.
CATALOG_SLUGS = {
    "vss-writers",
    "vss-service",
    "machinekeys-acl",
    "extension-certs",
    "comsysapp",
    "msdtc",
    "strong-crypto",
    "vss-copy-backup",
    "snapshot-method",
    "msiexec",
    "bitlocker",
    "vm-agent",
    "agent-network",
    "fs-freeze",
    "linux-agent",
    "selinux-waagent",
}

AGENT = ("vm-agent", "linux-agent", "agent-network")
COM = ("comsysapp", "msdtc")
AZ = ()  # Azure-side: nothing to run in the guest

# The page's rows in its order: (row id, remediations in order, an in-guest fix applies).
EXPECTED: list[tuple[str, tuple[str, ...], bool]] = [
    # Backup
    ("vm-no-longer-exists", AZ, False),
    ("no-network-connectivity", ("agent-network",), True),
    ("agent-cannot-communicate", AGENT, True),
    ("failed-provisioning-state", ("vm-agent", "linux-agent"), False),
    ("vmsnapshot-extension-failed", ("agent-network", "vm-agent", "linux-agent"), True),
    ("premium-storage-quota", AZ, False),
    ("agent-not-responsive", AGENT, True),
    ("recovery-services-extension-failed", ("vm-agent", "linux-agent"), True),
    ("vm-does-not-exist", AZ, False),
    ("operation-in-progress", AZ, False),
    ("vhd-copy-timeout", AZ, False),
    ("internal-error", AZ, False),
    ("extension-install-agent-missing", ("vm-agent", "linux-agent"), True),
    ("com-msdtc-extension-install", COM, True),
    ("bitlocker-locked", ("bitlocker",), True),
    ("vm-not-in-desirable-state", ("selinux-waagent",), True),
    ("azure-vm-not-found", AZ, False),
    ("vm-agent-not-present", ("vm-agent", "linux-agent"), True),
    ("vss-writers-bad-state", ("vss-writers",), True),
    ("config-parsing-failure", ("machinekeys-acl", "extension-certs"), True),
    ("keyvault-permissions", AZ, False),
    ("com-msdtc-snapshot-extension-install", COM, True),
    ("com-error", COM, True),
    ("fs-freeze-failed", ("fs-freeze",), True),
    ("secure-channel", ("strong-crypto",), True),
    ("vcredist-install", ("msiexec",), True),
    # Jobs
    ("job-cancel-not-supported", AZ, False),
    ("job-not-cancelable", AZ, False),
    ("job-not-in-progress", AZ, False),
    ("job-cancel-failed", AZ, False),
    # Restore
    ("restore-cloud-internal-error", AZ, False),
    ("restore-dns-name-taken", AZ, False),
    ("restore-vnet-config", AZ, False),
    ("restore-reserved-ip", AZ, False),
    ("restore-endpoint-limit", AZ, False),
    ("restore-region-mismatch", AZ, False),
    ("restore-storage-unsupported", AZ, False),
    ("restore-storage-offline", AZ, False),
    ("restore-rg-quota", AZ, False),
    ("restore-subnet-missing", AZ, False),
    ("restore-not-authorized", AZ, False),
]

# Every code the catalog names, and what it leads to.
CODES: dict[str, tuple[str, ...]] = {
    "ExtensionFailedVssWriterInBadState": ("vss-writers",),
    "ExtensionFailedVssServiceInBadState": ("vss-service",),
    "ExtensionConfigParsingFailure": ("machinekeys-acl", "extension-certs"),
    "ExtensionSnapshotFailedCOM": COM,
    "ExtensionInstallationFailedCOM": COM,
    "ExtensionInstallationFailedMDTC": COM,
    "ExtensionSnapshotFailedNoSecureNetwork": ("strong-crypto",),
    "ExtensionFailedTimeoutVMNetworkUnresponsive": ("snapshot-method",),
    "ExtensionVCRedistInstallationFailure": ("msiexec",),
    "ExtensionInstallationFailure": ("msiexec",),
    "ExtensionSnapshotBitlockerError": ("bitlocker",),
    "UserErrorGuestAgentStatusUnavailable": AGENT,
    "GuestAgentSnapshotTaskStatusError": AGENT,
    "ExtensionSnapshotFailedNoNetwork": ("agent-network",),
    "ExtensionOperationFailedForManagedDisks": ("agent-network", "vm-agent", "linux-agent"),
    "UserErrorFsFreezeFailed": ("fs-freeze",),
    "UserErrorVmNotInDesirableState": ("selinux-waagent",),
    "UserErrorVmProvisioningStateFailed": ("vm-agent", "linux-agent"),
    # Azure-side
    "ResourceNotFound": AZ,
    "320001": AZ,
    "BCMV2VMNotFound": AZ,
    "400094": AZ,
    "UserErrorBCMPremiumStorageQuotaError": AZ,
    "UserErrorBackupOperationInProgress": AZ,
    "CopyingVHDsFromBackUpVaultTakingLongTime": AZ,
    "BackUpOperationFailed": AZ,
    "BackUpOperationFailedV2": AZ,
    "UserErrorKeyvaultPermissionsNotConfigured": AZ,
    "ExtensionFailedSnapshotLimitReachedError": AZ,
    "UserErrorRpCollectionLimitReached": AZ,
    "ExtensionStuckInDeletionState": AZ,
    "UserErrorRequestDisallowedByPolicy": AZ,
}

# Messages of the later English revisions ("Error message:" lines) with their rows.
LATER_EN = [
    ("Snapshot operation failed because VSS writers were in a bad state.", "vss-writers-bad-state"),
    ("Snapshot operation failed due to VSS (Volume Shadow Copy) service in bad state.", "vss-service-bad-state"),
    ("Failure in parsing the config for the backup extension.", "config-parsing-failure"),
    ("Extension installation/operation failed due to a COM+ error", "com-msdtc-snapshot-extension-install"),
    ("Snapshot operation failed due to inadequate VM resources.", "snapshot-timeout-vm-resources"),
    ("VM Agent unable to communicate with Azure Backup", "agent-cannot-communicate"),
    ("Could not communicate with the VM agent for snapshot status", "snapshot-status-unavailable"),
    ("The Restore Point collection max limit has reached.", "rp-collection-limit"),
    ("Copying backed up data from vault timed out", "vhd-copy-timeout"),
    ("Extension state is not supportive to the backup operation", "extension-stuck-deleting"),
    (
        "Snapshot operation failed as snapshot limit is exceeded for some of the disks attached",
        "snapshot-limit-reached",
    ),
    (
        "An invalid policy is configured on the VM which is preventing Snapshot operation.",
        "request-disallowed-by-policy",
    ),
    ("Unable to initiate backup as another backup operation is currently in progress", "operation-in-progress"),
    (
        "Backup doesn't have sufficient permissions to the key vault for backup of encrypted VMs.",
        "keyvault-permissions",
    ),
    ("The VM is in failed provisioning state", "failed-provisioning-state"),
    ("VMSnapshot extension operation failed", "vmsnapshot-extension-failed"),
]


def error_cells(path: Path) -> list[str]:
    """The first cell of every data row of every "error details" table of a Markdown page, in order."""
    cells: list[str] = []
    in_table = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = re.split(r"(?<!\\)\|", line)[1].strip()
        if first in ("エラーの詳細", "Error details") or set(first) <= {"-", " "}:
            in_table = True
            continue
        if in_table:
            cells.append(first)
    return cells


SEED_CELLS = error_cells(SEED)
EN_ORIGINAL = error_cells(FIXTURES / "en_troubleshoot_2018_original.md")
EN_EDITED = error_cells(FIXTURES / "en_troubleshoot_2018_edited.md")


def row_by_id(row_id: str) -> dg.Row:
    return next(r for r in dg.rows() if r.id == row_id)


def check_resolves(text: str, row_id: str, remediations: tuple[str, ...], in_guest: bool) -> None:
    matches = diagnose(text)
    assert matches, f"no match for {text!r}"
    assert matches[0].row.id == row_id, [(m.row.id, m.kind, m.score) for m in matches]
    assert tuple(matches[0].row.remediations) == remediations
    assert matches[0].row.in_guest is in_guest
    answer = render_text(matches[:1])
    if in_guest:
        for slug in remediations:
            assert f"remediate --host VM {slug} --dry-run" in answer
    else:
        assert "Azure-side" in answer
        assert row_by_id(row_id).action in answer
        if not remediations:
            assert "no in-guest fix applies" in answer


# ------------------------------------------------------------------------------------------- the seed page


def test_seed_fixture_is_the_seed_and_has_every_table():
    if SHARED_SEED.exists():
        assert SEED.read_bytes() == SHARED_SEED.read_bytes()
    assert len(SEED_CELLS) == len(EXPECTED) == 41
    assert len(EN_ORIGINAL) == len(EN_EDITED) == 41


@pytest.mark.parametrize("index", range(41))
def test_every_seed_row_in_japanese_as_written(index):
    check_resolves(SEED_CELLS[index], *EXPECTED[index])


@pytest.mark.parametrize("index", range(41))
def test_every_seed_row_is_in_the_table_verbatim(index):
    row = row_by_id(EXPECTED[index][0])
    assert SEED_CELLS[index] in row.messages["ja"]


@pytest.mark.parametrize("index", range(41))
def test_japanese_headline_alone(index):
    """The portal's first sentence, without the recommendation after " - "."""
    cell = re.split(r"<br>または<br>", SEED_CELLS[index])[-1]
    headline = re.split(r"\s+-\s+", cell)[0]
    check_resolves(headline, *EXPECTED[index])


@pytest.mark.parametrize("index", range(41))
def test_english_rows_original_wording(index):
    check_resolves(EN_ORIGINAL[index], *EXPECTED[index])


@pytest.mark.parametrize("index", range(41))
def test_english_rows_edited_wording(index):
    check_resolves(EN_EDITED[index], *EXPECTED[index])


def test_sql_server_snapshot_delay_item_of_the_seed():
    text = SEED.read_text(encoding="utf-8")
    item = re.search(r"^2\. (SQL Server .+?)\s*<br>$", text, re.MULTILINE)
    assert item, "the seed's 'troubleshoot VM snapshot issues' list changed"
    check_resolves(item.group(1), "sql-snapshot-delay", ("vss-copy-backup",), True)


@pytest.mark.parametrize(("message", "row_id"), LATER_EN)
def test_english_messages_of_later_revisions(message, row_id):
    assert diagnose(message)[0].row.id == row_id


# ------------------------------------------------------------------------------------------------ codes


@pytest.mark.parametrize(("code", "remediations"), sorted(CODES.items()))
def test_every_catalog_code(code, remediations):
    matches = diagnose(code)
    assert [m.kind for m in matches] == ["code"]
    assert matches[0].matched == code
    assert tuple(matches[0].row.remediations) == remediations
    assert matches[0].row.in_guest is bool(remediations) or code.startswith("UserErrorVmProvisioningStateFailed")
    assert remediations_for(code) == list(remediations)


def test_catalog_codes_are_all_known():
    """Every code the shared catalog names is a row's code (read from the catalog when it is there)."""
    known = {c.casefold() for r in dg.rows() for c in r.codes}
    names = set(CODES)
    if SHARED_CATALOG.exists():
        text = SHARED_CATALOG.read_text(encoding="utf-8")
        pattern = r"\b(?:Extension|UserError|GuestAgent|BCMV2|BackUp|CopyingVHDs)[A-Z][A-Za-z0-9]*|\bResourceNotFound\b"
        names |= set(re.findall(pattern, text))
    missing = sorted(n for n in names if n.casefold() not in known)
    assert not missing


def test_code_beats_message_and_keeps_the_text_order():
    text = (
        "Error code: UserErrorFsFreezeFailed\n"
        "Error message: Snapshot operation failed due to COM+ error ExtensionSnapshotFailedCOM"
    )
    matches = diagnose(text)
    assert [(m.row.id, m.kind) for m in matches] == [("fs-freeze-failed", "code"), ("com-error", "code")]
    assert matches[0].score > matches[1].score


def test_code_and_message_of_one_row_give_one_match():
    text = (
        "エラー コード: ExtensionFailedVssWriterInBadState\n"
        "エラー メッセージ: VSS ライターの状態が正しくないため、スナップショット操作に失敗しました"
    )
    matches = diagnose(text)
    assert [(m.row.id, m.kind) for m in matches] == [("vss-writers-bad-state", "code")]


@pytest.mark.parametrize(
    "text",
    [
        "extensionconfigparsingfailure",
        "ERROR CODE: EXTENSIONCONFIGPARSINGFAILURE",
        "エラー コード：ＥｘｔｅｎｓｉｏｎＣｏｎｆｉｇＰａｒｓｉｎｇＦａｉｌｕｒｅ",
        "Backup failed (ExtensionConfigParsingFailure). See https://aka.ms/x",
        "https://learn.microsoft.com/azure/backup/backup-azure-vms-troubleshoot#extensionconfigparsingfailure---failure-in-parsing",
    ],
)
def test_code_in_noisy_text(text):
    assert remediations_for(text) == ["machinekeys-acl", "extension-certs"]


def test_code_inside_a_longer_word_is_not_a_code():
    assert diagnose("MyExtensionConfigParsingFailureCounter rose") == []
    assert diagnose("job 13200019 finished") == []


def test_numeric_and_named_code_of_one_row():
    matches = diagnose("Error code: 320001, ResourceNotFound Error message: Could not perform the operation")
    assert [(m.row.id, m.kind, m.matched) for m in matches] == [("vm-no-longer-exists", "code", "320001")]


# -------------------------------------------------------------------------------------------- noisy input


@pytest.mark.parametrize(
    ("text", "row_id"),
    [
        # the portal's "- 詳細については ... をご覧ください" tail, with another URL
        (
            "VSS ライターの状態が正しくないため、スナップショット操作に失敗しました"
            " - 詳細については https://aka.ms/abc をご覧ください",
            "vss-writers-bad-state",
        ),
        # a line break in the middle of a Japanese word and extra words around it
        (
            "バックアップ ジョブ失敗: 構成の解析に失敗したため、スナップ\nショット操作に失敗しました (VM: web01)",
            "config-parsing-failure",
        ),
        # full-width letters, punctuation and spaces
        ("ＣＯＭ＋　エラーが発生したため、スナップショット操作に失敗しました。", "com-error"),
        (
            "セキュリティで保護されたネットワーク通信チャネルを作成できないため､スナップショット操作が失敗しました",
            "secure-channel",
        ),
        # portal prefixes
        (
            "エラー メッセージ: ファイル システムの一貫性のあるスナップショットの取得で"
            " VM の 1 つまたは複数のマウント ポイントをフリーズできませんでした",
            "fs-freeze-failed",
        ),
        ("Error message: Snapshot operation failed due to VSS Writers in bad state", "vss-writers-bad-state"),
        # case, wrapping, Markdown bold, a different URL tail
        (
            "SNAPSHOT OPERATION FAILED DUE TO FAILURE IN\r\nINSTALLATION OF **Visual C++ Redistributable**"
            " for Visual Studio 2012 "
            "- more details at http://example.invalid/x",
            "vcredist-install",
        ),
        (
            "VM agent is unable to communicate with the Azure Backup Service. - see https://go.microsoft.com/fwlink/?LinkId=1",
            "agent-cannot-communicate",
        ),
        # a paraphrase (similarity, not containment)
        ("snapshot operation failed because the vss writers were in bad state", "vss-writers-bad-state"),
        ("Failed to install Visual C++ Redistributable for Visual Studio 2012", "vcredist-install"),
        # the inner error alone
        (
            "This drive is locked by BitLocker Drive Encryption. You must unlock this drive from the Control Panel.",
            "bitlocker-locked",
        ),
    ],
)
def test_noisy_messages(text, row_id):
    assert diagnose(text)[0].row.id == row_id


def test_inner_com_error_alone_names_both_com_rows():
    matches = diagnose("COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator")
    assert {m.row.id for m in matches} == {"com-msdtc-extension-install", "com-msdtc-snapshot-extension-install"}
    assert remediations_for("COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator") == list(COM)


def test_several_messages_in_one_text():
    text = (
        "VSS ライターの状態が正しくないため、スナップショット操作に失敗しました\n\n"
        "Snapshot operation failed due to COM+ error"
    )
    assert {m.row.id for m in diagnose(text)} == {"vss-writers-bad-state", "com-error"}
    assert remediations_for(text) == ["vss-writers", "comsysapp", "msdtc"]


# ------------------------------------------------------------------------------------------ unknown text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "The quick brown fox jumps over the lazy dog",
        "今日は良い天気です。バックアップは成功しました。",
        "Snapshot operation failed",
        "スナップショット操作に失敗しました",
        "The backup job completed successfully with warnings",
        "Windows Update failed to install KB5034441",
        "The operation failed. Please retry the operation in a few minutes."
        " If the problem persists, contact Microsoft Support.",
        "VM の再起動に失敗しました",
        "Error code: SomethingElseEntirely",
    ],
)
def test_unrelated_text_gives_no_match(text):
    assert diagnose(text) == []
    assert remediations_for(text) == []


def test_unknown_text_says_so_and_suggests_the_closest_rows():
    text = "Snapshot failed: VSS writers broken"
    assert diagnose(text) == []
    closest = suggest(text)
    assert len(closest) == 3
    assert closest[0].row.id == "vss-writers-bad-state"
    assert all(m.kind == "suggestion" for m in closest)
    answer = render_text([], text=text)
    assert answer.startswith("No known error row matches this text.")
    assert "vss-writers-bad-state" in answer


def test_mistyped_code_is_suggested():
    closest = suggest("Error code: ExtensionFailedVssWriterInBadStat", n=2)
    assert closest[0].row.id == "vss-writers-bad-state"
    assert closest[0].matched == "ExtensionFailedVssWriterInBadState"


def test_suggest_respects_n():
    assert len(suggest("backup failed", n=5)) == 5
    assert suggest("backup failed", n=0) == []


# ------------------------------------------------------------------------------------------------- output


def test_to_json_shape():
    data = to_json(diagnose("ExtensionInstallationFailedMDTC"))
    assert data == [
        {
            "id": "com-msdtc-extension-install",
            "code": "ExtensionInstallationFailedMDTC",
            "codes": ["ExtensionInstallationFailedMDTC"],
            "title": row_by_id("com-msdtc-extension-install").title,
            "cause": row_by_id("com-msdtc-extension-install").cause,
            "remediations": ["comsysapp", "msdtc"],
            "azure_remediations": [],
            "in_guest": True,
            "action": row_by_id("com-msdtc-extension-install").action,
            "matched": "ExtensionInstallationFailedMDTC",
            "match": "code",
            "score": 1.0,
        }
    ]
    by_message = to_json(diagnose("Azure 仮想マシンが見つかりません。"))
    assert by_message[0]["code"] is None and by_message[0]["in_guest"] is False and by_message[0]["remediations"] == []
    assert 0 < by_message[0]["score"] < 1
    assert to_json([]) == []


def test_render_text_for_an_in_guest_row_lists_commands_in_order():
    answer = render_text(diagnose("ExtensionSnapshotFailedCOM"), host="web01")
    first = answer.index("remediate --host web01 comsysapp --dry-run")
    second = answer.index("remediate --host web01 msdtc --dry-run")
    assert first < second
    assert row_by_id("com-error").cause in answer


def test_render_text_for_an_azure_side_row():
    answer = render_text(diagnose("UserErrorRpCollectionLimitReached"))
    assert "no in-guest fix applies" in answer
    assert "remove the lock on azurebackuprg_<geo>_<n>" in answer.lower()
    assert "remediate --host" not in answer


def test_render_text_provisioning_state_gives_azure_action_then_agent():
    answer = render_text(diagnose("UserErrorVmProvisioningStateFailed"))
    assert answer.index("Azure-side first") < answer.index("remediate --host VM vm-agent --dry-run")


def test_remediations_for_filters_by_os():
    assert remediations_for("UserErrorGuestAgentStatusUnavailable", os="windows") == ["vm-agent", "agent-network"]
    assert remediations_for("UserErrorGuestAgentStatusUnavailable", os="linux") == ["linux-agent", "agent-network"]
    assert remediations_for("UserErrorVmNotInDesirableState", os="Windows") == []
    assert remediations_for("UserErrorFsFreezeFailed", os="linux") == ["fs-freeze"]


# ---------------------------------------------------------------------------------------------- the table


def test_every_slug_in_the_table_is_a_catalog_slug():
    named = {slug for row in dg.rows() for slug in row.remediations}
    assert named <= CATALOG_SLUGS
    assert set(dg.SLUGS) == CATALOG_SLUGS
    if SHARED_CATALOG.exists():
        in_catalog = set(re.findall(r"^\| `([a-z0-9-]+)` \|", SHARED_CATALOG.read_text(encoding="utf-8"), re.MULTILINE))
        assert in_catalog == CATALOG_SLUGS


def test_every_in_guest_remediation_is_answered_by_some_row():
    named = {slug for row in dg.rows() for slug in row.remediations}
    assert named == CATALOG_SLUGS


def test_rows_are_complete():
    for row in dg.rows():
        assert row.cause.endswith(".") and row.cause.count(". ") == 0, row.id
        assert row.action and row.source and row.title
        assert row.messages["en"], row.id
        assert not row.in_guest or row.remediations, row.id


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda rows: rows[0].update(remediations=["reboot-everything"]), "unknown remediation"),
        (lambda rows: rows[1].update(codes=list(rows[0]["codes"])), "code"),
        (lambda rows: rows[1].update(id=rows[0]["id"]), "duplicate row id"),
        (lambda rows: rows[0].pop("cause"), "lacks"),
    ],
)
def test_table_validation(change, error):
    data = yaml.safe_load((Path(dg.__file__).parent / "catalog_rows.yml").read_text(encoding="utf-8"))
    change(data)
    with pytest.raises(ValueError, match=error):
        dg._load_rows(data)


# ---------------------------------------------------------------- every code of the current pages, and terms

KNOWN = dg.known_codes()
# Texts that resemble other rows' messages, to tempt the similarity step.
BAIT = [
    "Snapshot operation failed, VSS writers broken",
    "スナップショット操作に失敗しました",
    "The backup extension failed; the agent could not be reached over the network",
]


@pytest.mark.parametrize("entry", [k for k in KNOWN if k["kind"] == "code"], ids=lambda k: k["code"])
def test_every_known_code_resolves_to_its_row(entry):
    matches = diagnose(entry["code"])
    assert [(m.row.id, m.kind) for m in matches] == [(entry["row"], "code")]
    assert entry["source"]


@pytest.mark.parametrize("entry", [k for k in KNOWN if k["kind"] == "term"], ids=lambda k: k["code"])
def test_every_term_alone_names_its_row(entry):
    matches = diagnose(entry["code"])
    assert entry["row"] in {m.row.id for m in matches}
    assert {m.kind for m in matches} == {"term"}


@pytest.mark.parametrize("bait", BAIT)
@pytest.mark.parametrize("entry", KNOWN, ids=lambda k: k["code"])
def test_a_code_or_term_is_never_beaten_by_similarity(entry, bait):
    matches = diagnose(f"{bait}: {entry['code']} (see the job's error details)")
    assert entry["row"] in {m.row.id for m in matches}
    assert "similar" not in {m.kind for m in matches}


@pytest.mark.parametrize(
    ("text", "row_id"),
    [
        # The Linux snapshot extension's own status lines and log lines.
        (
            "T:S Enable failed with FailedRetryableSnapshotFailedRestrictedNetwork errror"
            + " StatusCode.FailedRetryableSnapshotFailedRestrictedNetwork,",
            "linux-snapshot-no-network",
        ),
        ("Failed to FIFREEZE: /data with error message: Device or resource busy", "fs-freeze-failed"),
        ("2017-11-02 11:22:56 Failed to FITHAW: /usr/sap", "fs-freeze-failed"),
        ("StatusCode.FailedRetryableFsFreezeTimeout, freeze timed out", "fs-freeze-failed"),
        # The VM agent's status, as the portal and Compute show it.
        ("Guest Agent Status: NotReady", "vm-agent-status-not-reported"),
        ("VM agent status: Not Ready. Last status update 2 hours ago", "vm-agent-status-not-reported"),
        (
            "VM 'vm01' has not reported status for VM agent or extensions. Please verify the VM has a running VM "
            "agent, and can establish outbound connections to Azure storage.",
            "vm-agent-status-not-reported",
        ),
        ("VM 'vm01' は VM エージェントまたは拡張機能の状態を報告していません。", "vm-agent-status-not-reported"),
        ("wireserver 168.63.129.16:80 unreachable from the guest", "agent-cannot-communicate"),
        # The shorter Japanese headings of the agent-and-extension page.
        ("VMSnapshot 拡張機能の操作に失敗した", "vmsnapshot-extension-failed"),
        ("VM エージェントが Azure Backup と通信できない", "agent-cannot-communicate"),
        # Rows of the current page.
        ("Faulting application name: IaaSBcdrExtension.exe, version 1.0", "antivirus-blocks-extension"),
        ("Error code: VMRestorePointInternalError", "antivirus-blocks-extension"),
    ],
)
def test_texts_operators_paste_today(text, row_id):
    matches = diagnose(text)
    assert matches and matches[0].row.id == row_id, [(m.row.id, m.kind) for m in matches]
    assert matches[0].kind != "similar"


def test_com_plus_term_names_the_com_rows_only():
    assert remediations_for("COM+ failure in the guest") == list(COM)
    assert {m.row.id for m in diagnose("COM+ failure in the guest")} == {
        "com-error",
        "com-msdtc-extension-install",
        "com-msdtc-snapshot-extension-install",
    }
    assert diagnose("COMPUTE+ is fine") == [] and diagnose("we use com+x") == []
    assert remediations_for("COM+エラー") == list(COM)
    assert diagnose("10.168.63.129.16 is not the wire server") == []


def test_manual_rows_say_the_fix_is_made_by_hand_in_the_guest():
    out = dg.render_text(diagnose("VMRestorePointInternalError"))
    assert "In the guest, by hand" in out and "Azure-side" not in out


def test_cli_diagnose_codes_lists_every_code_with_its_source(capsys):
    from remediate.cli import main

    assert main(["diagnose", "--codes", "-o", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {k["code"] for k in listed} >= {c for r in dg.rows() for c in r.codes} | {"FIFREEZE", "COM+"}
    assert all(k["source"] for k in listed)
    assert main(["diagnose", "--codes"]) == 0
    assert "VMAgentStatusCommunicationError" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["diagnose", ""], ["diagnose", "  "], ["diagnose"], ["diagnose", "--codes", "x"]])
def test_cli_diagnose_without_text_is_a_usage_error(capsys, argv):
    from remediate.cli import main

    assert main(argv) == 1
    assert "remediate: error:" in capsys.readouterr().err


def test_cli_diagnose_reads_stdin_and_files(tmp_path, monkeypatch, capsys):
    import io

    from remediate.cli import main

    text = "ジョブ ログ\n" * 200 + "エラー コード: ExtensionFailedVssWriterInBadState\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))
    assert main(["diagnose", "-", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == "vss-writers-bad-state"
    log = tmp_path / "job.txt"
    log.write_text(text, encoding="utf-8")
    assert main(["diagnose", "--file", str(log), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == "vss-writers-bad-state"
    assert main(["diagnose", "--file", str(tmp_path / "missing.txt")]) == 1
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "empty.txt").write_text("\n")
    assert main(["diagnose", "--file", str(tmp_path / "empty.txt")]) == 1


def test_suggest_compares_a_bounded_number_of_words(monkeypatch):
    """A pasted log of thousands of words: at most MAX_CANDIDATES of them are compared with the codes."""
    import difflib

    calls = []
    real = difflib.get_close_matches
    monkeypatch.setattr(
        dg.difflib, "get_close_matches", lambda word, *a, **k: calls.append(word) or real(word, *a, **k)
    )
    words = " ".join(f"Unrelatedword{i:05d}" for i in range(5000))
    suggest("Error code: ExtensionConfigParsingFailur " + words)
    assert len(calls) == dg.MAX_CANDIDATES
    assert calls[0] == "extensionconfigparsingfailur"  # the labelled code is always among them


@pytest.mark.parametrize(
    ("text", "row_id"),
    [
        (
            "VM で構成されているウイルス対策により、バックアップ拡張機能の実行が制限されています",
            "antivirus-blocks-extension",
        ),
        ("エラー メッセージ:選択した VM サイズが使用できないため、VM の作成に失敗しました。", "sku-not-available"),
        ("Marketplace の購入要求が存在しないため、VM の作成に失敗しました", "marketplace-vm-not-supported"),
        ("VM のスナップショットが見つからなかったため、復元に失敗しました。", "instant-rp-not-found"),
        ("VM リソースの不足のためにスナップショット操作に失敗しました。", "snapshot-timeout-vm-resources"),
        ("バックアップ拡張機能の構成の解析に失敗しました。", "config-parsing-failure"),
        ("拡張機能の状態がバックアップ操作に対応していません", "extension-stuck-deleting"),
        ("COM+ エラーのために拡張機能のインストール/操作に失敗しました", "com-msdtc-snapshot-extension-install"),
    ],
)
def test_japanese_wording_of_the_current_page(text, row_id):
    matches = diagnose(text)
    assert matches and matches[0].row.id == row_id and matches[0].kind == "message", [
        (m.row.id, m.kind) for m in matches
    ]


def test_cli_diagnose_empty_stdin_is_a_usage_error(monkeypatch, capsys):
    import io

    from remediate.cli import main

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"  \n")))
    assert main(["diagnose", "-"]) == 1
    assert "standard input gave none" in capsys.readouterr().err
