# Change one service's start type and/or logon account (built-in accounts only: no password is sent).
# Returns the configuration before and after. The change goes through the Service Control Manager
# (sc.exe config, which calls ChangeServiceConfig): the SCM applies it at once and writes the registry itself,
# whereas a value written straight to Services\<name>\Start is only read at the next boot. The name is matched
# exactly, through the SCM, never WMI; the configuration is read back through CIM with a deadline.
# Args: name (string), start_type (Automatic|Manual|Disabled, optional),
#       logon (LocalSystem, NT AUTHORITY\LocalService, NT AUTHORITY\NetworkService or their SIDs, optional).
param($Params)

$name = [string]$Params.name
$accounts = @{
    'S-1-5-18' = 'LocalSystem'
    'S-1-5-19' = 'NT AUTHORITY\LocalService'
    'S-1-5-20' = 'NT AUTHORITY\NetworkService'
}
$modes = @{ 'Automatic' = 'auto'; 'Manual' = 'demand'; 'Disabled' = 'disabled' }
$sc = Join-Path -Path $env:SystemRoot -ChildPath 'System32\sc.exe'

function Get-Config([string]$serviceName) {
    $s = Get-CimInstance -ClassName Win32_Service -OperationTimeoutSec 20 -ErrorAction Stop |
        Where-Object { $_.Name -eq $serviceName } | Select-Object -First 1
    $mode = [string]$s.StartMode
    if ($mode -eq 'Auto') { $mode = 'Automatic' }
    return @{ start_type = $mode; logon = [string]$s.StartName }
}

$svc = Get-ServiceController $name
if ($null -eq $svc) { throw "Cannot find any service with service name '$name'." }
$realName = [string]$svc.ServiceName
$before = Get-Config $realName

if ($Params.start_type) {
    $mode = [string]$Params.start_type
    if (-not $modes.ContainsKey($mode)) { throw "unknown start type '$mode' (Automatic, Manual or Disabled)" }
    $run = Invoke-Native $sc @('config', $realName, 'start=', $modes[$mode]) 60
    if ($run.exit_code -ne 0) {
        $why = (New-Object System.ComponentModel.Win32Exception -ArgumentList ([int]$run.exit_code)).Message
        throw ("could not set the start type of '" + $realName + "' to " + $mode + ": error " + $run.exit_code + " " + $why)
    }
}
if ($Params.logon) {
    $account = [string]$Params.logon
    if ($accounts.ContainsKey($account)) { $account = $accounts[$account] }
    $run = Invoke-Native $sc @('config', $realName, 'obj=', $account, 'password=', '') 60
    if ($run.exit_code -ne 0) {
        $why = (New-Object System.ComponentModel.Win32Exception -ArgumentList ([int]$run.exit_code)).Message
        throw ("could not set the logon account of '" + $realName + "' to " + $account + ": error " + $run.exit_code + " " + $why)
    }
}
@{ name = $realName; before = $before; after = (Get-Config $realName) }
