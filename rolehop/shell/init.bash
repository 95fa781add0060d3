# rolehop shell integration for bash (`rolehop init bash`). In ~/.bashrc:
#   eval "$(rolehop init bash)"
# Opt in before that line: ROLEHOP_PROMPT=1 (prompt segment), ROLEHOP_AUTO_REFRESH=1.
_rolehop_program() { @PROGRAM@ "$@"; }
# tells `rolehop doctor` (a child process: it cannot see functions) the integration is on
export ROLEHOP_SHELL=bash

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
    if [ -n "${ROLEHOP_TARGET-}" ]; then
        _rolehop_apply keep --target "$ROLEHOP_TARGET"  # an ad-hoc role, or overrides
    else
        _rolehop_apply keep "$ROLEHOP_PROFILE"
    fi
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
