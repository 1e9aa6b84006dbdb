# Remove one registry value (64-bit view); used to undo setting a value that did not exist. A missing key or
# value is not an error. Returns the value that was removed.
# Args: path (HKLM\...), name (string).
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
if ($parts.Count -lt 2 -or $parts[1].Trim([char]'\') -eq '') { throw "refusing to change the root of $hiveName" }
$subPath = $parts[1].Trim([char]'\')

$previous = @{ exists = $false; type = $null; data = $null }
$removed = $false
$base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hives[$hiveName], [Microsoft.Win32.RegistryView]::Registry64)
try {
    $key = $base.OpenSubKey($subPath, $true)
    if ($null -ne $key) {
        try {
            if (@($key.GetValueNames()) -contains $name) {
                $kind = [string]$key.GetValueKind($name)
                $t = $kinds[$kind]
                if ($null -eq $t) { $t = 'REG_' + $kind.ToUpperInvariant() }
                $raw = $key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
                $d = $raw
                if ($t -eq 'REG_DWORD') { $d = [BitConverter]::ToUInt32([BitConverter]::GetBytes([int32]$raw), 0) }
                elseif ($t -eq 'REG_QWORD') { $d = [BitConverter]::ToUInt64([BitConverter]::GetBytes([int64]$raw), 0) }
                elseif ($t -eq 'REG_MULTI_SZ') { $d = @($raw) }
                elseif ($t -eq 'REG_BINARY' -or $t -eq 'REG_NONE') { $d = @($raw | ForEach-Object { [int]$_ }) }
                else { $d = [string]$raw }
                $previous = @{ exists = $true; type = $t; data = $d }
                $key.DeleteValue($name, $false)
                $removed = $true
            }
        } finally {
            $key.Close()
        }
    }
} finally {
    $base.Close()
}
@{ path = $path; name = $name; removed = $removed; previous = $previous }
