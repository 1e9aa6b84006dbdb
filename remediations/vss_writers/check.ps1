# Read the VSS writers as vssadmin shows them (text in the host's language; parsed on the operator's side,
# by structure) and the state of the services that host them.
# Args: services (list of service names to report).
param($Params)

$ErrorActionPreference = 'Continue'
$text = ''
$exitCode = 0
try {
    $text = (& vssadmin.exe list writers 2>&1 | Out-String)
    $exitCode = $LASTEXITCODE
} catch {
    $text = $_.Exception.Message
    $exitCode = -1
}
$ErrorActionPreference = 'Stop'

$wanted = @($Params.services | ForEach-Object { [string]$_ })
# Name and state from the SCM, never WMI (the stuck component when the WMI writer failed); start type from
# ServiceController.StartType (.NET 4.6.1 and later), else null.
$services = @()
foreach ($name in $wanted) {
    $svc = Get-ServiceController $name
    if ($null -eq $svc) {
        $services += @{ name = $name; exists = $false; status = $null; start_type = $null }
    } else {
        $mode = $null
        if ($svc.PSObject.Properties['StartType']) { $mode = [string]$svc.StartType }
        $services += @{ name = [string]$svc.ServiceName; exists = $true; status = [string]$svc.Status; start_type = $mode }
    }
}
@{ text = [string]$text; exit_code = [int]$exitCode; services = @($services) }
