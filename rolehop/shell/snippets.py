"""The shell code ``rolehop init SHELL`` prints: ``rolehop use``, a prompt segment, hooks.

The snippet defines a shell function ``rolehop`` that wraps the program: ``rolehop use
PROFILE`` evaluates ``rolehop env PROFILE`` in the current shell (a later ``use`` first puts
back what the shell had before the first one), ``rolehop use --off`` puts that back for
good, and everything else runs the program. fish's universal variables are never changed.

The prompt segment (``rolehop_prompt``) and the auto-refresh check run before every prompt
or command, so they are computed from environment variables and the shell's own clock
alone: no process is ever started for them (bash: ``$EPOCHSECONDS`` or ``printf
'%(%s)T'``; zsh: ``zsh/datetime``; fish has no clock builtin, so it reads ``/proc`` with
builtins, see init.fish). Only ``use`` itself, and an auto-refresh inside the margin,
run the program.

The snippets are shell programs of their own beside this module: init.bash, init.zsh,
init.fish and init.ps1. This module only fills in what is known at ``init`` time: how to call
the program, the names of the variables ``use`` manages, the refresh margin and click's
completion script. :func:`snippet` turns a shell, the program's path and a completion
script into text, reading nothing but those files.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

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
    "ROLEHOP_TARGET",
)

# Auto-refresh runs when less than this remains, unless ROLEHOP_REFRESH_MARGIN (seconds)
# says otherwise: the same default as ``refresh_margin``, so that the refresh finds the
# cache expired too and brings new credentials.
DEFAULT_MARGIN_SECONDS = int(DEFAULT_REFRESH_MARGIN.total_seconds())

# The four programs, shipped beside this module as package data (pyproject.toml): real
# files, so that editors highlight them, shellcheck reads the bash one (tests), and a diff
# of a snippet reads as shell. Each holds the placeholders below, filled in by snippet().
FILES: dict[Shell, str] = {
    "bash": "init.bash",
    "zsh": "init.zsh",
    "fish": "init.fish",
    "powershell": "init.ps1",
}

_PLACEHOLDER = re.compile(r"@(PROGRAM|NAMES|UNSET|MARGIN|COMPLETION)@")


def source_file(shell: Shell) -> Traversable:
    """The file of ``shell``'s snippet in the installed package (importlib.resources: a
    zipped install works too)."""
    return files("rolehop.shell").joinpath(FILES[shell])


@cache
def template(shell: Shell) -> str:
    """The snippet of ``shell`` as shipped, placeholders unfilled."""
    # bytes decoded here: read_text() would translate the file's newlines on some platforms
    return source_file(shell).read_bytes().decode("utf-8")


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
        "COMPLETION": completion.rstrip("\n") or "# (none)",
    }
    # one pass, so that nothing substituted (a path, say) is ever read as a placeholder
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template(shell))
