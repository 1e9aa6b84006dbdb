<#
.SYNOPSIS
    Webhook runbook (PowerShell 5.1 or 7.2): starts the Python runbook remediate_from_alert with the fields of
    a failed-backup alert.

.DESCRIPTION
    Azure Automation webhooks cannot start Python runbooks, so the action group's webhook points at this
    runbook. It reads the common alert schema body from WebhookData.RequestBody, keeps only the fields the
    Python runbook needs (the vault's resource id, the VM's resource id when present, the backup job id), and
    starts the Python runbook through the Automation jobs API (PUT .../jobs/{guid}) with one parameter: a JSON
    array of arguments, which the Python runbook unfolds into its argv. Nothing from the payload is executed or
    pasted into a command; the values travel as JSON data.

    Automation variables read: remediate-automation-account, remediate-automation-resource-group (this
    account), remediate-worker-group (optional: a Hybrid Runbook Worker group for the Python job; empty or
    absent: the cloud sandbox). The account's system-assigned managed identity needs the Automation Job
    Operator role (Microsoft.Automation/automationAccounts/jobs/write) on this account.
#>
param(
    [Parameter(Mandatory = $false)]
    [object] $WebhookData
)

$ErrorActionPreference = 'Stop'

function Get-OptionalVariable {
    param([string] $Name)
    try {
        return Get-AutomationVariable -Name $Name
    } catch {
        return $null
    }
}

if ($null -eq $WebhookData -or [string]::IsNullOrEmpty($WebhookData.RequestBody)) {
    throw 'This runbook is started by a webhook: no WebhookData.RequestBody was given.'
}

$alert = ConvertFrom-Json -InputObject $WebhookData.RequestBody
if ($alert.schemaId -ne 'azureMonitorCommonAlertSchema') {
    throw "Not a common alert schema payload (schemaId '$($alert.schemaId)'): enable the common alert schema on the action group."
}
$essentials = $alert.data.essentials
$context = $alert.data.alertContext
if ($essentials.monitorCondition -eq 'Resolved') {
    Write-Output 'The alert is resolved: nothing to do.'
    return
}

$vaultId = $null
foreach ($id in @($essentials.alertTargetIDs)) {
    if ($id -match '/providers/microsoft\.recoveryservices/vaults/[^/]+$') {
        $vaultId = $id
    }
}
if ($null -eq $vaultId) {
    throw 'The alert names no Recovery Services vault in data.essentials.alertTargetIDs.'
}

$arguments = @('--vault-id', $vaultId)
$jobId = $null
if ($null -ne $context.extendedInfo) {
    $jobId = $context.extendedInfo.jobId
}
if (-not [string]::IsNullOrEmpty($jobId)) {
    $arguments += @('--job-id', [string] $jobId)
}
if (-not [string]::IsNullOrEmpty($context.linkedResourceId)) {
    $arguments += @('--vm-id', [string] $context.linkedResourceId)
}

$account = Get-OptionalVariable -Name 'remediate-automation-account'
$resourceGroup = Get-OptionalVariable -Name 'remediate-automation-resource-group'
$workerGroup = Get-OptionalVariable -Name 'remediate-worker-group'
if ([string]::IsNullOrEmpty($account) -or [string]::IsNullOrEmpty($resourceGroup)) {
    throw 'Set the Automation variables remediate-automation-account and remediate-automation-resource-group.'
}
if ($null -eq $workerGroup) {
    $workerGroup = ''
}

$null = Connect-AzAccount -Identity
$subscription = (Get-AzContext).Subscription.Id
$jobName = [guid]::NewGuid().ToString()
$body = @{
    properties = @{
        runbook    = @{ name = 'remediate_from_alert' }
        parameters = @{ args = (ConvertTo-Json -InputObject $arguments -Compress) }
        runOn      = [string] $workerGroup
    }
}
$path = "/subscriptions/$subscription/resourceGroups/$resourceGroup/providers/Microsoft.Automation" +
    "/automationAccounts/$account/jobs/$($jobName)?api-version=2023-11-01"
$response = Invoke-AzRestMethod -Method PUT -Path $path -Payload (ConvertTo-Json -InputObject $body -Depth 5)
if ($response.StatusCode -ne 201 -and $response.StatusCode -ne 200) {
    throw "Starting remediate_from_alert failed: HTTP $($response.StatusCode): $($response.Content)"
}
Write-Output "Started remediate_from_alert job $jobName for vault $vaultId (backup job $jobId)."
