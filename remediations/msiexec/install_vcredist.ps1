# Run one Visual C++ redistributable installer that the VMSnapshot extension ships, quietly and without a
# restart: C:\Packages\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot\<version>\<installer>.
# Exit codes 0, 3010 (a restart completes it) and 1638 (a newer one is installed) are success.
# Args: version (the extension folder; must parse as a version), installer (vcredist2013_x64.exe or
#       vcredist2012_x64.exe), timeout_s (default 600).
param($Params)

$root = 'C:\Packages\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot'
$allowed = @('vcredist2013_x64.exe', 'vcredist2012_x64.exe')
$version = [string]$Params.version
$installer = [string]$Params.installer
$timeout = 600
if ($null -ne $Params.timeout_s) { $timeout = [double]$Params.timeout_s }

$parsed = $null
if (-not [version]::TryParse($version, [ref]$parsed) -or $version -notmatch '^[0-9.]+$') {
    throw ("'" + $version + "' is not a VMSnapshot extension version folder")
}
if ($allowed -notcontains $installer) { throw ("'" + $installer + "' is not a redistributable installer this step runs") }
$path = Join-Path (Join-Path $root $version) $installer
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { throw ("the installer " + $path + " does not exist") }

$p = Start-Process -FilePath $path -ArgumentList @('/install', '/quiet', '/norestart') -PassThru -WindowStyle Hidden
if (-not $p.WaitForExit([int]($timeout * 1000))) { throw ($installer + ' did not finish within ' + $timeout + ' s') }
$code = [int]$p.ExitCode
if (@(0, 3010, 1638) -notcontains $code) {
    $text = (New-Object System.ComponentModel.Win32Exception -ArgumentList $code).Message
    throw ($installer + ' exited with ' + $code + ': ' + $text)
}
@{ path = $path; exit_code = $code; restart_needed = ($code -eq 3010) }
