# Change one service's start type and/or logon account (built-in accounts only: no password is sent).
# Returns the configuration before and after. Uses Win32_Service methods; the name is matched exactly.
# Args: name (string), start_type (Automatic|Manual|Disabled, optional),
#       logon (LocalSystem, NT AUTHORITY\LocalService, NT AUTHORITY\NetworkService or their SIDs, optional).
param($Params)

$name = [string]$Params.name
$codes = @{
    1 = 'the request is not supported'; 2 = 'access denied'; 3 = 'dependent services are running';
    5 = 'the service cannot accept control messages now'; 6 = 'the service has not been started';
    8 = 'unknown failure'; 10 = 'the service is already running'; 15 = 'service logon failed';
    16 = 'the service is marked for deletion'; 21 = 'invalid parameter'; 22 = 'invalid service account'
}
$accounts = @{
    'S-1-5-18' = 'LocalSystem'
    'S-1-5-19' = 'NT AUTHORITY\LocalService'
    'S-1-5-20' = 'NT AUTHORITY\NetworkService'
}
$modes = @{ 'Automatic' = 'Automatic'; 'Manual' = 'Manual'; 'Disabled' = 'Disabled' }

function Get-Config([string]$serviceName) {
    $s = Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $serviceName } | Select-Object -First 1
    $mode = [string]$s.StartMode
    if ($mode -eq 'Auto') { $mode = 'Automatic' }
    return @{ start_type = $mode; logon = [string]$s.StartName }
}

$svc = Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $name } | Select-Object -First 1
if ($null -eq $svc) { throw "Cannot find any service with service name '$name'." }
$realName = [string]$svc.Name
$before = Get-Config $realName

if ($Params.start_type) {
    $mode = [string]$Params.start_type
    if (-not $modes.ContainsKey($mode)) { throw "unknown start type '$mode' (Automatic, Manual or Disabled)" }
    $r = Invoke-CimMethod -InputObject $svc -MethodName ChangeStartMode -Arguments @{ StartMode = $modes[$mode] }
    $rc = [int]$r.ReturnValue
    if ($rc -ne 0) {
        $why = $codes[$rc]
        throw ("could not set the start type of '" + $realName + "' to " + $mode + ": error " + $rc + " " + $why)
    }
}
if ($Params.logon) {
    $account = [string]$Params.logon
    if ($accounts.ContainsKey($account)) { $account = $accounts[$account] }
    $r = Invoke-CimMethod -InputObject $svc -MethodName Change -Arguments @{ StartName = $account; StartPassword = '' }
    $rc = [int]$r.ReturnValue
    if ($rc -ne 0) {
        $why = $codes[$rc]
        throw ("could not set the logon account of '" + $realName + "' to " + $account + ": error " + $rc + " " + $why)
    }
}
@{ name = $realName; before = $before; after = (Get-Config $realName) }
