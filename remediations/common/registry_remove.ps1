# Remove one registry value (64-bit view); used to undo setting a value that did not exist. A missing key or
# value is not an error. Returns the value that was removed.
# Args: path (HKLM\...), name (string).
param($Params)

$path = [string]$Params.path
$name = [string]$Params.name
$where = Resolve-RegistryPath $path
if ($where.sub_path -eq '') { throw ("refusing to change the root of " + $where.hive_name) }
$subPath = $where.sub_path

$previous = @{ exists = $false; type = $null; data = $null }
$removed = $false
$base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($where.hive, [Microsoft.Win32.RegistryView]::Registry64)
try {
    $key = $base.OpenSubKey($subPath, $true)
    if ($null -ne $key) {
        try {
            if (@($key.GetValueNames()) -contains $name) {
                $previous = Read-RegistryValue $key $name
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
