# Register Windows Installer again, as the troubleshooting page says: "msiexec /unregister", then
# "msiexec /regserver". Throws with the exit code and Windows' text when either fails.
# Args: timeout_s (seconds to wait for each msiexec run, default 120).
param($Params)

$timeout = 120
if ($null -ne $Params.timeout_s) { $timeout = [double]$Params.timeout_s }
$msiexec = Join-Path $env:SystemRoot 'System32\msiexec.exe'
$codes = @{}

foreach ($flag in @('/unregister', '/regserver')) {
    $p = Start-Process -FilePath $msiexec -ArgumentList $flag -PassThru -WindowStyle Hidden
    if (-not $p.WaitForExit([int]($timeout * 1000))) {
        throw ('msiexec ' + $flag + ' did not finish within ' + $timeout + ' s')
    }
    $code = [int]$p.ExitCode
    $codes[$flag.TrimStart([char]'/')] = $code
    if ($code -ne 0) {
        $text = (New-Object System.ComponentModel.Win32Exception -ArgumentList $code).Message
        throw ('msiexec ' + $flag + ' exited with ' + $code + ': ' + $text)
    }
}

$registered = $false
try {
    $installer = New-Object -ComObject WindowsInstaller.Installer
    $registered = $null -ne $installer
    [void][System.Runtime.InteropServices.Marshal]::ReleaseComObject($installer)
} catch {
    $registered = $false
}
@{ exit_codes = $codes; registered = $registered }
