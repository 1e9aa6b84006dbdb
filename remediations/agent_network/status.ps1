# Network paths the agent and the backup extension need (Windows PowerShell 5.1).
# Args: targets (array of "HOST:PORT"), names (array). Returns reachability ("ok", "refused" when the host answered
# with a reset, "no answer within 5 seconds", else the socket error), DNS, adapters, routes and the WinHTTP proxy
# with its bypass list, read from its registry value (locale-independent, unlike netsh's text).
param($a)
$reach = @{}
foreach ($t in @($a.targets)) {
    $i = $t.LastIndexOf(':')
    $h = $t.Substring(0, $i)
    $p = [int]$t.Substring($i + 1)
    $client = New-Object System.Net.Sockets.TcpClient
    try {
        $async = $client.BeginConnect($h, $p, $null, $null)
        if ($async.AsyncWaitHandle.WaitOne(5000, $false)) {
            $client.EndConnect($async)  # throws the socket's own error (a refusal) when the connect failed
            $reach[$t] = 'ok'
        } else {
            $reach[$t] = 'no answer within 5 seconds'
        }
    } catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        if ($inner -is [System.Net.Sockets.SocketException] -and $inner.SocketErrorCode -eq [System.Net.Sockets.SocketError]::ConnectionRefused) {
            $reach[$t] = 'refused'
        } else {
            $reach[$t] = $inner.Message
        }
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
$bypass = $null
$key = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections'
$blob = (Get-ItemProperty -Path $key -Name WinHttpSettings -ErrorAction SilentlyContinue).WinHttpSettings
if ($blob -and $blob.Length -ge 16) {
    $flags = [BitConverter]::ToInt32($blob, 8)
    $len = [BitConverter]::ToInt32($blob, 12)
    if (($flags -band 2) -and $len -gt 0) {
        $proxy = [System.Text.Encoding]::ASCII.GetString($blob, 16, $len)
        $at = 16 + $len
        if ($blob.Length -ge $at + 4) {
            $bypassLen = [BitConverter]::ToInt32($blob, $at)
            if ($bypassLen -gt 0 -and $blob.Length -ge $at + 4 + $bypassLen) {
                $bypass = [System.Text.Encoding]::ASCII.GetString($blob, $at + 4, $bypassLen)
            }
        }
    }
}
return @{ reachable = $reach; dns = $dns; adapters = $adapters; routes = $routes; winhttp_proxy = $proxy; winhttp_bypass = $bypass }
