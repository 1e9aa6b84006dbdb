# Start, stop or restart one service by its service NAME and wait (bounded) for the target status.
# A service that does not start is reported with its own error (the Win32 or service-specific exit code).
# Services that depend on it and were running are started again after a restart. The service is found through
# the Service Control Manager, not WMI. A service seen Stopped after Start() was accepted has failed: its reason
# is reported at once, even when it stopped before the first poll saw it pending.
# Args: name (string), action (start|stop|restart), timeout_s (seconds to wait for each status, default 60).
param($Params)

Add-Type -AssemblyName System.ServiceProcess
$name = [string]$Params.name
$action = [string]$Params.action
$timeout = 60
if ($null -ne $Params.timeout_s) { $timeout = [double]$Params.timeout_s }
if (@('start', 'stop', 'restart') -notcontains $action) { throw "unknown service action '$action' (start, stop or restart)" }

$sc = Get-ServiceController $name
if ($null -eq $sc) { throw "Cannot find any service with service name '$name'." }
$realName = [string]$sc.ServiceName

function Wait-Status($controller, [string]$target, [double]$seconds, [bool]$starting) {
    $deadline = (Get-Date).AddSeconds($seconds)
    while ($true) {
        $controller.Refresh()
        $status = [string]$controller.Status
        if ($status -eq $target) { return }
        if ($starting -and $status -eq 'Stopped') {
            throw ("service '" + $controller.ServiceName + "' stopped while starting: " + (Get-ExitReason $controller.ServiceName 'the service disappeared'))
        }
        if ((Get-Date) -gt $deadline) {
            throw ("service '" + $controller.ServiceName + "' did not reach " + $target + " within " + $seconds + " s (it is " + $status + ")")
        }
        Start-Sleep -Milliseconds 250
    }
}

function Start-One($controller, [double]$seconds) {
    $controller.Refresh()
    if ([string]$controller.Status -eq 'Running') { return }
    try {
        $controller.Start()
    } catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        throw ("could not start service '" + $controller.ServiceName + "': " + $inner.Message)
    }
    Wait-Status $controller 'Running' $seconds $true
}

$before = [string]$sc.Status
$dependents = @()
if ($action -eq 'stop' -or $action -eq 'restart') {
    $dependents = @($sc.DependentServices | Where-Object { [string]$_.Status -eq 'Running' } | ForEach-Object { $_.ServiceName })
    if ([string]$sc.Status -ne 'Stopped') {
        try {
            $sc.Stop()
        } catch {
            $inner = $_.Exception
            while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
            throw ("could not stop service '" + $realName + "': " + $inner.Message)
        }
        Wait-Status $sc 'Stopped' $timeout $false
    }
}
if ($action -eq 'start' -or $action -eq 'restart') {
    Start-One $sc $timeout
    if ($action -eq 'restart') {
        foreach ($dep in $dependents) {
            Start-One (New-Object System.ServiceProcess.ServiceController -ArgumentList $dep) $timeout
        }
    }
}
$sc.Refresh()
@{ name = $realName; action = $action; before = $before; after = [string]$sc.Status; dependents = @($dependents) }
