# Save the MachineKeys folder's ACL, then give the folder (the folder only, never the key files in it) the
# security descriptor in args.sddl. The saved copy is an `icacls /save` file under
# %ProgramData%\remediate\backup\ (restore it with `icacls <parent folder> /restore <file>`).
# Returns: path, backup, before, after (SDDL).
# Args: sddl (string: O:..G:..D:.. as written by Get-Acl).
param($Params)

$sddl = [string]$Params.sddl
if (-not $sddl) { throw 'no security descriptor given' }
$path = Join-Path -Path $env:SystemDrive -ChildPath 'ProgramData\Microsoft\Crypto\RSA\MachineKeys'
if (-not (Test-Path -LiteralPath $path -PathType Container)) { throw "the folder $path does not exist" }
$sections = [System.Security.AccessControl.AccessControlSections]'Owner, Group, Access'

# Parse first: an invalid descriptor fails here, before anything is changed.
$desired = New-Object System.Security.AccessControl.DirectorySecurity
try {
    $desired.SetSecurityDescriptorSddlForm($sddl, $sections)
} catch {
    throw ('the security descriptor is not valid SDDL: ' + $_.Exception.Message)
}

$dir = Get-Item -LiteralPath $path -Force
$before = $dir.GetAccessControl($sections).Sddl

# A copy on the host first: icacls /save of this folder only (no /t).
$backupDir = Join-Path -Path $env:ProgramData -ChildPath 'remediate\backup'
if (-not (Test-Path -LiteralPath $backupDir)) { New-Item -ItemType Directory -Path $backupDir -Force | Out-Null }
$stamp = (Get-Date).ToUniversalTime().ToString('yyyyMMddTHHmmssfffZ')
$backup = Join-Path -Path $backupDir -ChildPath ('MachineKeys-' + $stamp + '.icacls')
$icacls = Join-Path -Path $env:SystemRoot -ChildPath 'System32\icacls.exe'
$out = & $icacls $path '/save' $backup '/c' 2>&1
if ($LASTEXITCODE -ne 0 -or -not (Test-Path -LiteralPath $backup)) {
    throw ('icacls /save failed with exit code ' + $LASTEXITCODE + ': ' + (($out | Out-String).Trim()))
}

# The DACL (with its protected flag) on the folder object only.
$access = New-Object System.Security.AccessControl.DirectorySecurity
$access.SetSecurityDescriptorSddlForm($sddl, [System.Security.AccessControl.AccessControlSections]::Access)
$dir.SetAccessControl($access)

# Owner and group where they differ. Giving the folder to another owner needs SeRestorePrivilege,
# which icacls /setowner enables for an administrator.
$current = $dir.GetAccessControl($sections)
$wantOwner = $desired.GetOwner([System.Security.Principal.SecurityIdentifier])
$haveOwner = $current.GetOwner([System.Security.Principal.SecurityIdentifier])
if ($null -ne $wantOwner -and $wantOwner.Value -ne $haveOwner.Value) {
    $out = & $icacls $path '/setowner' ('*' + $wantOwner.Value) '/c' 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw ('icacls /setowner failed with exit code ' + $LASTEXITCODE + ': ' + (($out | Out-String).Trim()))
    }
}
$wantGroup = $desired.GetGroup([System.Security.Principal.SecurityIdentifier])
$haveGroup = $current.GetGroup([System.Security.Principal.SecurityIdentifier])
if ($null -ne $wantGroup -and ($null -eq $haveGroup -or $wantGroup.Value -ne $haveGroup.Value)) {
    $group = New-Object System.Security.AccessControl.DirectorySecurity
    $group.SetGroup($wantGroup)
    $dir.SetAccessControl($group)
}

$after = (Get-Item -LiteralPath $path -Force).GetAccessControl($sections).Sddl
@{ path = $path; backup = $backup; before = $before; after = $after }
