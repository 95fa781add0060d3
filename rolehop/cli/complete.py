"""Dynamic completion of profile names: the config files only, no boto3, no keyring."""

from __future__ import annotations

import configparser
import os
import re

import click
from click.shell_completion import CompletionItem

from rolehop.config import files as configs
from rolehop.config import validate
from rolehop.errors import RolehopError

# What bash would split, expand or glob in a word typed as it is
_BASH_SPECIAL = re.compile(r"""([^\w@%+:,./=-])""")


def _typed(name: str) -> str:
    """``name`` as the shell puts it on the command line. click's bash script puts each
    value into COMPREPLY as it is, which bash inserts as typed text: "team dev" would be two
    words. Each special character is escaped with a backslash, itself escaped once more
    for the script's ``read`` (without -r). zsh (compadd) and fish quote what they insert
    themselves."""
    if os.environ.get("_ROLEHOP_COMPLETE", "").startswith("bash"):
        return _BASH_SPECIAL.sub(lambda match: "\\\\\\" + match.group(1), name)
    return name


def profile_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Role profiles of rolehop's TOML and of the AWS config that start with ``incomplete``."""
    root = ctx.find_root()
    override = root.params.get("config_path") if root.params else None
    try:
        names = sorted(configs.profile_names(os.environ, override))
    except (RolehopError, ValueError, OSError, RecursionError, configparser.Error):
        return []  # a broken config completes nothing; the command itself will say why
    return [
        CompletionItem(_typed(name))
        for name in names
        # a name with control characters is no profile: nothing to type on a command line
        if name.startswith(incomplete) and validate.PROFILE_NAME.fullmatch(name)
    ]
