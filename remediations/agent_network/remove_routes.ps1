# Undo of add_routes.ps1: remove the routes PREFIX -> NEXT_HOP. Args: routes (array), next_hop.
param($a)
$hop = [string]$a.next_hop
$removed = @()
foreach ($prefix in @($a.routes)) {
    $have = Get-NetRoute -DestinationPrefix $prefix -AddressFamily IPv4 -ErrorAction SilentlyContinue | Where-Object { $_.NextHop -eq $hop }
    if ($have) {
        $have | Remove-NetRoute -Confirm:$false -ErrorAction Stop
        $removed += $prefix
    }
}
return @{ removed = $removed }
