# Read the VSS writers as vssadmin shows them and the state of the services that host them. vssadmin's output
# travels as the bytes it wrote (base64): it writes the OEM code page (cp932, cp850...) whatever the console's,
# so it is decoded on the operator's side, with the OEM code page read here as the hint. Parsed there, by
# structure. Args: services (list of service names to report).
param($Params)

$vssadmin = Join-Path -Path $env:SystemRoot -ChildPath 'System32\vssadmin.exe'
$listed = @{ exit_code = -1; stdout_base64 = ''; stderr = ''; error = $null }
try {
    $run = Invoke-Native -FilePath $vssadmin -ArgumentList @('list', 'writers') -RawStdout
    $listed.exit_code = $run.exit_code
    $listed.stdout_base64 = $run.stdout_base64
    $listed.stderr = $run.stderr
} catch {
    $listed.error = $_.Exception.Message
}
$oem = [int](Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Nls\CodePage' -Name OEMCP).OEMCP

$wanted = @($Params.services | ForEach-Object { [string]$_ })
# Name and state from the SCM, never WMI (the stuck component when the WMI writer failed); start type from
# ServiceController.StartType (.NET 4.6.1 and later), else null.
$services = @()
foreach ($name in $wanted) {
    $svc = Get-ServiceController $name
    if ($null -eq $svc) {
        $services += @{ name = $name; exists = $false; status = $null; start_type = $null }
    } else {
        $mode = $null
        if ($svc.PSObject.Properties['StartType']) { $mode = [string]$svc.StartType }
        $services += @{ name = [string]$svc.ServiceName; exists = $true; status = [string]$svc.Status; start_type = $mode }
    }
}
@{
    stdout_base64 = $listed.stdout_base64; stderr = $listed.stderr; error = $listed.error
    exit_code = [int]$listed.exit_code; oem_codepage = $oem; services = @($services)
}
