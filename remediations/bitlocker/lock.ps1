# Lock one BitLocker data volume again (Lock-BitLocker -ForceDismount): the undo of an unlock.
# Returns: mount_point, lock_status (1 Locked).
# Args: mount_point (string).
param($Params)

$mp = [string]$Params.mount_point
if (-not $mp) { throw 'no mount point given' }
$volume = Get-BitLockerVolume -MountPoint $mp -ErrorAction Stop
if ([int]$volume.LockStatus -ne 1) {
    try {
        Lock-BitLocker -MountPoint $mp -ForceDismount -ErrorAction Stop | Out-Null
    } catch {
        throw ('Lock-BitLocker failed for ' + $mp + ': ' + $_.Exception.Message)
    }
}
$after = Get-BitLockerVolume -MountPoint $mp -ErrorAction Stop
@{ mount_point = $mp; lock_status = [int]$after.LockStatus }
