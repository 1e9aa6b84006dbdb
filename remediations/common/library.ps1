# remediate's PowerShell library: functions shared by the packaged scripts. The bootstrap dot-sources it before
# it runs a script, the way remediations/common/prelude.sh precedes every sh script. Definitions only: it must
# write nothing and change nothing when it is loaded.

# Run a native program and keep its output as the bytes it wrote: @{exit_code; stdout_base64; stderr_base64}. Console programs write in the OEM code page (vssadmin, sc, netsh) or whatever they choose, and
# PowerShell would decode them with [Console]::OutputEncoding (65001 under remediate's shell), turning cp932
# or cp850 text into U+FFFD. The operator's side decodes them (remediate/connection/codepage.py). A program
# still running after TimeoutSec is killed and reported (vssadmin waits on a stuck VSS service).
function Invoke-NativeBytes([string]$FilePath, [string[]]$ArgumentList = @(), [double]$TimeoutSec = 300) {
    $quoted = foreach ($arg in $ArgumentList) {
        if ($arg.Length -gt 0 -and $arg -notmatch '[\s"]') { $arg; continue }
        # CommandLineToArgvW: backslashes are literal unless they precede a quote.
        '"' + ([regex]::Replace($arg, '(\\*)("|$)', { param($m) $m.Groups[1].Value + $m.Groups[1].Value + $(if ($m.Groups[2].Value) { '\"' } else { '' }) })) + '"'
    }
    $info = New-Object System.Diagnostics.ProcessStartInfo
    $info.FileName = $FilePath
    $info.Arguments = [string]::Join(' ', [string[]]@($quoted))
    $info.UseShellExecute = $false
    $info.CreateNoWindow = $true
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($info)
    $out = New-Object System.IO.MemoryStream
    $err = New-Object System.IO.MemoryStream
    $copies = @($process.StandardOutput.BaseStream.CopyToAsync($out), $process.StandardError.BaseStream.CopyToAsync($err))
    if (-not $process.WaitForExit([int]($TimeoutSec * 1000))) {
        try { $process.Kill() } catch { $null = $_ }
        throw ($FilePath + ' did not finish within ' + $TimeoutSec + ' s and was stopped')
    }
    [void][System.Threading.Tasks.Task]::WaitAll([System.Threading.Tasks.Task[]]$copies)
    return @{
        exit_code = [int]$process.ExitCode
        stdout_base64 = [Convert]::ToBase64String($out.ToArray())
        stderr_base64 = [Convert]::ToBase64String($err.ToArray())
    }
}

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
function Get-ExitReason([string]$serviceName, [string]$missing = 'the service does not exist') {
    $now = Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $serviceName } | Select-Object -First 1
    if ($null -eq $now) { return $missing }
    $code = [int]$now.ExitCode
    if ($code -eq 1066) { return ('service-specific error ' + [int]$now.ServiceSpecificExitCode) }
    if ($code -ne 0) { return (New-Object System.ComponentModel.Win32Exception -ArgumentList $code).Message }
    return ('it is ' + [string]$now.State)
}
