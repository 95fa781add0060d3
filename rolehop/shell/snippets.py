"""The shell code ``rolehop init SHELL`` prints: ``rolehop use``, a prompt segment, hooks.

The snippet defines a shell function ``rolehop`` that wraps the program: ``rolehop use
PROFILE`` evaluates ``rolehop env PROFILE`` in the current shell (a later ``use`` first puts
back what the shell had before the first one), ``rolehop use --off`` puts that back for
good, and everything else runs the program. fish's universal variables are never changed.

The prompt segment (``rolehop_prompt``) and the auto-refresh check run before every prompt
or command, so they are computed from environment variables and the shell's own clock
alone: no process is ever started for them (bash: ``$EPOCHSECONDS`` or ``printf
'%(%s)T'``; zsh: ``zsh/datetime``; fish has no clock builtin, so it reads ``/proc`` with
builtins, see :data:`FISH`). Only ``use`` itself, and an auto-refresh inside the margin,
run the program.

Pure: :func:`snippet` turns a shell, the program's path and a completion script into text.
"""

from __future__ import annotations

import re

from rolehop.config.files import DEFAULT_REFRESH_MARGIN
from rolehop.output import UNSET, Shell, quote_fish, quote_posix, quote_powershell

# Every variable ``rolehop env`` sets or unsets: ``use`` saves them before its first run
# and ``use --off`` restores them (value, set or unset, exported or not).
MANAGED: tuple[str, ...] = (
    *UNSET,
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "ROLEHOP_PROFILE",
    "ROLEHOP_EXPIRATION",
)

# Auto-refresh runs when less than this remains, unless ROLEHOP_REFRESH_MARGIN (seconds)
# says otherwise: the same default as ``refresh_margin``, so that the refresh finds the
# cache expired too and brings new credentials.
DEFAULT_MARGIN_SECONDS = int(DEFAULT_REFRESH_MARGIN.total_seconds())

