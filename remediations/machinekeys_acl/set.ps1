# Save the MachineKeys folder's ACL, then give the folder (the folder only: no /t, the key files keep their own
# ACLs) the owner and DACL of the security descriptor in args.sddl. Both go through icacls, which enables the
# administrator's SeRestorePrivilege: that works where Administrators lost WRITE_DAC on the folder, which
# DirectoryInfo.SetAccessControl (no privilege enabled) does not. The owner is set first (/setowner), then the
# DACL by "icacls <parent> /restore <file>" of a file written here in icacls /save's format (UTF-16LE, the
# folder's name, its SDDL). The group last, where the new DACL lets Administrators change it (the default does);
# otherwise it is left and reported. Native programs run through Invoke-Native.
# The saved copy is an `icacls /save` file under %ProgramData%\remediate\backup\ (restore it with
# `icacls <parent folder> /restore <file>`).
# Returns: path, backup, before, after (SDDL), group_left (SID or null).
# Args: sddl (string: O:..G:..D:.. as written by Get-Acl).
param($Params)

$sddl = [string]$Params.sddl
if (-not $sddl) { throw 'no security descriptor given' }
$path = Join-Path -Path $env:SystemDrive -ChildPath 'ProgramData\Microsoft\Crypto\RSA\MachineKeys'
if (-not (Test-Path -LiteralPath $path -PathType Container)) { throw "the folder $path does not exist" }
$sections = [System.Security.AccessControl.AccessControlSections]'Owner, Group, Access'
$sid = [System.Security.Principal.SecurityIdentifier]

# Parse first: an invalid descriptor fails here, before anything is changed.
$desired = New-Object System.Security.AccessControl.DirectorySecurity
try {
    $desired.SetSecurityDescriptorSddlForm($sddl, $sections)
} catch {
    throw ('the security descriptor is not valid SDDL: ' + $_.Exception.Message)
}

$current = (Get-Item -LiteralPath $path -Force).GetAccessControl($sections)
$before = $current.Sddl

# A copy on the host first: icacls /save of this folder only (no /t).
$backupDir = Join-Path -Path $env:ProgramData -ChildPath 'remediate\backup'
if (-not (Test-Path -LiteralPath $backupDir)) { New-Item -ItemType Directory -Path $backupDir -Force | Out-Null }
$stamp = (Get-Date).ToUniversalTime().ToString('yyyyMMddTHHmmssfffZ')
$backup = Join-Path -Path $backupDir -ChildPath ('MachineKeys-' + $stamp + '.icacls')
$icacls = Join-Path -Path $env:SystemRoot -ChildPath 'System32\icacls.exe'
$run = Invoke-Native $icacls @($path, '/save', $backup, '/c') 120
if ($run.exit_code -ne 0 -or -not (Test-Path -LiteralPath $backup)) { throw (Get-NativeFailure 'icacls /save' $run) }

# The owner first: whoever owns the folder may always change its DACL.
$wantOwner = $desired.GetOwner($sid)
$haveOwner = $current.GetOwner($sid)
if ($null -ne $wantOwner -and ($null -eq $haveOwner -or $wantOwner.Value -ne $haveOwner.Value)) {
    $run = Invoke-Native $icacls @($path, '/setowner', ('*' + $wantOwner.Value), '/c') 120
    if ($run.exit_code -ne 0) { throw (Get-NativeFailure 'icacls /setowner' $run) }
}

# The DACL (with its protected flag) on the folder object only, by icacls /restore of a generated ACL file.
$parent = Split-Path -Path $path -Parent
$leaf = Split-Path -Path $path -Leaf
$aclFile = Join-Path -Path $backupDir -ChildPath ('MachineKeys-' + $stamp + '.wanted')
$dacl = $desired.GetSecurityDescriptorSddlForm([System.Security.AccessControl.AccessControlSections]::Access)
$utf16 = New-Object System.Text.UnicodeEncoding -ArgumentList $false, $false
[System.IO.File]::WriteAllText($aclFile, ($leaf + "`r`n" + $dacl + "`r`n"), $utf16)
try {
    $run = Invoke-Native $icacls @($parent, '/restore', $aclFile, '/c') 120
    if ($run.exit_code -ne 0) { throw (Get-NativeFailure 'icacls /restore' $run) }
} finally {
    Remove-Item -LiteralPath $aclFile -Force -ErrorAction SilentlyContinue
}

$dir = Get-Item -LiteralPath $path -Force
$groupLeft = $null
$wantGroup = $desired.GetGroup($sid)
$haveGroup = $dir.GetAccessControl($sections).GetGroup($sid)
if ($null -ne $wantGroup -and ($null -eq $haveGroup -or $wantGroup.Value -ne $haveGroup.Value)) {
    try {
        $group = New-Object System.Security.AccessControl.DirectorySecurity
        $group.SetGroup($wantGroup)
        $dir.SetAccessControl($group)
    } catch {
        if ($null -ne $haveGroup) { $groupLeft = $haveGroup.Value } else { $groupLeft = '' }
    }
}
$after = (Get-Item -LiteralPath $path -Force).GetAccessControl($sections)
@{ path = $path; backup = $backup; before = $before; after = $after.Sddl; group_left = $groupLeft }
