# Install the Azure VM agent from the MSI the operator named: a local or UNC path, or an https URL that is
# downloaded first (only because the operator gave it). msiexec runs quietly without restarting the machine:
# msiexec.exe /i <msi> /quiet /norestart /l*v <log>, its arguments passed as an array.
# Exit codes 0 and 3010 (restart required) are success; any other fails with msiexec's code and the log path.
# Returns: source, msi, exit_code, reboot_required, log.
# Args: source (string: C:\...\x.msi, \\server\share\x.msi or https://...).
param($Params)

$source = [string]$Params.source
if (-not $source) { throw 'no installer given' }
$work = Join-Path -Path $env:ProgramData -ChildPath 'remediate\agent'
if (-not (Test-Path -LiteralPath $work)) { New-Item -ItemType Directory -Path $work -Force | Out-Null }
$stamp = (Get-Date).ToUniversalTime().ToString('yyyyMMddTHHmmssZ')

if ($source -match '^https://') {
    $msi = Join-Path -Path $work -ChildPath ('WindowsAzureVmAgent-' + $stamp + '.msi')
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    try {
        Invoke-WebRequest -Uri $source -OutFile $msi -UseBasicParsing -ErrorAction Stop | Out-Null
    } catch {
        throw ('could not download ' + $source + ': ' + $_.Exception.Message)
    }
} else {
    $msi = $source
    if (-not (Test-Path -LiteralPath $msi -PathType Leaf)) { throw ('the installer ' + $msi + ' does not exist') }
}

$log = Join-Path -Path $work -ChildPath ('msiexec-' + $stamp + '.log')
$msiexec = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
# Start-Process joins the array with spaces: each element that may hold spaces is quoted (paths cannot hold ").
$arguments = @('/i', ('"' + $msi + '"'), '/quiet', '/norestart', '/l*v', ('"' + $log + '"'))
$process = Start-Process -FilePath $msiexec -ArgumentList $arguments -Wait -PassThru -WindowStyle Hidden
$code = [int]$process.ExitCode
$reasons = @{
    1603 = 'a fatal error during installation'; 1618 = 'another installation is in progress';
    1619 = 'the installation package could not be opened'; 1620 = 'the installation package could not be opened';
    1633 = 'this installation package is not supported on this processor type'; 1638 = 'another version is installed'
}
if ($code -ne 0 -and $code -ne 3010) {
    $why = ''
    if ($reasons.ContainsKey($code)) { $why = ' (' + $reasons[$code] + ')' }
    throw ('msiexec exited with ' + $code + $why + '; see the log ' + $log)
}
@{ source = $source; msi = $msi; exit_code = $code; reboot_required = ($code -eq 3010); log = $log }