BASH = r"""# rolehop shell integration for bash (`rolehop init bash`). In ~/.bashrc:
#   eval "$(rolehop init bash)"
# Opt in before that line: ROLEHOP_PROMPT=1 (prompt segment), ROLEHOP_AUTO_REFRESH=1.
_rolehop_program() { @PROGRAM@ "$@"; }
# tells `rolehop doctor` (a child process: it cannot see functions) the integration is on
export ROLEHOP_SHELL=@SHELL@

rolehop() {
    if [ "${1-}" = use ]; then
        shift
        _rolehop_use "$@"
    else
        _rolehop_program "$@"
    fi
}

_rolehop_use() {
    local _rolehop_arg
    for _rolehop_arg in "$@"; do
        case $_rolehop_arg in
        --off)
            if [ $# -ne 1 ]; then
                echo 'rolehop: error: use --off takes no other argument' >&2
                return 2
            fi
            _rolehop_off
            return ;;
        -h | --help)
            _rolehop_program use "$@"
            return ;;
        esac
    done
    _rolehop_apply restore "$@"
}

# `rolehop env ARGS`, evaluated only when the program succeeded. $1: `restore` (a `use`
# starts from the state before the first one: nothing of the last profile stays behind) or
# `keep` (an auto-refresh: the same profile behind the user's back, new credentials only).
_rolehop_apply() {
    local _rolehop_mode=$1 _rolehop_code
    shift
    _rolehop_code=$(_rolehop_program env "$@" --shell bash) || return
    if [ -z "${_ROLEHOP_SAVED-}" ]; then
        _rolehop_save
    elif [ "$_rolehop_mode" = restore ]; then
        _rolehop_restore
    fi
    eval "$_rolehop_code"
    _ROLEHOP_REFRESH_TRIED=
}

# A variable's attributes (x: exported) with no subshell; bash < 4.4 cannot tell: exported.
_rolehop_attributes() {
    _ROLEHOP_ATTRIBUTES=
    [ -n "${!1+x}" ] || return 0
    _ROLEHOP_ATTRIBUTES=x
    if (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404 )); then
        eval "_ROLEHOP_ATTRIBUTES=\${$1@a}"
    fi
}

# What the shell had before the first `use`: value, set or unset, exported or not.
_rolehop_save() {
    local _rolehop_name
    _ROLEHOP_SAVED=1
    _ROLEHOP_OLD_EXPORTED=' '
    for _rolehop_name in @NAMES@; do
        unset "_ROLEHOP_OLD_$_rolehop_name"
        if [ -n "${!_rolehop_name+x}" ]; then
            printf -v "_ROLEHOP_OLD_$_rolehop_name" '%s' "${!_rolehop_name}"
            _rolehop_attributes "$_rolehop_name"
            case $_ROLEHOP_ATTRIBUTES in *x*) _ROLEHOP_OLD_EXPORTED+="$_rolehop_name " ;; esac
        fi
    done
}

# Back to what the shell had before the first `use`; what was saved stays saved.
_rolehop_restore() {
    local _rolehop_name _rolehop_old
    for _rolehop_name in @NAMES@; do
        unset "$_rolehop_name"
        _rolehop_old=_ROLEHOP_OLD_$_rolehop_name
        if [ -n "${!_rolehop_old+x}" ]; then
            printf -v "$_rolehop_name" '%s' "${!_rolehop_old}"
            case $_ROLEHOP_OLD_EXPORTED in *" $_rolehop_name "*) export "$_rolehop_name" ;; esac
        fi
    done
}

_rolehop_off() {
    [ -n "${_ROLEHOP_SAVED-}" ] || return 0
    _rolehop_restore
    local _rolehop_name
    for _rolehop_name in @NAMES@; do
        unset "_ROLEHOP_OLD_$_rolehop_name"
    done
    unset _ROLEHOP_SAVED _ROLEHOP_OLD_EXPORTED _ROLEHOP_REFRESH_TRIED
}

# The shell's own clock: $EPOCHSECONDS (bash >= 5), else printf's %(...)T (bash >= 4.2).
# The one reader of the time: a test redefines this function to freeze it.
_rolehop_clock() {
    if [ -n "${EPOCHSECONDS-}" ]; then
        _ROLEHOP_NOW=$EPOCHSECONDS
    else
        printf -v _ROLEHOP_NOW '%(%s)T' -1 2>/dev/null
    fi
    case $_ROLEHOP_NOW in '' | *[!0-9]*) return 1 ;; esac
}

# Seconds left in _ROLEHOP_LEFT; fails without a (numeric) expiration or a clock.
_rolehop_seconds_left() {
    case ${ROLEHOP_EXPIRATION-} in '' | *[!0-9]*) return 1 ;; esac
    _rolehop_clock || return 1
    _ROLEHOP_LEFT=$(( 10#$ROLEHOP_EXPIRATION - 10#$_ROLEHOP_NOW ))
}

# The prompt segment in _ROLEHOP_SEGMENT: no process, no subshell.
_rolehop_segment() {
    _ROLEHOP_SEGMENT=
    [ -n "${ROLEHOP_PROFILE-}" ] || return 0
    local _rolehop_left='?' _rolehop_format
    if _rolehop_seconds_left; then
        if (( _ROLEHOP_LEFT < 60 )); then
            _rolehop_left=expired
        elif (( _ROLEHOP_LEFT < 3600 )); then
            _rolehop_left=$(( _ROLEHOP_LEFT / 60 ))m
        else
            printf -v _rolehop_left '%dh%02dm' \
                $(( _ROLEHOP_LEFT / 3600 )) $(( _ROLEHOP_LEFT % 3600 / 60 ))
        fi
    fi
    if [ -n "${ROLEHOP_PROMPT_FORMAT-}" ]; then
        _rolehop_format=$ROLEHOP_PROMPT_FORMAT
    elif [ "${ROLEHOP_PROMPT_ASCII-}" = 1 ]; then
        _rolehop_format='[%p %t]'
    else
        _rolehop_format='⛅ %p %t'
    fi
    _rolehop_format=${_rolehop_format//"%p"/"$ROLEHOP_PROFILE"}
    _ROLEHOP_SEGMENT=${_rolehop_format//"%t"/"$_rolehop_left"}
}

# e.g. PS1='$(rolehop_prompt) \w\$ '
rolehop_prompt() {
    _rolehop_segment
    printf '%s' "$_ROLEHOP_SEGMENT"
}

_rolehop_inside_margin() {
    _rolehop_seconds_left || return 1
    local _rolehop_margin=${ROLEHOP_REFRESH_MARGIN-}
    case $_rolehop_margin in '' | *[!0-9]*) _rolehop_margin=@MARGIN@ ;; esac
    (( _ROLEHOP_LEFT <= 10#$_rolehop_margin ))
}

# One `rolehop use` when the credentials are inside the margin, and one try per set of
# credentials: after a failure, or when the new ones are inside the margin too (a margin
# longer than their lifetime), nothing runs again until the next `rolehop use`.
_rolehop_auto_refresh() {
    [ "${ROLEHOP_AUTO_REFRESH-}" = 1 ] && [ -n "${ROLEHOP_PROFILE-}" ] || return 0
    [ "${_ROLEHOP_REFRESH_TRIED-}" != "${ROLEHOP_EXPIRATION-}" ] || return 0
    _rolehop_inside_margin || return 0
    _rolehop_apply keep "$ROLEHOP_PROFILE"
    if _rolehop_inside_margin; then
        _ROLEHOP_REFRESH_TRIED=$ROLEHOP_EXPIRATION
    fi
}

# PROMPT_COMMAND: the prompt segment; arms the pre-command check for the next command.
_rolehop_precmd() {
    local _rolehop_status=$?
    if [ "${ROLEHOP_PROMPT-}" = 1 ]; then
        _rolehop_segment
        _ROLEHOP_PS1=${_ROLEHOP_SEGMENT:+$_ROLEHOP_SEGMENT }
        case ${PS1-} in *'${_ROLEHOP_PS1}'*) ;; *) PS1='${_ROLEHOP_PS1}'${PS1-} ;; esac
    fi
    # no pre-command hook of our own (another DEBUG trap is set): check before the prompt
    [ -n "${_ROLEHOP_PREEXEC-}" ] || _rolehop_auto_refresh
    _ROLEHOP_ARMED=1
    return $_rolehop_status
}

# DEBUG trap: runs before every simple command, acts on the first one after a prompt.
_rolehop_debug() {
    [ -n "${_ROLEHOP_ARMED-}" ] && [ -z "${COMP_LINE-}" ] || return 0
    _ROLEHOP_ARMED=
    _rolehop_preexec "$BASH_COMMAND"
    return 0
}

_rolehop_preexec() {
    case ${1-} in rolehop | 'rolehop '*) return 0 ;; esac  # it is a `rolehop use` already
    _rolehop_auto_refresh
}

if [ "${ROLEHOP_AUTO_REFRESH-}" = 1 ]; then
    if [ -n "${bash_preexec_imported-}${__bp_imported-}" ]; then
        _ROLEHOP_PREEXEC=bash-preexec
        case " ${preexec_functions[*]-} " in
        *' _rolehop_preexec '*) ;;
        *) preexec_functions+=(_rolehop_preexec) ;;
        esac
    else
        case $(trap -p DEBUG) in
        '' | *_rolehop_debug*)
            _ROLEHOP_PREEXEC=debug
            trap '_rolehop_debug' DEBUG ;;
        esac
    fi
fi
if [ "${ROLEHOP_PROMPT-}" = 1 ] || [ "${ROLEHOP_AUTO_REFRESH-}" = 1 ]; then
    case " ${PROMPT_COMMAND[*]-} " in
    *_rolehop_precmd*) ;;
    *)
        _rolehop_attributes PROMPT_COMMAND
        case $_ROLEHOP_ATTRIBUTES in
        *a*) PROMPT_COMMAND+=(_rolehop_precmd) ;;
        *) PROMPT_COMMAND=${PROMPT_COMMAND:+$PROMPT_COMMAND$'\n'}_rolehop_precmd ;;
        esac ;;
    esac
fi

# Completion (click's, for the program and this function alike)
@COMPLETION@
"""

