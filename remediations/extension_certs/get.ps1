# List the certificates in Cert:\LocalMachine\My whose subject or issuer names one of args.names (the Azure
# extension certificates), with their public part (base64 DER) so that a journal can keep it.
# A certificate is "fresh" when its NotBefore is at or after args.newer_than (ISO 8601, UTC), i.e. the agent
# created it after the run started.
# Returns: certificates (list of thumbprint, subject, issuer, friendly_name, not_before, not_after,
#          has_private_key, der_b64, fresh).
# Args: names (list of strings), newer_than (ISO 8601 string, optional).
param($Params)

$names = @($Params.names | ForEach-Object { [string]$_ } | Where-Object { $_ })
if ($names.Count -eq 0) { throw 'no certificate names given' }
$since = $null
if ($Params.newer_than) {
    $since = [DateTime]::Parse([string]$Params.newer_than, [Globalization.CultureInfo]::InvariantCulture,
        [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal')
}

$found = @()
foreach ($cert in @(Get-ChildItem -Path 'Cert:\LocalMachine\My')) {
    $match = $false
    foreach ($n in $names) {
        if ($cert.Subject.IndexOf($n, [StringComparison]::OrdinalIgnoreCase) -ge 0 -or
            $cert.Issuer.IndexOf($n, [StringComparison]::OrdinalIgnoreCase) -ge 0) { $match = $true }
    }
    if (-not $match) { continue }
    $notBefore = $cert.NotBefore.ToUniversalTime()
    $fresh = $false
    if ($null -ne $since) { $fresh = ($notBefore -ge $since) }
    $found += @{
        thumbprint = [string]$cert.Thumbprint
        subject = [string]$cert.Subject
        issuer = [string]$cert.Issuer
        friendly_name = [string]$cert.FriendlyName
        not_before = $notBefore.ToString('yyyy-MM-ddTHH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture)
        not_after = $cert.NotAfter.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture)
        has_private_key = [bool]$cert.HasPrivateKey
        der_b64 = [Convert]::ToBase64String($cert.RawData)
        fresh = $fresh
    }
}
@{ certificates = @($found) }
