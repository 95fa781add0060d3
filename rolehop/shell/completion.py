"""Completion of a profile name as click's shell protocol asks for it, in one place for the
two ways it is answered: click (rolehop.cli.complete) and the entry's fast path, which asks
the agent for the names and answers ``rolehop CMD <Tab>`` without importing click.

Imported on the cache-hit path: the standard library and rolehop.config.validate only.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping

from rolehop.config.validate import PROFILE_NAME

# the commands whose first argument is a profile completed by name (rolehop.cli.complete);
# a test checks this against the commands click has
PROFILE_COMMANDS = frozenset(
    {"env", "credential-process", "exec", "use", "serve", "login", "whoami", "graph", "explain"}
)
PROTOCOLS = ("bash_complete", "zsh_complete", "fish_complete")
# What bash would split, expand or glob in a word typed as it is
_BASH_SPECIAL = re.compile(r"""([^\w@%+:,./=-])""")


def typed(name: str, protocol: str) -> str:
    """``name`` as the shell puts it on the command line. click's bash script puts each
    value into COMPREPLY as it is, which bash inserts as typed text: "team dev" would be two
    words. Each special character is escaped with a backslash, itself escaped once more
    for the script's ``read`` (without -r). zsh (compadd) and fish quote what they insert
    themselves."""
    if protocol.startswith("bash"):
        return _BASH_SPECIAL.sub(lambda match: "\\\\\\" + match.group(1), name)
    return name


def matching(names: Iterable[str], incomplete: str, protocol: str) -> list[str]:
    """The values to offer for ``incomplete``, sorted: a name with control characters is no
    profile, nothing to type on a command line."""
    return [
        typed(name, protocol)
        for name in sorted(names)
        if name.startswith(incomplete) and PROFILE_NAME.fullmatch(name)
    ]


def _split(text: str) -> list[str]:
    """click's ``split_arg_string``: shlex, keeping an unfinished last word as it is."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        words.extend(lexer)
    except ValueError:
        words.append(lexer.token)
    return words


def request(environ: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(protocol, command, incomplete) when click would complete the first argument of a
    PROFILE_COMMANDS command with profile names (``rolehop CMD <Tab>``, nothing else on the
    line); None for anything else, which click answers."""
    protocol = environ.get("_ROLEHOP_COMPLETE", "")
    if protocol not in PROTOCOLS or "COMP_WORDS" not in environ:
        return None
    words = _split(environ["COMP_WORDS"])
    try:
        if protocol == "fish_complete":
            incomplete = environ.get("COMP_CWORD", "")
            incomplete = _split(incomplete)[0] if incomplete else ""
            args = words[1:]
            if incomplete and args and args[-1] == incomplete:
                args.pop()
        else:
            cword = int(environ.get("COMP_CWORD", ""))
            args = words[1:cword]
            try:
                incomplete = words[cword]
            except IndexError:
                incomplete = ""
    except (ValueError, IndexError):
        return None  # click says what is wrong
    if len(args) != 1 or args[0] not in PROFILE_COMMANDS or incomplete.startswith("-"):
        return None
    return protocol, args[0], incomplete


def answer(values: list[str], protocol: str) -> str:
    """click's output for ``values`` (plain items without help), its final newline too:
    click 8.5's formats (pyproject.toml pins the minor version; a test compares them)."""
    if protocol == "zsh_complete":
        lines = [f"plain\n{value}\n_" for value in values]
    else:  # bash, fish
        lines = [f"plain,{value}" for value in values]
    return "\n".join(lines) + "\n"
