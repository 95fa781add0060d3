# rolehop shell integration for zsh (`rolehop init zsh`). In ~/.zshrc, after compinit:
#   eval "$(rolehop init zsh)"
# Opt in before that line: ROLEHOP_PROMPT=1 (prompt segment), ROLEHOP_AUTO_REFRESH=1.
zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null

_rolehop_program() { @PROGRAM@ "$@"; }
# tells `rolehop doctor` (a child process: it cannot see functions) the integration is on
export ROLEHOP_SHELL=zsh

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
    if [[ -n ${ROLEHOP_TARGET-} ]]; then
        _rolehop_apply keep --target "$ROLEHOP_TARGET"  # an ad-hoc role, or overrides
    else
        _rolehop_apply keep "$ROLEHOP_PROFILE"
    fi
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
