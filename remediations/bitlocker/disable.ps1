# Turn BitLocker protection off on one volume (Disable-BitLocker: the volume is decrypted in the background),
# as the troubleshooting page says for ExtensionSnapshotBitlockerError. A locked volume must be unlocked first;
# Disable-BitLocker's own error says so.
# Returns: mount_point, protection_status (0 Off), volume_status (3 DecryptionInProgress, 0 FullyDecrypted).
# Args: mount_point (string).
param($Params)

$mp = [string]$Params.mount_point
if (-not $mp) { throw 'no mount point given' }
$volume = Get-BitLockerVolume -MountPoint $mp -ErrorAction Stop
if ([int]$volume.VolumeStatus -ne 0 -and [int]$volume.VolumeStatus -ne 3) {
    try {
        Disable-BitLocker -MountPoint $mp -ErrorAction Stop | Out-Null
    } catch {
        throw ('Disable-BitLocker failed for ' + $mp + ': ' + $_.Exception.Message)
    }
}
$after = Get-BitLockerVolume -MountPoint $mp -ErrorAction Stop
@{ mount_point = $mp; protection_status = [int]$after.ProtectionStatus; volume_status = [int]$after.VolumeStatus }
