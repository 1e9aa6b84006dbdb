# List the v* subkeys (the .NET Framework versions) under each given key, with the given values of each
# (64-bit view, so HKLM\SOFTWARE\WOW6432Node\... is the 32-bit side). A missing root key is reported, not thrown.
# Args: roots (list of HKLM\... paths), names (list of value names to read in each version key).
# Returns: roots = list of { path, exists, versions = list of { name, path, values = { NAME: {exists, type, data} } } }.
param($Params)

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
                        foreach ($n in $names) { $values[$n] = Read-RegistryValue $key $n }
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
