# Read the version of the Azure VM agent that runs: the newest C:\WindowsAzure\GuestAgent_* folder, chosen by the
# product version of its WindowsAzureGuestAgent.exe (numbers only: the version text may carry words), as the
# troubleshooting page says. The agent updates itself into a new GuestAgent_* folder; the copy the MSI left in
# Packages\WaAppAgent.exe keeps the installed version and is reported beside it (packages_version).
# Returns: root, exists, version, product_version, folder, packages_version.
# Args: root (string: C:\WindowsAzure).
param($Params)

$root = [string]$Params.root
if (-not $root) { throw 'no root given' }

function Get-Numbers($info, [string]$kind) {
    if ($kind -eq 'Product') {
        return '{0}.{1}.{2}.{3}' -f $info.ProductMajorPart, $info.ProductMinorPart, $info.ProductBuildPart, $info.ProductPrivatePart
    }
    return '{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
}

$packagesVersion = $null
$packagesExe = Join-Path -Path $root -ChildPath 'Packages\WaAppAgent.exe'
if (Test-Path -LiteralPath $packagesExe -PathType Leaf) {
    $packagesVersion = Get-Numbers (Get-Item -LiteralPath $packagesExe -Force).VersionInfo 'Product'
}

$best = $null
$bestVersion = $null
if (Test-Path -LiteralPath $root -PathType Container) {
    foreach ($dir in @(Get-ChildItem -LiteralPath $root -Directory -Filter 'GuestAgent_*' -ErrorAction SilentlyContinue)) {
        $exe = Join-Path -Path $dir.FullName -ChildPath 'WindowsAzureGuestAgent.exe'
        if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) { continue }
        $info = (Get-Item -LiteralPath $exe -Force).VersionInfo
        $parsed = [version](Get-Numbers $info 'Product')
        if ($null -eq $bestVersion -or $parsed -gt $bestVersion) {
            $bestVersion = $parsed
            $best = @{ folder = $dir.FullName; product = [string]$parsed; file = (Get-Numbers $info 'File') }
        }
    }
}
if ($null -eq $best) {
    return @{ root = $root; exists = $false; version = $null; product_version = $null; folder = $null; packages_version = $packagesVersion }
}
@{ root = $root; exists = $true; version = $best.product; product_version = $best.product; file_version = $best.file; folder = $best.folder; packages_version = $packagesVersion }
