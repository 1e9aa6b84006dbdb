# Network paths the agent and the backup extension need (Windows PowerShell 5.1).
# Args: targets (array of "HOST:PORT"), names (array). Returns reachability, DNS, adapters, routes and the WinHTTP
# proxy read from its registry value (locale-independent, unlike netsh's text).
param($a)
$reach = @{}
foreach ($t in @($a.targets)) {
    $i = $t.LastIndexOf(':')
    $h = $t.Substring(0, $i)
    $p = [int]$t.Substring($i + 1)
    $client = New-Object System.Net.Sockets.TcpClient
    try {
        $async = $client.BeginConnect($h, $p, $null, $null)
        if ($async.AsyncWaitHandle.WaitOne(5000, $false) -and $client.Connected) {
            $reach[$t] = 'ok'
        } else {
            $reach[$t] = 'no answer within 5 seconds'
        }
    } catch {
        $reach[$t] = $_.Exception.Message
    } finally {
        $client.Close()
    }
}
$dns = @{}
foreach ($n in @($a.names)) {
    try {
        $addr = [System.Net.Dns]::GetHostAddresses($n) | Where-Object { $_.AddressFamily -eq 'InterNetwork' } | Select-Object -First 1
        if ($addr) { $dns[$n] = $addr.IPAddressToString } else { $dns[$n] = $null }
    } catch {
        $dns[$n] = $null
    }
}
$adapters = @()
foreach ($if in @(Get-NetIPInterface -AddressFamily IPv4 -ErrorAction SilentlyContinue | Where-Object { $_.InterfaceAlias -notlike 'Loopback*' })) {
    $ip = Get-NetIPAddress -InterfaceIndex $if.ifIndex -AddressFamily IPv4 -ErrorAction SilentlyContinue | Select-Object -First 1
    $adapters += @{ name = $if.InterfaceAlias; index = [int]$if.ifIndex; dhcp = ([string]$if.Dhcp -eq 'Enabled'); ipv4 = [string]$ip.IPAddress }
}
$routes = @()
foreach ($r in @(Get-NetRoute -AddressFamily IPv4 -ErrorAction SilentlyContinue)) {
    $routes += @{ prefix = $r.DestinationPrefix; next_hop = $r.NextHop; interface_index = [int]$r.ifIndex; metric = [int]$r.RouteMetric }
}
$proxy = $null
$key = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections'
$blob = (Get-ItemProperty -Path $key -Name WinHttpSettings -ErrorAction SilentlyContinue).WinHttpSettings
if ($blob -and $blob.Length -ge 16) {
    $flags = [BitConverter]::ToInt32($blob, 8)
    $len = [BitConverter]::ToInt32($blob, 12)
    if (($flags -band 2) -and $len -gt 0) {
        $proxy = [System.Text.Encoding]::ASCII.GetString($blob, 16, $len)
    }
}
return @{ reachable = $reach; dns = $dns; adapters = $adapters; routes = $routes; winhttp_proxy = $proxy }
