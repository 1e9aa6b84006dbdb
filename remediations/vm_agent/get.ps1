# Read the Azure VM agent's file version (FileMajorPart.FileMinorPart.FileBuildPart.FilePrivatePart, numbers
# only: the FileVersion text may carry words).
# Returns: path, exists, version, product_version.
# Args: path (string: the agent's WaAppAgent.exe).
param($Params)

$path = [string]$Params.path
if (-not $path) { throw 'no path given' }
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
    return @{ path = $path; exists = $false; version = $null; product_version = $null }
}
$info = (Get-Item -LiteralPath $path -Force).VersionInfo
$version = '{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
$product = '{0}.{1}.{2}.{3}' -f $info.ProductMajorPart, $info.ProductMinorPart, $info.ProductBuildPart, $info.ProductPrivatePart
@{ path = $path; exists = $true; version = $version; product_version = $product }
