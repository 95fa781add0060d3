# rolehop shell integration for PowerShell (`rolehop init powershell`).
# In $PROFILE:
#   rolehop init powershell | Out-String | Invoke-Expression
# Opt in before that line: $Env:ROLEHOP_PROMPT = '1' (prompt segment).
# Not here: auto-refresh, and completion (click has no PowerShell completion).
function global:_rolehop_program { @PROGRAM@ @args }
# tells `rolehop doctor` (a child process: it cannot see functions) the integration is on
$env:ROLEHOP_SHELL = 'powershell'

$global:_rolehop_names = @(@NAMES@)

function global:rolehop {
    if ($args.Count -gt 0 -and $args[0] -ceq 'use') {
        $rest = @($args | Select-Object -Skip 1)
        _rolehop_use @rest
    } else {
        _rolehop_program @args
    }
}

function global:_rolehop_use {
    if ($args -ccontains '--off') {
        if ($args.Count -ne 1) {
            [Console]::Error.WriteLine('rolehop: error: use --off takes no other argument')
            return
        }
        _rolehop_off
        return
    }
    if ($args -ccontains '--help' -or $args -ccontains '-h') {
        _rolehop_program use @args
        return
    }
    # evaluated only when the program succeeded
    $code = _rolehop_program env @args --shell powershell
    if ($LASTEXITCODE -ne 0) { return }
    # a switch starts from the first state again: nothing of the last profile stays behind
    if ($null -eq $global:_rolehop_saved) { _rolehop_save } else { _rolehop_restore }
    Invoke-Expression (@($code) -join "`n")
}

# What the session had before the first `use`.
function global:_rolehop_save {
    $global:_rolehop_saved = @{}
    foreach ($name in $global:_rolehop_names) {
        $item = Get-Item -LiteralPath "Env:$name" -ErrorAction SilentlyContinue
        if ($null -ne $item) { $global:_rolehop_saved[$name] = $item.Value }
    }
}

# Back to what the session had before the first `use`; what was saved stays saved.
function global:_rolehop_restore {
    foreach ($name in $global:_rolehop_names) {
        if ($global:_rolehop_saved.ContainsKey($name)) {
            Set-Item -LiteralPath "Env:$name" -Value $global:_rolehop_saved[$name]
        } else {
            Remove-Item -LiteralPath "Env:$name" -ErrorAction SilentlyContinue
        }
    }
}

function global:_rolehop_off {
    if ($null -eq $global:_rolehop_saved) { return }
    _rolehop_restore
    $global:_rolehop_saved = $null
}

# The segment, from the environment and .NET's clock: no process.
function global:rolehop_prompt {
    $name = $Env:ROLEHOP_PROFILE
    if (-not $name) { return '' }
    $left = '?'
    $expiration = [long]0
    if ([long]::TryParse([string]$Env:ROLEHOP_EXPIRATION, [ref]$expiration)) {
        $seconds = $expiration - [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
        if ($seconds -lt 60) {
            $left = 'expired'
        } elseif ($seconds -lt 3600) {
            $left = '{0}m' -f [long][math]::Floor($seconds / 60)
        } else {
            $left = '{0}h{1:d2}m' -f [long][math]::Floor($seconds / 3600),
                [int][math]::Floor(($seconds % 3600) / 60)
        }
    }
    if ($Env:ROLEHOP_PROMPT_FORMAT) {
        $format = $Env:ROLEHOP_PROMPT_FORMAT
    } elseif ($Env:ROLEHOP_PROMPT_ASCII -eq '1') {
        $format = '[%p %t]'
    } else {
        $format = "$([char]0x26C5) %p %t"
    }
    $format.Replace('%p', $name).Replace('%t', $left)
}

if ($Env:ROLEHOP_PROMPT -eq '1' -and $null -eq $global:_rolehop_user_prompt) {
    $global:_rolehop_user_prompt = $function:prompt
    function global:prompt {
        $segment = rolehop_prompt
        $rest = & $global:_rolehop_user_prompt
        if ($segment) { "$segment $rest" } else { $rest }
    }
}
