# Delete certificates from Cert:\LocalMachine\My by thumbprint, with their private keys. When the key cannot be
# deleted because its file cannot be read (what made the certificate useless), the certificate is removed
# without it and the key is reported as orphaned (its file stays in MachineKeys). A thumbprint that is already
# gone is reported, not an error. Each removal is read back.
# Returns: removed, absent (lists of thumbprints), orphaned_keys (list of thumbprint, error).
# Args: thumbprints (list of 40-hex-digit strings).
param($Params)

$thumbs = @($Params.thumbprints | ForEach-Object { [string]$_ })
if ($thumbs.Count -eq 0) { throw 'no thumbprints given' }
foreach ($t in $thumbs) {
    if ($t -notmatch '^[0-9A-Fa-f]{40}$') { throw "not a certificate thumbprint: '$t'" }
}
$removed = @()
$absent = @()
$orphaned = @()
foreach ($t in $thumbs) {
    $item = Join-Path -Path 'Cert:\LocalMachine\My' -ChildPath $t.ToUpperInvariant()
    if (-not (Test-Path -LiteralPath $item)) {
        $absent += $t
        continue
    }
    try {
        Remove-Item -LiteralPath $item -DeleteKey -ErrorAction Stop
    } catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        $keyError = ('0x{0:X8} {1}' -f $inner.HResult, $inner.Message)
        # The key file is unreadable: remove the certificate alone (a failure here is thrown); the key stays
        # behind, reported.
        if (Test-Path -LiteralPath $item) { Remove-Item -LiteralPath $item -ErrorAction Stop }
        $orphaned += @{ thumbprint = $t; error = $keyError }
    }
    if (Test-Path -LiteralPath $item) { throw "certificate $t is still in Cert:\LocalMachine\My after removal" }
    $removed += $t
}
@{ removed = @($removed); absent = @($absent); orphaned_keys = @($orphaned) }
