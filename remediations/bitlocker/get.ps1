# List the BitLocker volumes with their numeric states (never the localized text of manage-bde):
# lock_status 0 Unlocked, 1 Locked; protection_status 0 Off, 1 On, 2 Unknown; volume_status 0 FullyDecrypted,
# 1 FullyEncrypted, 2 EncryptionInProgress, 3 DecryptionInProgress, 4/5 suspended; volume_type 0 OperatingSystem,
# 1 Data; protector_types: KeyProtectorType numbers
# (3 = RecoveryPassword).
# Returns: available (the BitLocker module is there), volumes.
# Args: none.
param($Params)

if (-not (Get-Command -Name 'Get-BitLockerVolume' -ErrorAction SilentlyContinue)) {
    return @{ available = $false; volumes = @() }
}
$volumes = @()
foreach ($v in @(Get-BitLockerVolume -ErrorAction Stop)) {
    $protectors = @()
    foreach ($p in @($v.KeyProtector)) {
        if ($null -ne $p) { $protectors += [int]$p.KeyProtectorType }
    }
    $volumes += @{
        mount_point = [string]$v.MountPoint
        volume_type = [int]$v.VolumeType
        lock_status = [int]$v.LockStatus
        protection_status = [int]$v.ProtectionStatus
        volume_status = [int]$v.VolumeStatus
        protector_types = @($protectors)
    }
}
@{ available = $true; volumes = @($volumes) }
