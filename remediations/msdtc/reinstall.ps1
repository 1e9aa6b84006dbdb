# Reinstall the Distributed Transaction Coordinator as the troubleshooting page says, then start COM+:
# stop MSDTC, "msdtc -uninstall", "msdtc -install", start MSDTC, start COMSysApp. A missing MSDTC is installed.
# Whatever fails after the uninstall, the host is not left without MSDTC: when the service is absent at the end,
# "msdtc -install" runs again and the failure says so. A service that stays listed after the uninstall is marked
# for deletion (1072): Windows removes it when its last handle closes, in practice at the next restart, so the
# failure says a restart is needed. Services are found through the SCM, never WMI.
# Throws with Windows' own words when a step fails (COMSysApp that still does not start included).
# Args: timeout_s (seconds to wait for each service state, default 60).
param($Params)

Add-Type -AssemblyName System.ServiceProcess
$timeout = 60
if ($null -ne $Params.timeout_s) { $timeout = [double]$Params.timeout_s }
$msdtcExe = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msdtc.exe'
$steps = New-Object System.Collections.ArrayList
$markedForDeletion = 'MSDTC is marked for deletion (error 1072): restart the VM so that Windows removes it, then run this again (it installs a missing MSDTC)'

function Wait-Until([scriptblock]$condition, [double]$seconds) {
    $deadline = (Get-Date).AddSeconds($seconds)
    while (-not (& $condition)) {
        if ((Get-Date) -gt $deadline) { return $false }
        Start-Sleep -Milliseconds 250
    }
    return $true
}

function Start-Named([string]$serviceName) {
    $sc = Get-ServiceController $serviceName
    if ($null -eq $sc) { throw "Cannot find any service with service name '$serviceName'." }
    if ([string]$sc.Status -eq 'Running') { return }
    try {
        $sc.Start()
    } catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        throw ("could not start service '" + $serviceName + "': " + $inner.Message)
    }
    $deadline = (Get-Date).AddSeconds($timeout)
    while ($true) {
        $sc.Refresh()
        $status = [string]$sc.Status
        if ($status -eq 'Running') { return }
        if ($status -eq 'Stopped') {
            throw ("service '" + $serviceName + "' stopped while starting: " + (Get-ExitReason $serviceName))
        }
        if ((Get-Date) -gt $deadline) {
            throw ("service '" + $serviceName + "' did not reach Running within " + $timeout + " s (it is " + $status + ")")
        }
        Start-Sleep -Milliseconds 250
    }
}

function Invoke-Msdtc([string]$flag) {
    $run = Invoke-Native $msdtcExe @($flag) $timeout
    if ($run.exit_code -eq 1072) { throw $markedForDeletion }
    if ($run.exit_code -ne 0) { throw (Get-NativeFailure ('msdtc ' + $flag) $run) }
}

function Install-Msdtc {
    Invoke-Msdtc '-install'
    if (-not (Wait-Until { $null -ne (Get-ServiceController 'MSDTC') } $timeout)) {
        throw ('msdtc -install ran but the MSDTC service did not appear within ' + $timeout + ' s')
    }
}

$failure = $null
try {
    $existing = Get-ServiceController 'MSDTC'
    if ($null -ne $existing) {
        if ([string]$existing.Status -ne 'Stopped') {
            $existing.Stop()
            if (-not (Wait-Until { $existing.Refresh(); [string]$existing.Status -eq 'Stopped' } $timeout)) {
                throw ('MSDTC did not stop within ' + $timeout + ' s')
            }
        }
        [void]$steps.Add('stopped MSDTC')
        Invoke-Msdtc '-uninstall'
        [void]$steps.Add('msdtc -uninstall')
        if (-not (Wait-Until { $null -eq (Get-ServiceController 'MSDTC') } $timeout)) { throw $markedForDeletion }
    }
    Install-Msdtc
    [void]$steps.Add('msdtc -install')
    Start-Named 'MSDTC'
    [void]$steps.Add('started MSDTC')
    Start-Named 'COMSysApp'
    [void]$steps.Add('started COMSysApp')
} catch {
    $failure = $_.Exception.Message
} finally {
    # Never leave the host without MSDTC: install it again whenever it is absent, whatever failed before.
    if ($null -eq (Get-ServiceController 'MSDTC')) {
        try {
            Install-Msdtc
            [void]$steps.Add('msdtc -install (MSDTC was missing)')
            if ($null -ne $failure) { $failure = $failure + '; MSDTC was missing afterwards and is installed again' }
        } catch {
            $again = $_.Exception.Message
            if ($null -eq $failure) { $failure = $again }
            else { $failure = $failure + '; MSDTC is missing and installing it again failed too: ' + $again }
        }
    }
}
if ($null -ne $failure) { throw ($failure + ' (steps done: ' + ($steps -join ', ') + ')') }

$msdtc = Get-ServiceController 'MSDTC'
$logon = $null
try {
    $cim = Get-CimInstance -ClassName Win32_Service -OperationTimeoutSec 20 -ErrorAction Stop |
        Where-Object { $_.Name -eq 'MSDTC' } | Select-Object -First 1
    $logon = [string]$cim.StartName
} catch {
    $logon = $null
}
@{ steps = $steps; msdtc = [string]$msdtc.Status; msdtc_logon = $logon; comsysapp = [string](Get-ServiceController 'COMSysApp').Status }
