# Start the COM+ System Application service (COMSysApp) once and report, without throwing, whether it started
# and what Windows said when it did not: the msdtc remediation reinstalls MSDTC when it still will not start.
# Args: timeout_s (seconds to wait for Running, default 60).
param($Params)

Add-Type -AssemblyName System.ServiceProcess
$timeout = 60
if ($null -ne $Params.timeout_s) { $timeout = [double]$Params.timeout_s }
$name = 'COMSysApp'

$sc = New-Object System.ServiceProcess.ServiceController -ArgumentList $name
$before = [string]$sc.Status
$reason = $null
if ($before -ne 'Running') {
    try {
        $sc.Start()
        $deadline = (Get-Date).AddSeconds($timeout)
        while ($true) {
            $sc.Refresh()
            $status = [string]$sc.Status
            if ($status -eq 'Running') { break }
            if ($status -eq 'Stopped') {  # Start() was accepted: Stopped now means it failed, however fast
                $reason = ("service '" + $name + "' stopped while starting: " + (Get-ExitReason $name))
                break
            }
            if ((Get-Date) -gt $deadline) {
                $reason = ("service '" + $name + "' did not reach Running within " + $timeout + " s (it is " + $status + ")")
                break
            }
            Start-Sleep -Milliseconds 250
        }
    } catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        $reason = ("could not start service '" + $name + "': " + $inner.Message)
    }
}
$sc.Refresh()
@{ name = $name; before = $before; after = [string]$sc.Status; started = ([string]$sc.Status -eq 'Running'); error = $reason }
