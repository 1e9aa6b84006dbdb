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
$all = @(Get-CimInstance -ClassName Win32_Service)
$services = @()
foreach ($name in $wanted) {
    $svc = $all | Where-Object { $_.Name -eq $name } | Select-Object -First 1
    if ($null -eq $svc) {
        $services += @{ name = $name; exists = $false; status = $null; start_type = $null }
    } else {
        $mode = [string]$svc.StartMode
        if ($mode -eq 'Auto') { $mode = 'Automatic' }
        $services += @{ name = [string]$svc.Name; exists = $true; status = ([string]$svc.State) -replace ' ', ''; start_type = $mode }
    }
}
@{ text = [string]$text; exit_code = [int]$exitCode; services = @($services) }
