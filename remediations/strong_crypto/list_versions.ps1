# List the v* subkeys (the .NET Framework versions) under each given key, with the given values of each
# (64-bit view, so HKLM\SOFTWARE\WOW6432Node\... is the 32-bit side). A missing root key is reported, not thrown.
# Args: roots (list of HKLM\... paths), names (list of value names to read in each version key).
# Returns: roots = list of { path, exists, versions = list of { name, path, values = { NAME: {exists, type, data} } } }.
param($Params)

$kinds = @{
    'String' = 'REG_SZ'; 'ExpandString' = 'REG_EXPAND_SZ'; 'DWord' = 'REG_DWORD'; 'QWord' = 'REG_QWORD'
    'MultiString' = 'REG_MULTI_SZ'; 'Binary' = 'REG_BINARY'; 'None' = 'REG_NONE'
}

function Read-Value($key, [string]$valueName) {
    $out = @{ exists = $false; type = $null; data = $null }
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

$names = @($Params.names | ForEach-Object { [string]$_ })
$roots = New-Object System.Collections.ArrayList
$base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, [Microsoft.Win32.RegistryView]::Registry64)
try {
    foreach ($rootPath in @($Params.roots)) {
        $rootPath = [string]$rootPath
        $parts = $rootPath.Split([char[]]@([char]'\'), 2)
        if ($parts.Count -lt 2 -or @('HKLM', 'HKEY_LOCAL_MACHINE') -notcontains $parts[0].ToUpperInvariant()) {
            throw "only HKLM\... keys can be listed, not '$rootPath'"
        }
        $entry = @{ path = $rootPath; exists = $false; versions = (New-Object System.Collections.ArrayList) }
        $root = $base.OpenSubKey($parts[1].Trim([char]'\'), $false)
        if ($null -ne $root) {
            try {
                $entry.exists = $true
                foreach ($sub in @($root.GetSubKeyNames() | Where-Object { $_ -like 'v*' } | Sort-Object)) {
                    $key = $root.OpenSubKey($sub, $false)
                    if ($null -eq $key) { continue }
                    try {
                        $values = @{}
                        foreach ($n in $names) { $values[$n] = Read-Value $key $n }
                        [void]$entry.versions.Add(@{ name = [string]$sub; path = ($rootPath.TrimEnd([char]'\') + '\' + $sub); values = $values })
                    } finally {
                        $key.Close()
                    }
                }
            } finally {
                $root.Close()
            }
        }
        [void]$roots.Add($entry)
    }
} finally {
    $base.Close()
}
@{ roots = $roots }
