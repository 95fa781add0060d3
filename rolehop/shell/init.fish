# rolehop shell integration for fish (`rolehop init fish`).
# In ~/.config/fish/config.fish:
#   rolehop init fish | source
# Opt in before that line: set -gx ROLEHOP_PROMPT 1 (right prompt), ROLEHOP_AUTO_REFRESH 1.
# fish has no clock builtin: the time left is read from /proc with builtins (Linux). Without
# /proc the prompt shows when the credentials end ("until 14:02", read by one `date` at
# `use`), never "expired", and auto-refresh cannot tell when to run, so it does not.
function _rolehop_program
    @PROGRAM@ $argv
end
# tells `rolehop doctor` (a child process: it cannot see functions) the integration is on
set -gx ROLEHOP_SHELL fish

function rolehop --description 'rolehop; `rolehop use PROFILE` switches this shell'
    if test "$argv[1]" = use
        set -e argv[1]
        _rolehop_use $argv
    else
        _rolehop_program $argv
    end
end

function _rolehop_use
    if contains -- --off $argv
        if test (count $argv) -ne 1
            echo 'rolehop: error: use --off takes no other argument' >&2
            return 2
        end
        _rolehop_off
        return
    end
    if contains -- --help $argv; or contains -- -h $argv
        _rolehop_program use $argv
        return
    end
    _rolehop_apply restore $argv
end

# `rolehop env ARGS`, evaluated only when the program succeeded. $argv[1]: `restore` (a
# `use` starts from the state before the first one: nothing of the last profile stays
# behind) or `keep` (an auto-refresh: the same profile behind the user's back, new
# credentials only).
function _rolehop_apply
    set -l mode $argv[1]
    set -e argv[1]
    _rolehop_no_exported_universal; or return
    set -l code (_rolehop_program env $argv --shell fish); or return
    if not set -q _rolehop_saved
        _rolehop_save
    else if test $mode = restore
        _rolehop_restore
    end
    string join \n -- $code | source
    # `env` erased the globals only: a universal one is every session's, hidden by a global
    for name in @UNSET@
        set -qU $name; and not set -qg $name; and set -gu $name
    end
    set -e _rolehop_refresh_tried
    _rolehop_until
end

# fish exports a universal variable (set -Ux) to every program this shell starts, unless a
# global *exports* another value; an unexported global hides it from fish alone, and an
# empty AWS_PROFILE is an error to the AWS CLI. Erasing it would change every fish session:
# instead `use` refuses to put credentials beside a profile name they would lose to.
function _rolehop_no_exported_universal
    for name in @UNSET@
        set -qUx $name; or continue
        set -l value ...  # hidden from $$name by a global of this shell
        set -qg $name; or set value (string escape -- $$name)
        printf '%s\n' >&2 \
            "rolehop: error: $name is a universal variable (set -Ux $name $value): fish" \
            "  exports it to every program, and one shell cannot hide it from its programs," \
            "  which would follow it rather than the credentials of `rolehop use`" \
            "rolehop: make it a global instead, which `rolehop use` sets aside and restores:" \
            "  set -eU $name, and in ~/.config/fish/config.fish: set -gx $name $value"
        return 1
    end
end

# What the shell had before the first `use`: its globals, exported or not, and their values.
# A universal variable is never changed by `use`, so there is nothing of it to save.
function _rolehop_save
    set -g _rolehop_saved 1
    set -g _rolehop_saved_global
    set -g _rolehop_saved_exported
    for name in @NAMES@
        set -e _rolehop_old_$name
        set -qg $name; or continue
        set -a _rolehop_saved_global $name
        set -qgx $name; and set -a _rolehop_saved_exported $name
        set -g _rolehop_old_$name $$name
    end
end

# Back to what the shell had before the first `use` (a universal variable shows through
# again); what was saved stays saved.
function _rolehop_restore
    for name in @NAMES@
        set -eg $name
        contains -- $name $_rolehop_saved_global; or continue
        set -l old _rolehop_old_$name
        if contains -- $name $_rolehop_saved_exported
            set -gx $name $$old
        else
            set -gu $name $$old
        end
    end
    return 0
end

function _rolehop_off
    set -q _rolehop_saved; or return 0
    _rolehop_restore
    for name in @NAMES@
        set -e _rolehop_old_$name
    end
    set -e _rolehop_saved
    set -e _rolehop_saved_global
    set -e _rolehop_saved_exported
    set -e _rolehop_refresh_tried
    set -e _rolehop_until
    return 0
end

set -q _rolehop_proc; or set -g _rolehop_proc /proc

