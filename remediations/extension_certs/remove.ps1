# Delete certificates from Cert:\LocalMachine\My by thumbprint (and their private keys with them).
# A thumbprint that is already gone is reported, not an error. Each removal is read back.
# Returns: removed, absent (lists of thumbprints).
# Args: thumbprints (list of 40-hex-digit strings).
param($Params)

$thumbs = @($Params.thumbprints | ForEach-Object { [string]$_ })
if ($thumbs.Count -eq 0) { throw 'no thumbprints given' }
foreach ($t in $thumbs) {
    if ($t -notmatch '^[0-9A-Fa-f]{40}$') { throw "not a certificate thumbprint: '$t'" }
}
$removed = @()
$absent = @()
foreach ($t in $thumbs) {
    $item = Join-Path -Path 'Cert:\LocalMachine\My' -ChildPath $t.ToUpperInvariant()
    if (-not (Test-Path -LiteralPath $item)) {
        $absent += $t
        continue
    }
    Remove-Item -LiteralPath $item -DeleteKey -ErrorAction Stop
    if (Test-Path -LiteralPath $item) { throw "certificate $t is still in Cert:\LocalMachine\My after removal" }
    $removed += $t
}
@{ removed = @($removed); absent = @($absent) }
