# Read one registry value (64-bit view). The path (HKLM\SOFTWARE\...) and the value name arrive as data.
# Returns key_exists, exists, type (REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_QWORD, REG_MULTI_SZ, REG_BINARY) and
# data (numbers unsigned, REG_EXPAND_SZ unexpanded, REG_MULTI_SZ a list, REG_BINARY a list of bytes).
# Args: path (string), name (string; '' is the key's default value).
param($Params)

$path = [string]$Params.path
$name = [string]$Params.name
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

$parts = $path.Split([char[]]@([char]'\'), 2)
$hiveName = $parts[0].ToUpperInvariant()
if (-not $hives.ContainsKey($hiveName)) { throw "unknown registry hive in '$path' (use HKLM\..., HKCU\..., HKU\... or HKCR\...)" }
$subPath = ''
if ($parts.Count -gt 1) { $subPath = $parts[1].Trim([char]'\') }

$result = @{ path = $path; name = $name; key_exists = $false; exists = $false; type = $null; data = $null }
$base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hives[$hiveName], [Microsoft.Win32.RegistryView]::Registry64)
try {
    $key = $base.OpenSubKey($subPath, $false)
    if ($null -eq $key) { return $result }
    try {
        $result.key_exists = $true
        if (@($key.GetValueNames()) -notcontains $name) { return $result }
        $kind = [string]$key.GetValueKind($name)
        $raw = $key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
        $type = $kinds[$kind]
        if ($null -eq $type) { $type = 'REG_' + $kind.ToUpperInvariant() }
        $data = $raw
        if ($type -eq 'REG_DWORD') { $data = [BitConverter]::ToUInt32([BitConverter]::GetBytes([int32]$raw), 0) }
        elseif ($type -eq 'REG_QWORD') { $data = [BitConverter]::ToUInt64([BitConverter]::GetBytes([int64]$raw), 0) }
        elseif ($type -eq 'REG_MULTI_SZ') { $data = @($raw) }
        elseif ($type -eq 'REG_BINARY' -or $type -eq 'REG_NONE') { $data = @($raw | ForEach-Object { [int]$_ }) }
        else { $data = [string]$raw }
        $result.exists = $true
        $result.type = $type
        $result.data = $data
    } finally {
        $key.Close()
    }
} finally {
    $base.Close()
}
$result
