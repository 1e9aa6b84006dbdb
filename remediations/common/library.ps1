# remediate's PowerShell library: functions shared by the packaged scripts. The bootstrap dot-sources it before
# it runs a script, the way remediations/common/prelude.sh precedes every sh script. Definitions only: it must
# write nothing and change nothing when it is loaded.

# The hive and the path below it of HKLM\..., HKCU\..., HKU\... or HKCR\... (long names too).
function Resolve-RegistryPath([string]$path) {
    $hives = @{
        'HKLM' = [Microsoft.Win32.RegistryHive]::LocalMachine; 'HKEY_LOCAL_MACHINE' = [Microsoft.Win32.RegistryHive]::LocalMachine
        'HKCU' = [Microsoft.Win32.RegistryHive]::CurrentUser; 'HKEY_CURRENT_USER' = [Microsoft.Win32.RegistryHive]::CurrentUser
        'HKU' = [Microsoft.Win32.RegistryHive]::Users; 'HKEY_USERS' = [Microsoft.Win32.RegistryHive]::Users
        'HKCR' = [Microsoft.Win32.RegistryHive]::ClassesRoot; 'HKEY_CLASSES_ROOT' = [Microsoft.Win32.RegistryHive]::ClassesRoot
    }
    $parts = $path.Split([char[]]@([char]'\'), 2)
    $hiveName = $parts[0].ToUpperInvariant()
    if (-not $hives.ContainsKey($hiveName)) { throw "unknown registry hive in '$path' (use HKLM\..., HKCU\..., HKU\... or HKCR\...)" }
    $subPath = ''
    if ($parts.Count -gt 1) { $subPath = $parts[1].Trim([char]'\') }
    return @{ hive = $hives[$hiveName]; hive_name = $hiveName; sub_path = $subPath }
}

# One value of an open key (or of no key: $null) as {exists, type, data}: numbers unsigned, REG_EXPAND_SZ
# unexpanded, REG_MULTI_SZ a list, REG_BINARY a list of bytes.
function Read-RegistryValue($key, [string]$valueName) {
    $out = @{ exists = $false; type = $null; data = $null }
    if ($null -eq $key) { return $out }
    if (@($key.GetValueNames()) -notcontains $valueName) { return $out }
    $kinds = @{
        'String' = 'REG_SZ'; 'ExpandString' = 'REG_EXPAND_SZ'; 'DWord' = 'REG_DWORD'; 'QWord' = 'REG_QWORD'
        'MultiString' = 'REG_MULTI_SZ'; 'Binary' = 'REG_BINARY'; 'None' = 'REG_NONE'
    }
    $kind = [string]$key.GetValueKind($valueName)
    $raw = $key.GetValue($valueName, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
    $t = $kinds[$kind]
    if ($null -eq $t) { $t = 'REG_' + $kind.ToUpperInvariant() }
    $d = $raw
    if ($t -eq 'REG_DWORD') { $d = [BitConverter]::ToUInt32([BitConverter]::GetBytes([int32]$raw), 0) }
    elseif ($t -eq 'REG_QWORD') { $d = [BitConverter]::ToUInt64([BitConverter]::GetBytes([int64]$raw), 0) }
    elseif ($t -eq 'REG_MULTI_SZ') { $d = @($raw) }
    elseif ($t -eq 'REG_BINARY' -or $t -eq 'REG_NONE') { $d = @($raw | ForEach-Object { [int]$_ }) }
    else { $d = [string]$raw }
    $out.exists = $true
    $out.type = $t
    $out.data = $d
    return $out
}

# Why a service is not running, in Windows' words: its Win32 or service-specific exit code, else its state.
# Service-specific codes are often HRESULTs (COM+: 0x8004E00F): read as [uint32] and shown in hex. WMI is asked
# with a deadline and its failure is reported, not thrown: a stuck WMI must not hide the service's own reason.
function Get-ExitReason([string]$serviceName, [string]$missing = 'the service does not exist') {
    try {
        $now = Get-CimInstance -ClassName Win32_Service -OperationTimeoutSec 20 -ErrorAction Stop |
            Where-Object { $_.Name -eq $serviceName } | Select-Object -First 1
    } catch {
        return ('its exit code could not be read (WMI: ' + $_.Exception.Message + ')')
    }
    if ($null -eq $now) { return $missing }
    $code = [uint32]$now.ExitCode
    if ($code -eq 1066) { return ('service-specific error ' + ('0x{0:X8}' -f [uint32]$now.ServiceSpecificExitCode)) }
    if ($code -ne 0) { return (New-Object System.ComponentModel.Win32Exception -ArgumentList ([int]$code)).Message }
    return ('it is ' + [string]$now.State)
}

# One service by its exact service name (never a wildcard, never WMI), or $null.
function Get-ServiceController([string]$serviceName) {
    Add-Type -AssemblyName System.ServiceProcess
    return ([System.ServiceProcess.ServiceController]::GetServices() |
            Where-Object { $_.ServiceName -eq $serviceName } | Select-Object -First 1)
}

# One argument quoted for a native program's command line, as the C runtime splits it (CommandLineToArgvW).
function ConvertTo-NativeArgument([string]$argument) {
    if ($argument.Length -gt 0 -and $argument -notmatch '[\s"]') { return $argument }
    $sb = New-Object System.Text.StringBuilder
    [void]$sb.Append([char]'"')
    $slashes = 0
    foreach ($ch in $argument.ToCharArray()) {
        if ($ch -eq [char]'\') { $slashes++; continue }
        if ($ch -eq [char]'"') { [void]$sb.Append([char]'\', 2 * $slashes + 1) }
        elseif ($slashes -gt 0) { [void]$sb.Append([char]'\', $slashes) }
        [void]$sb.Append($ch)
        $slashes = 0
    }
    if ($slashes -gt 0) { [void]$sb.Append([char]'\', 2 * $slashes) }
    [void]$sb.Append([char]'"')
    return $sb.ToString()
}

# Run a native program; returns @{ exit_code; stdout; stderr } (stdout_base64 instead of stdout with -RawStdout:
# its bytes, for Python to decode in the right code page). Never "& program 2>&1": in Windows PowerShell 5.1,
# under $ErrorActionPreference = 'Stop', the first line on stderr becomes a terminating NativeCommandError and
# the exit code is never looked at. Each argument is quoted for the C runtime; nothing passes through a shell.
function Invoke-Native([string]$FilePath, [string[]]$ArgumentList = @(), [double]$TimeoutSec = 300, [switch]$RawStdout) {
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.FileName = $FilePath
    $psi.Arguments = (@($ArgumentList | ForEach-Object { ConvertTo-NativeArgument ([string]$_) }) -join ' ')
    $psi.UseShellExecute = $false
    $psi.CreateNoWindow = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.StandardErrorEncoding = [Console]::OutputEncoding
    if (-not $RawStdout) { $psi.StandardOutputEncoding = [Console]::OutputEncoding }
    $process = [System.Diagnostics.Process]::Start($psi)
    try {
        $errTask = $process.StandardError.ReadToEndAsync()
        $buffer = New-Object System.IO.MemoryStream
        if ($RawStdout) { $outTask = $process.StandardOutput.BaseStream.CopyToAsync($buffer) }
        else { $outTask = $process.StandardOutput.ReadToEndAsync() }
        if (-not $process.WaitForExit([int]($TimeoutSec * 1000))) {
            try { $process.Kill() } catch { $null = $_ }
            throw ($FilePath + ' did not finish within ' + $TimeoutSec + ' s')
        }
        $process.WaitForExit()
        [void]$outTask.Wait()
        $result = @{ exit_code = [int]$process.ExitCode; stderr = [string]$errTask.Result }
        if ($RawStdout) { $result.stdout_base64 = [Convert]::ToBase64String($buffer.ToArray()) }
        else { $result.stdout = [string]$outTask.Result }
        return $result
    } finally {
        $process.Dispose()
    }
}

# The exit code of a native run in Windows' words (a Win32 error code), for a thrown message.
function Get-NativeFailure([string]$what, $run) {
    $text = ([string]$run.stderr).Trim()
    if (-not $text -and $run.ContainsKey('stdout')) { $text = ([string]$run.stdout).Trim() }
    if (-not $text) { $text = (New-Object System.ComponentModel.Win32Exception -ArgumentList ([int]$run.exit_code)).Message }
    return ($what + ' failed with exit code ' + $run.exit_code + ': ' + $text)
}
