# Read the VSS writers as vssadmin shows them and the state of the services that host them. vssadmin's output
# travels as the bytes it wrote (base64): it writes the OEM code page (cp932, cp850...) whatever the console's,
# so it is decoded on the operator's side, with the OEM code page read here as the hint. Parsed there, by
# structure. Args: services (list of service names to report).
param($Params)

$vssadmin = Join-Path -Path $env:SystemRoot -ChildPath 'System32\vssadmin.exe'
$listed = @{ exit_code = -1; stdout_base64 = ''; stderr_base64 = ''; error = $null }
try {
    $run = Invoke-NativeBytes -FilePath $vssadmin -ArgumentList @('list', 'writers')
    $listed.exit_code = $run.exit_code
    $listed.stdout_base64 = $run.stdout_base64
    $listed.stderr_base64 = $run.stderr_base64
} catch {
    $listed.error = $_.Exception.Message
}
$oem = [int](Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Nls\CodePage' -Name OEMCP).OEMCP

$wanted = @($Params.services | ForEach-Object { [string]$_ })
$all = @(Get-CimInstance -ClassName Win32_Service)
$services = @()
foreach ($name in $wanted) {
    $svc = $all | Where-Object { $_.Name -eq $name } | Select-Object -First 1
    if ($null -eq $svc) {
        $services += @{ name = $name; exists = $false; status = $null; start_type = $null }
    } else {
        $mode = [string]$svc.StartMode
        if ($mode -eq 'Auto') { $mode = 'Automatic' }
        $services += @{ name = [string]$svc.Name; exists = $true; status = ([string]$svc.State) -replace ' ', ''; start_type = $mode }
    }
}
@{
    stdout_base64 = $listed.stdout_base64; stderr_base64 = $listed.stderr_base64; error = $listed.error
    exit_code = [int]$listed.exit_code; oem_codepage = $oem; services = @($services)
}
