"""The lab trips scripts where Windows PowerShell 5.1 would, on how they are written (lab/windows/traps.py),
and no packaged script is written so."""

from __future__ import annotations

from pathlib import Path

import pytest
from remediate.lab.windows import traps
from remediate.remediations.common.windows import ServiceState, service_control
from windows_lab import windows_host

from remediate.errors import RemoteScriptError

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "remediations").rglob("*.ps1"))
NATIVES = ("netsh", "icacls", "sc", "vssadmin", "msdtc", "msiexec", "manage-bde", "route")
PENDING: set[str] = set()


def test_native_stderr_merge_is_found() -> None:
    old = "$out = & netsh.exe winhttp reset proxy 2>&1\nif ($LASTEXITCODE -ne 0) { throw 'x' }"
    assert traps.redirects_stderr(old, "netsh")
    by_variable = "$icacls = Join-Path $env:SystemRoot 'System32\\icacls.exe'\n$out = & $icacls $p /save $b /c 2>&1"
    assert traps.redirects_stderr(by_variable, "icacls")
    assert not traps.redirects_stderr(by_variable, "netsh")
    assert traps.redirects_stderr("$text = (vssadmin.exe list writers 2>&1 | Out-String)", "vssadmin")
    assert not traps.redirects_stderr("# & netsh.exe x 2>&1\n$run = Invoke-Native $netsh @('x')", "netsh")
    lowered = "$ErrorActionPreference = 'Continue'\n$t = (& vssadmin.exe list writers 2>&1 | Out-String)\n"
    assert not traps.redirects_stderr(lowered + "$ErrorActionPreference = 'Stop'", "vssadmin")


def test_no_packaged_script_merges_native_stderr() -> None:
    offenders = {
        str(p.relative_to(ROOT / "remediations")).replace("\\", "/")
        for p in SCRIPTS
        for program in NATIVES
        if traps.redirects_stderr(p.read_text(encoding="utf-8"), program)
    }
    assert offenders <= PENDING, offenders


def test_cim_without_a_deadline_is_found() -> None:
    assert traps.unguarded_cim("$s = Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $n }")
    assert not traps.unguarded_cim(
        "$s = Get-CimInstance -ClassName Win32_Service -OperationTimeoutSec 20 -ErrorAction Stop |\n"
        "    Where-Object { $_.Name -eq $n }"
    )
    assert not traps.unguarded_cim((ROOT / "remediations/common/library.ps1").read_text(encoding="utf-8"))


@pytest.mark.parametrize("script", ["common/service_get.ps1", "common/service_control.ps1"])
def test_service_scripts_never_wait_on_wmi_without_a_deadline(script: str) -> None:
    assert not traps.unguarded_cim((ROOT / "remediations" / script).read_text(encoding="utf-8"))


UNGUARDED_REINSTALL = """
function Invoke-Msdtc([string]$flag) { $run = Invoke-Native $msdtcExe @($flag) 60 }
Invoke-Msdtc '-uninstall'
Invoke-Msdtc '-install'
"""


def test_reinstall_without_a_finally_that_installs_a_missing_msdtc_is_found() -> None:
    assert not traps.reinstalls_in_finally(UNGUARDED_REINSTALL)
    wrapped = "try {" + UNGUARDED_REINSTALL + "} catch { $failure = $_ } finally { Invoke-Msdtc '-install' }"
    assert not traps.reinstalls_in_finally(wrapped)  # unconditional: not "whenever it is absent"
    guarded = wrapped.replace("finally {", "finally { if ($null -eq (Get-ServiceController 'MSDTC')) {") + " }"
    assert traps.reinstalls_in_finally(guarded)
    # the install through a function of the script counts; a comment does not
    helper = "function Install-Msdtc { Invoke-Msdtc '-install' }\n" + guarded.replace(
        "finally { if ($null -eq (Get-ServiceController 'MSDTC')) { Invoke-Msdtc '-install'",
        "finally { if ($null -eq (Get-ServiceController 'MSDTC')) { Install-Msdtc",
    )
    assert traps.reinstalls_in_finally(helper)
    assert not traps.reinstalls_in_finally(helper.replace("Invoke-Msdtc '-install' }", "# Invoke-Msdtc '-install'\n}"))
    script = (ROOT / "remediations/msdtc/reinstall.ps1").read_text(encoding="utf-8")
    assert traps.reinstalls_in_finally(script) and traps.names_error_code(script, 1072)
    assert not traps.names_error_code("# 1072: marked for deletion\n$code = 10720", 1072)