ZSH = r"""# rolehop shell integration for zsh (`rolehop init zsh`). In ~/.zshrc, after compinit:
#   eval "$(rolehop init zsh)"
# Opt in before that line: ROLEHOP_PROMPT=1 (prompt segment), ROLEHOP_AUTO_REFRESH=1.
zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null

_rolehop_program() { @PROGRAM@ "$@"; }
# tells `rolehop doctor` (a child process: it cannot see functions) the integration is on
export ROLEHOP_SHELL=@SHELL@

rolehop() {
    if [[ ${1-} == use ]]; then
        shift
        _rolehop_use "$@"
    else
        _rolehop_program "$@"
    fi
}

_rolehop_use() {
    emulate -L zsh
    local arg
    for arg in "$@"; do
        case $arg in
        (--off)
            if (( $# != 1 )); then
                print -ru2 -- 'rolehop: error: use --off takes no other argument'
                return 2
            fi
            _rolehop_off
            return ;;
        (-h|--help)
            _rolehop_program use "$@"
            return ;;
        esac
    done
    _rolehop_apply restore "$@"
}

# `rolehop env ARGS`, evaluated only when the program succeeded. $1: `restore` (a `use`
# starts from the state before the first one: nothing of the last profile stays behind) or
# `keep` (an auto-refresh: the same profile behind the user's back, new credentials only).
_rolehop_apply() {
    emulate -L zsh
    local mode=$1 code
    shift
    code=$(_rolehop_program env "$@" --shell zsh) || return
    if (( ! ${+_ROLEHOP_SAVED} )); then
        _rolehop_save
    elif [[ $mode == restore ]]; then
        _rolehop_restore
    fi
    eval "$code"
    typeset -g _ROLEHOP_REFRESH_TRIED=
}

# What the shell had before the first `use`: value, set or unset, exported or not.
_rolehop_save() {
    emulate -L zsh
    local name
    typeset -g _ROLEHOP_SAVED=1
    typeset -gA _ROLEHOP_OLD
    typeset -ga _ROLEHOP_OLD_EXPORTED
    _ROLEHOP_OLD=()
    _ROLEHOP_OLD_EXPORTED=()
    for name in @NAMES@; do
        if (( ${(P)+name} )); then
            _ROLEHOP_OLD[$name]=${(P)name}
            [[ ${(tP)name} == *-export* ]] && _ROLEHOP_OLD_EXPORTED+=($name)
        fi
    done
}

# Back to what the shell had before the first `use`; what was saved stays saved.
_rolehop_restore() {
    emulate -L zsh
    local name
    for name in @NAMES@; do
        unset $name
        if (( ${+_ROLEHOP_OLD[$name]} )); then
            typeset -g $name=${_ROLEHOP_OLD[$name]}
            (( ${_ROLEHOP_OLD_EXPORTED[(Ie)$name]} )) && export $name
        fi
    done
    return 0
}

_rolehop_off() {
    emulate -L zsh
    (( ${+_ROLEHOP_SAVED} )) || return 0
    _rolehop_restore
    unset _ROLEHOP_SAVED _ROLEHOP_OLD _ROLEHOP_OLD_EXPORTED _ROLEHOP_REFRESH_TRIED
}

# The shell's own clock: $EPOCHSECONDS (zsh/datetime), else the prompt escape %D{%s}.
# The one reader of the time: a test redefines this function to freeze it.
_rolehop_clock() {
    if (( ${+EPOCHSECONDS} )); then
        typeset -g _ROLEHOP_NOW=$EPOCHSECONDS
    else
        typeset -g _ROLEHOP_NOW=${(%):-%D{%s}}
    fi
    [[ $_ROLEHOP_NOW == <-> ]]
}

# Seconds left in _ROLEHOP_LEFT; fails without a (numeric) expiration or a clock.
_rolehop_seconds_left() {
    emulate -L zsh
    [[ ${ROLEHOP_EXPIRATION-} == <-> ]] || return 1
    _rolehop_clock || return 1
    typeset -g _ROLEHOP_LEFT=$(( ROLEHOP_EXPIRATION - _ROLEHOP_NOW ))
}

# The prompt segment in _ROLEHOP_SEGMENT: no process, no subshell.
_rolehop_segment() {
    emulate -L zsh
    typeset -g _ROLEHOP_SEGMENT=
    [[ -n ${ROLEHOP_PROFILE-} ]] || return 0
    local left='?' format
    if _rolehop_seconds_left; then
        if (( _ROLEHOP_LEFT < 60 )); then
            left=expired
        elif (( _ROLEHOP_LEFT < 3600 )); then
            left=$(( _ROLEHOP_LEFT / 60 ))m
        else
            printf -v left '%dh%02dm' $(( _ROLEHOP_LEFT / 3600 )) $(( _ROLEHOP_LEFT % 3600 / 60 ))
        fi
    fi
    if [[ -n ${ROLEHOP_PROMPT_FORMAT-} ]]; then
        format=$ROLEHOP_PROMPT_FORMAT
    elif [[ ${ROLEHOP_PROMPT_ASCII-} == 1 ]]; then
        format='[%p %t]'
    else
        format='⛅ %p %t'
    fi
    format=${format//\%p/$ROLEHOP_PROFILE}
    _ROLEHOP_SEGMENT=${format//\%t/$left}
}

# e.g. setopt prompt_subst; PROMPT='$(rolehop_prompt) %~ %# '
rolehop_prompt() {
    _rolehop_segment
    print -rn -- $_ROLEHOP_SEGMENT
}

_rolehop_inside_margin() {
    emulate -L zsh
    _rolehop_seconds_left || return 1
    local margin=${ROLEHOP_REFRESH_MARGIN-}
    [[ $margin == <-> ]] || margin=@MARGIN@
    (( _ROLEHOP_LEFT <= margin ))
}

# One `rolehop use` when the credentials are inside the margin, and one try per set of
# credentials: after a failure, or when the new ones are inside the margin too (a margin
# longer than their lifetime), nothing runs again until the next `rolehop use`.
_rolehop_auto_refresh() {
    [[ ${ROLEHOP_AUTO_REFRESH-} == 1 && -n ${ROLEHOP_PROFILE-} ]] || return 0
    [[ ${_ROLEHOP_REFRESH_TRIED-} != "${ROLEHOP_EXPIRATION-}" ]] || return 0
    _rolehop_inside_margin || return 0
    _rolehop_apply keep "$ROLEHOP_PROFILE"
    if _rolehop_inside_margin; then
        typeset -g _ROLEHOP_REFRESH_TRIED=$ROLEHOP_EXPIRATION
    fi
}

# precmd: the segment in front of PROMPT, its % doubled (a prompt escape in zsh). With
# prompt_subst, PROMPT is expanded: a profile name such as $(cmd) would run, so PROMPT
# then names a variable holding the segment (an expansion's result is not expanded again).
_rolehop_precmd() {
    local subst=0
    [[ -o prompt_subst ]] && subst=1
    emulate -L zsh
    [[ ${ROLEHOP_PROMPT-} == 1 ]] || return 0
    _rolehop_segment
    local prefix=${_ROLEHOP_SEGMENT//\%/%%}
    [[ -n $prefix ]] && prefix+=' '
    if (( subst )); then
        typeset -g _ROLEHOP_PROMPT_SEGMENT=$prefix
        prefix='${_ROLEHOP_PROMPT_SEGMENT}'
    fi
    if [[ -n ${_ROLEHOP_PROMPT_PREFIX-} && $PROMPT == "$_ROLEHOP_PROMPT_PREFIX"* ]]; then
        PROMPT=${PROMPT#"$_ROLEHOP_PROMPT_PREFIX"}
    fi
    PROMPT=$prefix$PROMPT
    typeset -g _ROLEHOP_PROMPT_PREFIX=$prefix
}

# preexec: before each command line that is not a `rolehop` command itself.
_rolehop_preexec() {
    [[ ${1-} == rolehop || ${1-} == 'rolehop '* ]] && return 0
    _rolehop_auto_refresh
}

autoload -Uz add-zsh-hook
[[ ${ROLEHOP_PROMPT-} == 1 ]] && add-zsh-hook precmd _rolehop_precmd
[[ ${ROLEHOP_AUTO_REFRESH-} == 1 ]] && add-zsh-hook preexec _rolehop_preexec

# Completion (click's, for the program and this function alike); needs compinit first.
if (( ${+functions[compdef]} )); then
@COMPLETION@
fi
"""