# Epoch seconds with builtins only: boot time (/proc/stat) plus uptime (/proc/uptime).
# The one reader of the time: a test redefines this function to freeze it.
function _rolehop_now
    test -r $_rolehop_proc/uptime -a -r $_rolehop_proc/stat; or return 1
    read -l uptime rest <$_rolehop_proc/uptime; or return 1
    set -l boot (string match -rg '^btime (\d+)$' <$_rolehop_proc/stat); or return 1
    set -g _rolehop_now_value (math --scale=0 "$boot + $uptime")
end

# Without /proc: when the credentials end, as a local time, read once at `use`.
function _rolehop_until
    set -e _rolehop_until
    _rolehop_now; and return 0
    string match -qr '^\d+$' -- "$ROLEHOP_EXPIRATION"; or return 0
    set -g _rolehop_until (command date -r $ROLEHOP_EXPIRATION +%H:%M 2>/dev/null
        or command date -d @$ROLEHOP_EXPIRATION +%H:%M 2>/dev/null)
end

# Seconds left in _rolehop_left; fails without a (numeric) expiration or a clock.
function _rolehop_seconds_left
    string match -qr '^\d+$' -- "$ROLEHOP_EXPIRATION"; or return 1
    _rolehop_now; or return 1
    set -g _rolehop_left (math --scale=0 "$ROLEHOP_EXPIRATION - $_rolehop_now_value")
end

# The prompt segment in _rolehop_segment_value: builtins only, no process.
function _rolehop_segment
    set -g _rolehop_segment_value
    test -n "$ROLEHOP_PROFILE"; or return 0
    set -l left '?'
    set -l format
    if _rolehop_seconds_left
        if test $_rolehop_left -lt 60
            set left expired
        else if test $_rolehop_left -lt 3600
            set left (math --scale=0 "floor($_rolehop_left / 60)")m
        else
            set left (printf '%dh%02dm' (math --scale=0 "floor($_rolehop_left / 3600)") \
                (math --scale=0 "floor($_rolehop_left % 3600 / 60)"))
        end
    else if set -q _rolehop_until[1]
        set left "until $_rolehop_until"
    end
    if test -n "$ROLEHOP_PROMPT_FORMAT"
        set format "$ROLEHOP_PROMPT_FORMAT"
    else if test "$ROLEHOP_PROMPT_ASCII" = 1
        set format '[%p %t]'
    else
        set format '⛅ %p %t'
    end
    set format (string replace -a -- %p "$ROLEHOP_PROFILE" $format)
    set -g _rolehop_segment_value (string replace -a -- %t $left $format)
end

# e.g. in fish_prompt or fish_right_prompt: rolehop_prompt
function rolehop_prompt --description 'the active rolehop profile and its time left'
    _rolehop_segment
    printf '%s' $_rolehop_segment_value
end

function _rolehop_inside_margin
    _rolehop_seconds_left; or return 1
    set -l margin @MARGIN@
    string match -qr '^\d+$' -- "$ROLEHOP_REFRESH_MARGIN"; and set margin $ROLEHOP_REFRESH_MARGIN
    test $_rolehop_left -le $margin
end

# One `rolehop use` when the credentials are inside the margin, and one try per set of
# credentials: after a failure, or when the new ones are inside the margin too (a margin
# longer than their lifetime), nothing runs again until the next `rolehop use`.
function _rolehop_auto_refresh
    test "$ROLEHOP_AUTO_REFRESH" = 1; and test -n "$ROLEHOP_PROFILE"; or return 0
    test "$_rolehop_refresh_tried" != "$ROLEHOP_EXPIRATION"; or return 0
    _rolehop_inside_margin; or return 0
    if test -n "$ROLEHOP_TARGET"
        _rolehop_apply keep --target "$ROLEHOP_TARGET" # an ad-hoc role, or overrides
    else
        _rolehop_apply keep $ROLEHOP_PROFILE
    end
    if _rolehop_inside_margin
        set -g _rolehop_refresh_tried $ROLEHOP_EXPIRATION
    end
end

if test "$ROLEHOP_AUTO_REFRESH" = 1
    function _rolehop_preexec --on-event fish_preexec
        string match -qr '^rolehop(\s|$)' -- "$argv[1]"; and return
        _rolehop_auto_refresh
    end
end

if test "$ROLEHOP_PROMPT" = 1; and not set -q _rolehop_right_prompt
    set -g _rolehop_right_prompt 1
    if functions -q fish_right_prompt
        functions -c fish_right_prompt _rolehop_user_right_prompt
    end
    function fish_right_prompt
        rolehop_prompt
        if functions -q _rolehop_user_right_prompt
            printf ' '
            _rolehop_user_right_prompt
        end
    end
end

# Completion (click's, for the program and this function alike)
@COMPLETION@
