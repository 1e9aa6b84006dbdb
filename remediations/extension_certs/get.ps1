# List the certificates in Cert:\LocalMachine\My whose subject or issuer names one of args.names (the Azure
# extension certificates), with their public part (base64 DER) so that a journal can keep it, and whether the
# private key can be opened: key_state "ok", "none" (no private key), "unusable" (opening it fails, as with
# "Keyset does not exist" after the MachineKeys permissions changed; key_error is the HRESULT in hex and the
# message) or "unknown" (not an RSA key: not judged, never deleted for it).
# Returns: certificates (list of thumbprint, subject, issuer, friendly_name, not_before, not_after,
#          has_private_key, key_state, key_error, der_b64).
# Args: names (list of strings).
param($Params)

$names = @($Params.names | ForEach-Object { [string]$_ } | Where-Object { $_ })
if ($names.Count -eq 0) { throw 'no certificate names given' }

function Test-PrivateKey($cert) {
    if (-not $cert.HasPrivateKey) { return @{ state = 'none'; error = $null } }
    try {
        $key = $null
        $rsa = 'System.Security.Cryptography.X509Certificates.RSACertificateExtensions' -as [type]
        if ($null -ne $rsa) { $key = $rsa::GetRSAPrivateKey($cert) }  # .NET 4.6: CAPI and CNG keys
        else { $key = $cert.PrivateKey }
        if ($null -eq $key) { return @{ state = 'unknown'; error = $null } }
        if ($key -is [System.IDisposable]) { $key.Dispose() }
        return @{ state = 'ok'; error = $null }
    } catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        return @{ state = 'unusable'; error = ('0x{0:X8} {1}' -f $inner.HResult, $inner.Message) }
    }
}

$found = @()
foreach ($cert in @(Get-ChildItem -Path 'Cert:\LocalMachine\My')) {
    $match = $false
    foreach ($n in $names) {
        if ($cert.Subject.IndexOf($n, [StringComparison]::OrdinalIgnoreCase) -ge 0 -or
            $cert.Issuer.IndexOf($n, [StringComparison]::OrdinalIgnoreCase) -ge 0) { $match = $true }
    }
    if (-not $match) { continue }
    $key = Test-PrivateKey $cert
    $found += @{
        thumbprint = [string]$cert.Thumbprint
        subject = [string]$cert.Subject
        issuer = [string]$cert.Issuer
        friendly_name = [string]$cert.FriendlyName
        not_before = $cert.NotBefore.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture)
        not_after = $cert.NotAfter.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture)
        has_private_key = [bool]$cert.HasPrivateKey
        key_state = $key.state
        key_error = $key.error
        der_b64 = [Convert]::ToBase64String($cert.RawData)
    }
}
@{ certificates = @($found) }
