"""The shared Windows building blocks: service and registry scripts, their lab models and the Python helpers.

Operations go through the WinRM connection to a lab host when the lab's WinRM server is there, and otherwise
through the lab's powershell.exe entry point with the exact command line and stdin the connection sends.
"""

from __future__ import annotations

import pytest
from remediate.remediations.common.windows import (
    REGISTRY_REMOVE,
    REGISTRY_SET,
    SERVICE_CONFIG,
    RegistryValue,
    ServiceState,
    check_registry_data,
    service_change,
)
from windows_lab import windows_host

from remediate.errors import DryRunRefused, RemoteScriptError
from remediate.operation import mutate, read

HOSTILE = ["x'; Remove-Item C:\\ -Recurse #", "$(Restart-Computer)", "`whoami`", "a\r\nb", 'q"uote', "*"]
BCDR = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"


@pytest.fixture
def win(tmp_path):
    with windows_host(tmp_path, "win01") as h:
        yield h


def test_service_get_reports_state_and_well_known_sids(win):
    svc = ServiceState.read(win.conn, "cryptsvc")
    assert svc.exists and svc.name == "CryptSvc"
    assert svc.status == "Running" and svc.start_type == "Automatic"
    assert svc.logon_sid == "S-1-5-20"
    vss = ServiceState.read(win.conn, "VSS")
    assert vss.logon_sid == "S-1-5-18" and not vss.running and not vss.disabled


def test_service_get_absent_and_hostile_names_do_not_throw(win):
    for name in ["NoSuchService", *HOSTILE]:
        svc = ServiceState.read(win.conn, name)
        assert svc.exists is False, name
    # the wildcard character matches nothing: names are compared exactly
    assert ServiceState.read(win.conn, "Crypt*").exists is False


def test_service_restart_records_time_and_start_fails_with_service_message(win):
    change = ServiceState.read(win.conn, "VSS").restart()
    assert change.operation.mutating and change.undo is None and change.undo_note
    result = win.conn.run(change.operation)
    assert result.data["after"] == "Running"
    machine = win.state.read()["machine"]
    assert machine["services"]["VSS"]["status"] == "Running"
    assert machine["services"]["VSS"]["restarted_at"] > 0

    with win.state.edit() as st:
        st["machine"]["services"]["BITS"]["fail_start"] = "The service did not respond in a timely fashion."
    with pytest.raises(RemoteScriptError) as err:
        win.conn.run(service_change("BITS", "start").operation)
    assert "did not respond in a timely fashion" in str(err.value.remote)

    with win.state.edit() as st:
        st["machine"]["services"]["msiserver"]["start_type"] = "Disabled"
    with pytest.raises(RemoteScriptError) as err:
        win.conn.run(service_change("msiserver", "start").operation)
    assert "disabled" in str(err.value.remote)


def test_service_control_of_missing_service_fails_clearly(win):
    with pytest.raises(RemoteScriptError) as err:
        win.conn.run(service_change("NoSuchService", "restart").operation)
    assert "NoSuchService" in str(err.value.remote)


def test_service_configure_and_undo(win):
    msdtc = ServiceState.read(win.conn, "MSDTC")
    with win.state.edit() as st:
        st["machine"]["services"]["MSDTC"]["logon"] = "LocalSystem"
        st["machine"]["services"]["MSDTC"]["start_type"] = "Manual"
    msdtc = ServiceState.read(win.conn, "MSDTC")
    change = msdtc.configure(start_type="Automatic", logon="S-1-5-20")
    assert change.before == {"start_type": "Manual", "logon": "LocalSystem", "logon_sid": "S-1-5-18"}
    assert change.undo is not None and change.undo.script == SERVICE_CONFIG
    result = win.conn.run(change.operation)
    assert result.data["after"] == {"start_type": "Automatic", "logon": "NT AUTHORITY\\NetworkService"}
    now = ServiceState.read(win.conn, "MSDTC")
    assert now.logon_sid == "S-1-5-20" and now.start_type == "Automatic"
    win.conn.run(change.undo)
    back = ServiceState.read(win.conn, "MSDTC")
    assert back.logon_sid == "S-1-5-18" and back.start_type == "Manual"


def test_registry_change_and_undo_of_existing_value(win):
    value = RegistryValue.read(win.conn, BCDR, "SnapshotMethod")
    assert value.exists and value.type == "REG_SZ" and value.data == "firstHostThenGuest"
    assert value.equals("firstHostThenGuest", "REG_SZ") and not value.equals("firstHostThenGuest", "REG_EXPAND_SZ")
    change = value.change_to("firstGuestThenHost", "REG_SZ")
    assert change.before == {"exists": True, "type": "REG_SZ", "data": "firstHostThenGuest"}
    assert change.undo.script == REGISTRY_SET
    win.conn.run(change.operation)
    assert RegistryValue.read(win.conn, BCDR, "snapshotmethod").data == "firstGuestThenHost"
    win.conn.run(change.undo)
    assert RegistryValue.read(win.conn, BCDR, "SnapshotMethod").equals("firstHostThenGuest", "REG_SZ")


def test_registry_new_value_in_new_key_is_undone_by_removal(win):
    path = "HKLM\\SOFTWARE\\Contoso\\New"
    value = RegistryValue.read(win.conn, path, "Flag")
    assert not value.exists and not value.key_exists
    change = value.change_to(4294967295, "REG_DWORD")
    assert change.undo.script == REGISTRY_REMOVE
    result = win.conn.run(change.operation)
    assert result.data["previous"]["exists"] is False and result.data["key_existed"] is False
    assert RegistryValue.read(win.conn, path, "Flag").equals(4294967295, "REG_DWORD")
    win.conn.run(change.undo)
    after = RegistryValue.read(win.conn, path, "Flag")
    assert not after.exists and after.key_exists


def test_registry_hostile_names_and_data_are_stored_verbatim(win):
    for i, text in enumerate(HOSTILE):
        value = RegistryValue.read(win.conn, f"HKLM\\SOFTWARE\\Contoso\\{text}", text)
        win.conn.run(value.change_to(text, "REG_SZ").operation)
        back = RegistryValue.read(win.conn, f"HKLM\\SOFTWARE\\Contoso\\{text}", text)
        assert back.data == text, i
    assert win.state.read()["machine"]["services"]["VSS"]["status"] == "Stopped"


def test_registry_types_are_checked_before_sending():
    for data, kind in [(-1, "REG_DWORD"), (2**32, "REG_DWORD"), ("1", "REG_DWORD"), (1, "REG_SZ"), ("x", "REG_XX")]:
        with pytest.raises(ValueError):
            check_registry_data(data, kind)
    check_registry_data(["a", "b"], "REG_MULTI_SZ")
    check_registry_data([0, 255], "REG_BINARY")


def test_unknown_hive_fails_with_the_scripts_message(win):
    with pytest.raises(RemoteScriptError) as err:
        win.conn.run(read("common/registry_get.ps1", path="HKXX\\Foo", name="x"))
    assert "unknown registry hive" in str(err.value.remote)


def test_dry_run_refuses_mutations_before_the_lab_sees_them(tmp_path):
    with windows_host(tmp_path, "win02", dry_run=True) as h:
        assert ServiceState.read(h.conn, "VSS").exists
        with pytest.raises(DryRunRefused):
            h.conn.run(mutate("common/registry_set.ps1", path=BCDR, name="X", type="REG_SZ", data="1"))
        assert h.mutations() == []