def test_hresult_exit_code_is_shown_in_hex_not_a_cast_error(tmp_path) -> None:
    """COM+ stops with service-specific code 0x8004E00F: [int] of it is a cast error in PowerShell."""
    with windows_host(tmp_path, "win01") as h:
        with h.state.edit() as st:
            com = st["machine"]["services"]["COMSysApp"]
            com["status"] = "Stopped"
            com["service_specific_exit_code"] = 0x8004E00F
        with pytest.raises(RemoteScriptError) as info:
            h.conn.run(service_control("COMSysApp", "start"))
        assert "service-specific error 0x8004E00F" in str(info.value.remote)
        assert "Int32" not in str(info.value.remote)


PENDING_GATED_WAIT = """
    $seenPending = $false
    while ($true) {
        $controller.Refresh()
        $status = [string]$controller.Status
        if ($status -eq $target) { return }
        if ($status -like '*Pending') { $seenPending = $true }
        if ($starting -and $seenPending -and $status -eq 'Stopped') { throw 'stopped while starting' }
        if ((Get-Date) -gt $deadline) { throw 'did not reach Running' }
    }
"""


def test_a_wait_that_trusts_stopped_only_after_pending_is_found() -> None:
    assert traps.stopped_counts_only_after_pending(PENDING_GATED_WAIT)
    at_once = PENDING_GATED_WAIT.replace("$starting -and $seenPending -and", "$starting -and")
    assert not traps.stopped_counts_only_after_pending(at_once)
    grace = PENDING_GATED_WAIT.replace(
        "$seenPending -and $status", "($seenPending -or (Get-Date) -gt $grace) -and $status"
    )
    assert not traps.stopped_counts_only_after_pending(grace)  # the reason comes after the grace period
    offenders = [p.name for p in SCRIPTS if traps.stopped_counts_only_after_pending(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_a_service_that_fails_before_the_first_poll_is_reported_with_its_exit_reason(tmp_path) -> None:
    """COM+ is already Stopped (0x8004E00F) when the script first reads its status after Start(): it is never
    seen StartPending, and the reason is reported at once, not as a timeout of the whole wait."""
    with windows_host(tmp_path, "win01") as h:
        with h.state.edit() as st:
            com = st["machine"]["services"]["COMSysApp"]
            com.update({"status": "Stopped", "service_specific_exit_code": 0x8004E00F, "stops_before_first_poll": True})
        with pytest.raises(RemoteScriptError) as info:
            h.conn.run(service_control("COMSysApp", "start"))
        remote = str(info.value.remote)
        assert "stopped while starting: service-specific error 0x8004E00F" in remote
        assert "did not reach Running" not in remote
        assert h.machine()["services"]["COMSysApp"]["status"] == "Stopped"


def test_service_state_is_read_while_wmi_is_stuck(tmp_path) -> None:
    """The WMI writer is the failed one: service name and state still come back (from the SCM), and a
    restart of the writer's service (Winmgmt) is not blocked by a WMI query."""
    with windows_host(tmp_path, "win01", faults={"wmi": "fail"}) as h:
        svc = ServiceState.read(h.conn, "Winmgmt")
        assert (svc.exists, svc.status) == (True, "Running")
        assert svc.logon is None and svc.wmi_error  # WMI's part, and why it is missing
        result = h.conn.run(service_control("Winmgmt", "restart"))
        assert result.data["after"] == "Running"


def test_vss_writer_check_answers_while_wmi_is_stuck(tmp_path) -> None:
    from remediate.operation import read

    with windows_host(tmp_path, "win01", faults={"wmi": "hang"}) as h:
        data = h.conn.run(read("vss_writers/check.ps1", services=["Winmgmt", "VSS"])).data
        status = {s["name"]: s["status"] for s in data["services"]}
        assert status == {"Winmgmt": "Running", "VSS": "Stopped"}


def test_failed_wmi_writer_is_fixed_while_wmi_does_not_answer(tmp_path) -> None:
    """The WMI writer failed and WMI is stuck with it: the check and the restart of Winmgmt go through the SCM."""
    from lab_run import lab_run

    with lab_run(tmp_path) as lr:
        with lr.edit() as st:
            (wmi,) = [w for w in st["machine"]["vss_writers"] if w["name"] == "WMI Writer"]
            wmi.update({"state": 8, "last_error": 0x800423F3, "wmi_stuck": True})
        done, _ = lr.run("vss-writers", assume_yes=True)
        assert done.status == "changed" and done.steps[0].verified, done.reason
        assert [c["operation"]["args"]["name"] for c in done.steps[0].applied] == ["Winmgmt"]
