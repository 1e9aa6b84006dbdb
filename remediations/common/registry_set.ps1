# Set one registry value (64-bit view), creating the key when it is missing. Returns the previous value
# (exists, type, data) and the new one, so that the change can be undone.
# Args: path (HKLM\...), name (string), type (REG_SZ|REG_EXPAND_SZ|REG_DWORD|REG_QWORD|REG_MULTI_SZ|REG_BINARY),
#       data (string; unsigned number; list of strings; list of bytes).
param($Params)

$path = [string]$Params.path
$name = [string]$Params.name
$type = [string]$Params.type
$hives = @{
    'HKLM' = [Microsoft.Win32.RegistryHive]::LocalMachine; 'HKEY_LOCAL_MACHINE' = [Microsoft.Win32.RegistryHive]::LocalMachine
    'HKCU' = [Microsoft.Win32.RegistryHive]::CurrentUser; 'HKEY_CURRENT_USER' = [Microsoft.Win32.RegistryHive]::CurrentUser
    'HKU' = [Microsoft.Win32.RegistryHive]::Users; 'HKEY_USERS' = [Microsoft.Win32.RegistryHive]::Users
    'HKCR' = [Microsoft.Win32.RegistryHive]::ClassesRoot; 'HKEY_CLASSES_ROOT' = [Microsoft.Win32.RegistryHive]::ClassesRoot
}
$kinds = @{
    'String' = 'REG_SZ'; 'ExpandString' = 'REG_EXPAND_SZ'; 'DWord' = 'REG_DWORD'; 'QWord' = 'REG_QWORD'
    'MultiString' = 'REG_MULTI_SZ'; 'Binary' = 'REG_BINARY'; 'None' = 'REG_NONE'
}
$toKind = @{
    'REG_SZ' = [Microsoft.Win32.RegistryValueKind]::String; 'REG_EXPAND_SZ' = [Microsoft.Win32.RegistryValueKind]::ExpandString
    'REG_DWORD' = [Microsoft.Win32.RegistryValueKind]::DWord; 'REG_QWORD' = [Microsoft.Win32.RegistryValueKind]::QWord
    'REG_MULTI_SZ' = [Microsoft.Win32.RegistryValueKind]::MultiString; 'REG_BINARY' = [Microsoft.Win32.RegistryValueKind]::Binary
}
if (-not $toKind.ContainsKey($type)) { throw "unknown registry value type '$type'" }

function Read-Value($key, [string]$valueName) {
    $out = @{ exists = $false; type = $null; data = $null }
    if ($null -eq $key) { return $out }
    if (@($key.GetValueNames()) -notcontains $valueName) { return $out }
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

$parts = $path.Split([char[]]@([char]'\'), 2)
$hiveName = $parts[0].ToUpperInvariant()
if (-not $hives.ContainsKey($hiveName)) { throw "unknown registry hive in '$path' (use HKLM\..., HKCU\..., HKU\... or HKCR\...)" }
if ($parts.Count -lt 2 -or $parts[1].Trim([char]'\') -eq '') { throw "refusing to write a value at the root of $hiveName" }
$subPath = $parts[1].Trim([char]'\')

$value = $Params.data
if ($type -eq 'REG_DWORD') {
    $n = [uint64]$value
    if ($n -gt 4294967295) { throw "REG_DWORD data out of range: $n" }
    $value = [BitConverter]::ToInt32([BitConverter]::GetBytes([uint32]$n), 0)
} elseif ($type -eq 'REG_QWORD') {
    $value = [BitConverter]::ToInt64([BitConverter]::GetBytes([uint64]$value), 0)
} elseif ($type -eq 'REG_MULTI_SZ') {
    $value = [string[]]@($value | ForEach-Object { [string]$_ })
} elseif ($type -eq 'REG_BINARY') {
    $value = [byte[]]@($value | ForEach-Object { [byte]$_ })
} else {
    $value = [string]$value
}

$base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hives[$hiveName], [Microsoft.Win32.RegistryView]::Registry64)
try {
    $existing = $base.OpenSubKey($subPath, $false)
    $keyExisted = $null -ne $existing
    $previous = Read-Value $existing $name
    if ($null -ne $existing) { $existing.Close() }
    $key = $base.CreateSubKey($subPath)
    if ($null -eq $key) { throw "could not open or create the key $path" }
    try {
        $key.SetValue($name, $value, $toKind[$type])
        $current = Read-Value $key $name
    } finally {
        $key.Close()
    }
} finally {
    $base.Close()
}
@{ path = $path; name = $name; key_existed = $keyExisted; previous = $previous; current = $current }
