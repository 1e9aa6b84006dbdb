# Who is this host: its name, OS and PowerShell versions, console and OEM code pages and culture. Read-only.
# `echo` comes back unchanged: it proves that any value travels as data, never as script text.
# Args: echo (any JSON value, optional).
param($Params)

$echo = $null
if ($null -ne $Params -and $null -ne $Params.PSObject.Properties['echo']) {
    $echo = $Params.echo
}

@{
    hostname = $env:COMPUTERNAME
    os_version = [Environment]::OSVersion.Version.ToString()
    ps_version = $PSVersionTable.PSVersion.ToString()
    codepage = [Console]::OutputEncoding.CodePage
    oem_codepage = [int](Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Nls\CodePage' -Name OEMCP).OEMCP
    language = (Get-Culture).Name
    echo = $echo
}