FISH = r"""# rolehop shell integration for fish (`rolehop init fish`).
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
    _rolehop_apply keep $ROLEHOP_PROFILE
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
"""

POWERSHELL = r"""# rolehop shell integration for PowerShell (`rolehop init powershell`).
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
"""

_PLACEHOLDER = re.compile(r"@(PROGRAM|NAMES|UNSET|MARGIN|COMPLETION|SHELL)@")

_TEMPLATES: dict[Shell, str] = {
    "bash": BASH,
    "zsh": ZSH,
    "fish": FISH,
    "powershell": POWERSHELL,
}


def invocation(shell: Shell, program: str | None) -> str:
    """How the snippet runs the program: its path quoted for ``shell``, else a PATH lookup
    that skips the ``rolehop`` function."""
    if shell == "fish":
        return f"command {quote_fish(program)}" if program else "command rolehop"
    if shell == "powershell":
        if program:
            return f"& {quote_powershell(program)}"
        return (
            "& (Get-Command -Name rolehop -CommandType Application -ErrorAction Stop"
            " | Select-Object -First 1)"
        )
    return quote_posix(program) if program else "command rolehop"


def _names(shell: Shell, names: tuple[str, ...]) -> str:
    if shell == "powershell":
        return ", ".join(quote_powershell(name) for name in names)
    return " ".join(names)


def snippet(shell: Shell, program: str | None, completion: str = "") -> str:
    """The integration for ``shell``, calling ``program`` (an absolute path; ``None``: look
    ``rolehop`` up on PATH), with ``completion`` (a completion script, or "") included."""
    values = {
        "PROGRAM": invocation(shell, program),
        "NAMES": _names(shell, MANAGED),
        "UNSET": _names(shell, UNSET),
        "MARGIN": str(DEFAULT_MARGIN_SECONDS),
        "SHELL": shell,
        "COMPLETION": completion.rstrip("\n") or "# (none)",
    }
    # one pass, so that nothing substituted (a path, say) is ever read as a placeholder
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], _TEMPLATES[shell])
