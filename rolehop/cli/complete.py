"""Dynamic completion of profile names: the config files only, no boto3, no keyring."""

from __future__ import annotations

import configparser
import os

import click
from click.shell_completion import CompletionItem

from rolehop.config import files as configs
from rolehop.errors import RolehopError
from rolehop.shell import completion


def profile_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Role profiles of rolehop's TOML and of the AWS config that start with ``incomplete``."""
    return _names(ctx, incomplete, bases=False)


def source_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """``--source``: every profile, bases too (where a chain usually starts)."""
    return _names(ctx, incomplete, bases=True)


def _names(ctx: click.Context, incomplete: str, *, bases: bool) -> list[CompletionItem]:
    root = ctx.find_root()
    override = root.params.get("config_path") if root.params else None
    try:
        names = configs.profile_names(os.environ, override, bases=bases)
    except (RolehopError, ValueError, OSError, RecursionError, configparser.Error):
        return []  # a broken config completes nothing; the command itself will say why
    protocol = os.environ.get("_ROLEHOP_COMPLETE", "")
    return [CompletionItem(value) for value in completion.matching(names, incomplete, protocol)]
