# Read what Windows Installer needs for the backup extension's Visual C++ redistributable: whether the
# installer is registered (service msiserver exists and the WindowsInstaller.Installer COM class can be
# created), which x64 redistributables are installed (VC\Runtimes\x64 "Installed" in either registry view),
# and the version folders of the VMSnapshot extension with the redistributable installers each one ships.
# Args: none.
param($Params)

$root = 'C:\Packages\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot'
$installers = @('vcredist2013_x64.exe', 'vcredist2012_x64.exe')
$runtimes = @{ '2012_x64' = '11.0'; '2013_x64' = '12.0' }

$serviceExists = $null -ne (Get-ServiceController 'msiserver')
$comRegistered = $false
try {
    $installer = New-Object -ComObject WindowsInstaller.Installer
    $comRegistered = $null -ne $installer
    [void][System.Runtime.InteropServices.Marshal]::ReleaseComObject($installer)
} catch {
    $comRegistered = $false
}

$redist = @{}
foreach ($id in $runtimes.Keys) {
    $found = $false
    foreach ($view in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $view)
        try {
            $key = $base.OpenSubKey('SOFTWARE\Microsoft\VisualStudio\' + $runtimes[$id] + '\VC\Runtimes\x64', $false)
            if ($null -ne $key) {
                try {
                    if ([int]$key.GetValue('Installed', 0) -eq 1) { $found = $true }
                } finally {
                    $key.Close()
                }
            }
        } finally {
            $base.Close()
        }
    }
    $redist[$id] = $found
}

$folders = New-Object System.Collections.ArrayList
$rootExists = Test-Path -LiteralPath $root -PathType Container
if ($rootExists) {
    foreach ($dir in @(Get-ChildItem -LiteralPath $root -Directory -ErrorAction SilentlyContinue)) {
        $parsed = $null
        if (-not [version]::TryParse([string]$dir.Name, [ref]$parsed)) { continue }
        $present = New-Object System.Collections.ArrayList
        foreach ($name in $installers) {
            if (Test-Path -LiteralPath (Join-Path $dir.FullName $name) -PathType Leaf) { [void]$present.Add($name) }
        }
        [void]$folders.Add(@{ name = [string]$dir.Name; installers = $present })
    }
}

@{
    service_exists = $serviceExists
    installer_registered = ($serviceExists -and $comRegistered)
    redist = $redist
    root = $root
    root_exists = $rootExists
    folders = $folders
}
