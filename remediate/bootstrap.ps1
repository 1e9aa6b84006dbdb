# remediate bootstrap (Windows PowerShell 5.1 and later).
# Started as: powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <this file>.
# It reads its operations from stdin: one line of JSON (digests, and per operation its script name and base64
# JSON arguments), the line "#REMEDIATE-LIBRARY", the shared library (functions only), then per operation the
# line "#REMEDIATE-SCRIPT" and the script text. The library is dot-sourced once; each script runs in order as a
# script block with its decoded arguments as its only parameter. Each one's value is written as one line
# "#REMEDIATE-RESULT:" + base64(UTF-8 JSON), so that no console code page can garble it. No value is ever part
# of this text or of the script text.
# First of all the language mode: where AppLocker or WDAC enforce script rules, PowerShell runs in
# ConstrainedLanguage and every .NET call below would fail with an unclear error. Say so and stop.
if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') {
    '#REMEDIATE-LANGUAGE-MODE:' + $ExecutionContext.SessionState.LanguageMode
    exit 3
}
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$remediateRaw = [Console]::In.ReadToEnd()
$remediateParts = [regex]::Split($remediateRaw, "\r?\n#REMEDIATE-SCRIPT\r?\n")
$remediateHead = [regex]::Split($remediateParts[0], "\r?\n#REMEDIATE-LIBRARY\r?\n", 2)
$remediateEnvelope = ConvertFrom-Json -InputObject $remediateHead[0]
$remediateOps = @($remediateEnvelope.ops)
$remediateLibraryError = $null
try {
    . ([ScriptBlock]::Create($remediateHead[1]))
} catch {
    $remediateLibraryError = $_
}
$remediateFailed = $false
for ($remediateIndex = 0; $remediateIndex -lt $remediateOps.Count; $remediateIndex++) {
    $remediateResult = @{ ok = $true; data = $null; error = $null }
    try {
        if ($null -ne $remediateLibraryError) { throw $remediateLibraryError }
        $remediateOp = $remediateOps[$remediateIndex]
        $remediateArgsJson = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($remediateOp.args))
        $remediateParams = ConvertFrom-Json -InputObject $remediateArgsJson
        $remediateBlock = [ScriptBlock]::Create($remediateParts[$remediateIndex + 1])
        $remediateResult.data = & $remediateBlock $remediateParams
    } catch {
        $remediateFailed = $true
        $remediateResult.ok = $false
        $remediateResult.error = @{
            message = $_.Exception.Message
            type = $_.Exception.GetType().FullName
            line = $_.InvocationInfo.ScriptLineNumber
        }
    }
    $remediateJson = ConvertTo-Json -InputObject $remediateResult -Depth 12 -Compress
    $remediateBytes = [Text.Encoding]::UTF8.GetBytes($remediateJson)
    [Console]::Out.WriteLine('#REMEDIATE-RESULT:' + [Convert]::ToBase64String($remediateBytes))
}
if ($remediateFailed) { exit 1 } else { exit 0 }
