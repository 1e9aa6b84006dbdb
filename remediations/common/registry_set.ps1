# Set one registry value (64-bit view), creating the key when it is missing. Returns the previous value
# (exists, type, data) and the new one, so that the change can be undone.
# Args: path (HKLM\...), name (string), type (REG_SZ|REG_EXPAND_SZ|REG_DWORD|REG_QWORD|REG_MULTI_SZ|REG_BINARY),
#       data (string; unsigned number; list of strings; list of bytes).
param($Params)

$path = [string]$Params.path
$name = [string]$Params.name
$type = [string]$Params.type
$toKind = @{
    'REG_SZ' = [Microsoft.Win32.RegistryValueKind]::String; 'REG_EXPAND_SZ' = [Microsoft.Win32.RegistryValueKind]::ExpandString
    'REG_DWORD' = [Microsoft.Win32.RegistryValueKind]::DWord; 'REG_QWORD' = [Microsoft.Win32.RegistryValueKind]::QWord
    'REG_MULTI_SZ' = [Microsoft.Win32.RegistryValueKind]::MultiString; 'REG_BINARY' = [Microsoft.Win32.RegistryValueKind]::Binary
}
if (-not $toKind.ContainsKey($type)) { throw "unknown registry value type '$type'" }

$where = Resolve-RegistryPath $path
if ($where.sub_path -eq '') { throw ("refusing to write a value at the root of " + $where.hive_name) }
$subPath = $where.sub_path

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

$base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($where.hive, [Microsoft.Win32.RegistryView]::Registry64)
try {
    $existing = $base.OpenSubKey($subPath, $false)
    $keyExisted = $null -ne $existing
    $previous = Read-RegistryValue $existing $name
    if ($null -ne $existing) { $existing.Close() }
    $key = $base.CreateSubKey($subPath)
    if ($null -eq $key) { throw "could not open or create the key $path" }
    try {
        $key.SetValue($name, $value, $toKind[$type])
        $current = Read-RegistryValue $key $name
    } finally {
        $key.Close()
    }
} finally {
    $base.Close()
}
@{ path = $path; name = $name; key_existed = $keyExisted; previous = $previous; current = $current }
