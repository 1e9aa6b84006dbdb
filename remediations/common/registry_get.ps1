# Read one registry value (64-bit view). The path (HKLM\SOFTWARE\...) and the value name arrive as data.
# Returns key_exists, exists, type (REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_QWORD, REG_MULTI_SZ, REG_BINARY) and
# data (numbers unsigned, REG_EXPAND_SZ unexpanded, REG_MULTI_SZ a list, REG_BINARY a list of bytes).
# Args: path (string), name (string; '' is the key's default value).
param($Params)

$path = [string]$Params.path
$name = [string]$Params.name
$where = Resolve-RegistryPath $path
$subPath = $where.sub_path

$result = @{ path = $path; name = $name; key_exists = $false; exists = $false; type = $null; data = $null }
$base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($where.hive, [Microsoft.Win32.RegistryView]::Registry64)
try {
    $key = $base.OpenSubKey($subPath, $false)
    if ($null -eq $key) { return $result }
    try {
        $result.key_exists = $true
        $value = Read-RegistryValue $key $name
        $result.exists = $value.exists
        $result.type = $value.type
        $result.data = $value.data
    } finally {
        $key.Close()
    }
} finally {
    $base.Close()
}
$result
