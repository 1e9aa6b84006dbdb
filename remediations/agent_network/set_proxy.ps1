# Set the WinHTTP proxy (netsh winhttp set proxy), or reset it to direct access when proxy is empty.
# netsh runs through Invoke-Native: its exit code decides, whatever it writes on stderr.
# Args: proxy ("host:port" or ""), bypass ("" or a netsh bypass list).
param($a)
$proxy = [string]$a.proxy
$bypass = [string]$a.bypass
$netsh = Join-Path -Path $env:SystemRoot -ChildPath 'System32\netsh.exe'
if ($proxy -eq '') {
    $run = Invoke-Native $netsh @('winhttp', 'reset', 'proxy') 60
} elseif ($bypass -ne '') {
    $run = Invoke-Native $netsh @('winhttp', 'set', 'proxy', ('proxy-server=' + $proxy), ('bypass-list=' + $bypass)) 60
} else {
    $run = Invoke-Native $netsh @('winhttp', 'set', 'proxy', ('proxy-server=' + $proxy)) 60
}
if ($run.exit_code -ne 0) {
    throw (Get-NativeFailure 'netsh winhttp' $run)
}
return @{ proxy = $proxy; bypass = $bypass }
