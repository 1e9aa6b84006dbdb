# Unlock one BitLocker volume with a recovery password (Unlock-BitLocker -RecoveryPassword).
# The password arrives as data, is never written to any output, and is masked in any error text.
# A volume that is already unlocked is left as it is.
# Returns: mount_point, lock_status (0 Unlocked), changed.
# Args: mount_point (string), recovery_password (string: 8 groups of 6 digits).
param($Params)

$mp = [string]$Params.mount_point
$pw = [string]$Params.recovery_password
if (-not $mp) { throw 'no mount point given' }
if ($pw -notmatch '^[0-9]{6}(-[0-9]{6}){7}$') { throw 'the recovery password is not 8 groups of 6 digits' }

$volume = Get-BitLockerVolume -MountPoint $mp -ErrorAction Stop
if ([int]$volume.LockStatus -eq 0) {
    return @{ mount_point = $mp; lock_status = 0; changed = $false }
}
try {
    Unlock-BitLocker -MountPoint $mp -RecoveryPassword $pw -ErrorAction Stop | Out-Null
} catch {
    $message = [string]$_.Exception.Message
    $message = $message.Replace($pw, '********')
    throw ('Unlock-BitLocker failed for ' + $mp + ': ' + $message)
}
$after = Get-BitLockerVolume -MountPoint $mp -ErrorAction Stop
if ([int]$after.LockStatus -ne 0) { throw ('volume ' + $mp + ' is still locked after Unlock-BitLocker') }
@{ mount_point = $mp; lock_status = [int]$after.LockStatus; changed = $true }
