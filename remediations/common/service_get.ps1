# Read one service by its service NAME (never its display name): whether it exists, its status, start type and
# logon account (the raw name and, where it resolves, the SID: S-1-5-18 LocalSystem, S-1-5-19 LocalService,
# S-1-5-20 NetworkService). A missing service is reported with exists = false, not thrown.
# Args: name (string).
param($Params)

$name = [string]$Params.name
$wellKnown = @{
    'localsystem' = 'S-1-5-18'
    'nt authority\system' = 'S-1-5-18'
    '.\localsystem' = 'S-1-5-18'
    'nt authority\localservice' = 'S-1-5-19'
    'nt authority\local service' = 'S-1-5-19'
    'nt authority\networkservice' = 'S-1-5-20'
    'nt authority\network service' = 'S-1-5-20'
}
$startTypes = @{ 'Auto' = 'Automatic'; 'Manual' = 'Manual'; 'Disabled' = 'Disabled'; 'Boot' = 'Boot'; 'System' = 'System' }

# Filtered in PowerShell with -eq: the name is never part of a WQL query or a wildcard pattern.
$svc = Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $name } | Select-Object -First 1
if ($null -eq $svc) {
    return @{ name = $name; exists = $false; status = $null; start_type = $null; logon = $null; logon_sid = $null;
        display_name = $null; exit_code = $null; delayed_auto_start = $false }
}

$logon = [string]$svc.StartName
$sid = $null
if ($logon) {
    $key = $logon.ToLowerInvariant()
    if ($wellKnown.ContainsKey($key)) {
        $sid = $wellKnown[$key]
    } else {
        try {
            $account = New-Object System.Security.Principal.NTAccount -ArgumentList $logon
            $sid = $account.Translate([System.Security.Principal.SecurityIdentifier]).Value
        } catch {
            $sid = $null
        }
    }
}

$startType = [string]$svc.StartMode
if ($startTypes.ContainsKey($startType)) { $startType = $startTypes[$startType] }
$delayed = $false
if ($svc.PSObject.Properties['DelayedAutoStart']) { $delayed = [bool]$svc.DelayedAutoStart }

@{
    name = [string]$svc.Name
    exists = $true
    status = ([string]$svc.State) -replace ' ', ''
    start_type = $startType
    delayed_auto_start = $delayed
    logon = $logon
    logon_sid = $sid
    display_name = [string]$svc.DisplayName
    exit_code = [int]$svc.ExitCode
}
