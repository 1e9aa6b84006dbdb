# remediate bootstrap (Windows PowerShell 5.1 and later).
# Started as: powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <this file>.
# It reads the operation from stdin: one line of JSON (script name, digests, base64 JSON arguments), the line
# "#REMEDIATE-LIBRARY", the shared library (functions only), the line "#REMEDIATE-SCRIPT", then the script
# text. The library is dot-sourced; the script runs as a script block with the decoded arguments as its only
# parameter. Its value is written as one line "#REMEDIATE-RESULT:" + base64(UTF-8 JSON), so that no
# console code page can garble it. No value is ever part of this text or of the script text.
# First of all the language mode: where AppLocker or WDAC enforce script rules, PowerShell runs in
# ConstrainedLanguage and every .NET call below would fail with an unclear error. Say so and stop.
if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') {
    '#REMEDIATE-LANGUAGE-MODE:' + $ExecutionContext.SessionState.LanguageMode
    exit 3
}
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$remediateRaw = [Console]::In.ReadToEnd()
$remediateParts = [regex]::Split($remediateRaw, "\r?\n#REMEDIATE-SCRIPT\r?\n", 2)
$remediateHead = [regex]::Split($remediateParts[0], "\r?\n#REMEDIATE-LIBRARY\r?\n", 2)
$remediateEnvelope = ConvertFrom-Json -InputObject $remediateHead[0]
$remediateArgsJson = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($remediateEnvelope.args))
$remediateParams = ConvertFrom-Json -InputObject $remediateArgsJson
$remediateResult = @{ ok = $true; data = $null; error = $null }
try {
    . ([ScriptBlock]::Create($remediateHead[1]))
    $remediateBlock = [ScriptBlock]::Create($remediateParts[1])
    $remediateResult.data = & $remediateBlock $remediateParams
} catch {
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
if ($remediateResult.ok) { exit 0 } else { exit 1 }
