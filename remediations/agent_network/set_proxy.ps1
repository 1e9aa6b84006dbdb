# Set the WinHTTP proxy (netsh winhttp set proxy), or reset it to direct access when proxy is empty.
# Args: proxy ("host:port" or ""), bypass ("" or a netsh bypass list).
param($a)
$proxy = [string]$a.proxy
$bypass = [string]$a.bypass
if ($proxy -eq '') {
    $out = & netsh.exe winhttp reset proxy 2>&1
} elseif ($bypass -ne '') {
    $out = & netsh.exe winhttp set proxy "proxy-server=$proxy" "bypass-list=$bypass" 2>&1
} else {
    $out = & netsh.exe winhttp set proxy "proxy-server=$proxy" 2>&1
}
if ($LASTEXITCODE -ne 0) {
    throw ('netsh winhttp failed: ' + ($out -join ' '))
}
return @{ proxy = $proxy; bypass = $bypass }
