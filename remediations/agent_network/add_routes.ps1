# Add routes PREFIX -> NEXT_HOP where they are missing (New-NetRoute; persistent). Args: routes (array), next_hop.
param($a)
$hop = [string]$a.next_hop
$iface = (Find-NetRoute -RemoteIPAddress $hop -ErrorAction Stop | Select-Object -First 1).InterfaceIndex
$added = @()
foreach ($prefix in @($a.routes)) {
    $have = Get-NetRoute -DestinationPrefix $prefix -AddressFamily IPv4 -ErrorAction SilentlyContinue | Where-Object { $_.NextHop -eq $hop }
    if (-not $have) {
        New-NetRoute -DestinationPrefix $prefix -NextHop $hop -InterfaceIndex $iface -ErrorAction Stop | Out-Null
        $added += $prefix
    }
}
return @{ added = $added; next_hop = $hop; interface_index = [int]$iface }
