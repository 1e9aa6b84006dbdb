# Read the security descriptor of the MachineKeys folder as SDDL (SIDs, never account names).
# Returns: path, exists, sddl.
# Args: none.
param($Params)

$path = Join-Path -Path $env:SystemDrive -ChildPath 'ProgramData\Microsoft\Crypto\RSA\MachineKeys'
if (-not (Test-Path -LiteralPath $path -PathType Container)) {
    return @{ path = $path; exists = $false; sddl = $null }
}
$dir = Get-Item -LiteralPath $path -Force
$acl = $dir.GetAccessControl([System.Security.AccessControl.AccessControlSections]'Owner, Group, Access')
@{ path = $path; exists = $true; sddl = $acl.Sddl }
