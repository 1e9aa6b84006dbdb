# Reinstall the Distributed Transaction Coordinator as the troubleshooting page says, then start COM+:
# stop MSDTC, "msdtc -uninstall", "msdtc -install", start MSDTC, start COMSysApp. A missing MSDTC is installed.
# Throws with Windows' own words when a step fails (COMSysApp that still does not start included).
# Args: timeout_s (seconds to wait for each service state, default 60).
param($Params)

Add-Type -AssemblyName System.ServiceProcess
$timeout = 60
if ($null -ne $Params.timeout_s) { $timeout = [double]$Params.timeout_s }
$msdtcExe = Join-Path $env:SystemRoot 'System32\msdtc.exe'
$steps = New-Object System.Collections.ArrayList

function Get-Service32([string]$serviceName) {
    return (Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $serviceName } | Select-Object -First 1)
}

function Wait-Until([scriptblock]$condition, [string]$what) {
    $deadline = (Get-Date).AddSeconds($timeout)
    while (-not (& $condition)) {
        if ((Get-Date) -gt $deadline) { throw ($what + ' did not happen within ' + $timeout + ' s') }
        Start-Sleep -Milliseconds 250
    }
}

function Start-Named([string]$serviceName) {
    $sc = New-Object System.ServiceProcess.ServiceController -ArgumentList $serviceName
    if ([string]$sc.Status -eq 'Running') { return }
    try {
        $sc.Start()
    } catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        throw ("could not start service '" + $serviceName + "': " + $inner.Message)
    }
    $deadline = (Get-Date).AddSeconds($timeout)
    $grace = (Get-Date).AddSeconds(2)
    $seenPending = $false
    while ($true) {
        $sc.Refresh()
        $status = [string]$sc.Status
        if ($status -eq 'Running') { return }
        if ($status -like '*Pending') { $seenPending = $true }
        if ($status -eq 'Stopped' -and ($seenPending -or (Get-Date) -gt $grace)) {
            throw ("service '" + $serviceName + "' stopped while starting: " + (Get-ExitReason $serviceName))
        }
        if ((Get-Date) -gt $deadline) {
            throw ("service '" + $serviceName + "' did not reach Running within " + $timeout + " s (it is " + $status + ")")
        }
        Start-Sleep -Milliseconds 250
    }
}

function Invoke-Msdtc([string]$flag) {
    $p = Start-Process -FilePath $msdtcExe -ArgumentList $flag -Wait -PassThru -WindowStyle Hidden
    if ([int]$p.ExitCode -ne 0) { throw ('msdtc ' + $flag + ' failed with exit code ' + [int]$p.ExitCode) }
}

if ($null -ne (Get-Service32 'MSDTC')) {
    $sc = New-Object System.ServiceProcess.ServiceController -ArgumentList 'MSDTC'
    if ([string]$sc.Status -ne 'Stopped') {
        $sc.Stop()
        Wait-Until { $sc.Refresh(); [string]$sc.Status -eq 'Stopped' } 'stopping MSDTC'
    }
    [void]$steps.Add('stopped MSDTC')
    Invoke-Msdtc '-uninstall'
    Wait-Until { $null -eq (Get-Service32 'MSDTC') } 'removing the MSDTC service'
    [void]$steps.Add('msdtc -uninstall')
}
Invoke-Msdtc '-install'
Wait-Until { $null -ne (Get-Service32 'MSDTC') } 'installing the MSDTC service'
[void]$steps.Add('msdtc -install')
Start-Named 'MSDTC'
[void]$steps.Add('started MSDTC')
Start-Named 'COMSysApp'
[void]$steps.Add('started COMSysApp')
$msdtc = Get-Service32 'MSDTC'
@{ steps = $steps; msdtc = [string]$msdtc.State; msdtc_logon = [string]$msdtc.StartName; comsysapp = [string](Get-Service32 'COMSysApp').State }
