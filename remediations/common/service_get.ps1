# Read one service by its service NAME (never its display name): whether it exists, its status, start type and
# logon account (the raw name and, where it resolves, the SID: S-1-5-18 LocalSystem, S-1-5-19 LocalService,
# S-1-5-20 NetworkService). A missing service is reported with exists = false, not thrown.
# Name and status come from the Service Control Manager (ServiceController), never from WMI: WMI is the stuck
# component when the WMI writer is the failed one. Only the logon account, start mode and exit code are read
# through CIM, with a deadline; when WMI does not answer they are null and wmi_error says why.
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
$startTypes = @{ 'Auto' = 'Automatic'; 'Automatic' = 'Automatic'; 'Manual' = 'Manual'; 'Disabled' = 'Disabled'; 'Boot' = 'Boot'; 'System' = 'System' }

# Matched in PowerShell with -eq: the name is never part of a WQL query or a wildcard pattern.
$sc = Get-ServiceController $name
if ($null -eq $sc) {
    return @{ name = $name; exists = $false; status = $null; start_type = $null; logon = $null; logon_sid = $null;
        display_name = $null; exit_code = $null; delayed_auto_start = $false; wmi_error = $null }
}
$realName = [string]$sc.ServiceName

$cim = $null
$wmiError = $null
try {
    $cim = Get-CimInstance -ClassName Win32_Service -OperationTimeoutSec 20 -ErrorAction Stop |
        Where-Object { $_.Name -eq $realName } | Select-Object -First 1
} catch {
    $wmiError = $_.Exception.Message
}

$logon = $null
$sid = $null
$startType = $null
$delayed = $false
$exitCode = $null
if ($null -ne $cim) {
    $logon = [string]$cim.StartName
    $startType = [string]$cim.StartMode
    $exitCode = [int]$cim.ExitCode
    if ($cim.PSObject.Properties['DelayedAutoStart']) { $delayed = [bool]$cim.DelayedAutoStart }
} elseif ($sc.PSObject.Properties['StartType']) {
    $startType = [string]$sc.StartType  # .NET 4.6.1 and later: the SCM's start type without WMI
}
if ($startType -and $startTypes.ContainsKey($startType)) { $startType = $startTypes[$startType] }
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

@{
    name = $realName
    exists = $true
    status = [string]$sc.Status
    start_type = $startType
    delayed_auto_start = $delayed
    logon = $logon
    logon_sid = $sid
    display_name = [string]$sc.DisplayName
    exit_code = $exitCode
    wmi_error = $wmiError
}
