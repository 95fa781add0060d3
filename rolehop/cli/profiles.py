"""``list``: the profiles rolehop knows, from its TOML file and the AWS config."""

from __future__ import annotations

from datetime import datetime

import click

from rolehop.cli import terminal
from rolehop.cli.options import json_option
from rolehop.cli.render import duration_text
from rolehop.cli.state import AppState, pass_state
from rolehop.common.text import printable
from rolehop.engine import list_text, views
from rolehop.engine.rows import ProfileSummary


@click.command("list")
@json_option
@pass_state
def list_(state: AppState, as_json: bool) -> None:
    """List profiles: role, where the chain starts, how many hops; and base profiles
    (no role, 0 hops), which env, exec and credential-process hand out themselves."""
    summaries = views.profiles(state.context)
    if as_json:
        click.echo(list_text.json_text(summaries), nl=False)
        return
    if not summaries:
        click.echo(f"no profiles: add [profiles.NAME] to {state.context.config.path}", err=True)
        return
    if terminal.stdout_is_terminal():
        _rich_table(summaries, state.context.clock())
    else:
        click.echo(list_text.plain_table(summaries), nl=False)
    click.echo(list_text.warnings(summaries), nl=False, err=True)


def _left(until: datetime | None, now: datetime) -> str:
    return "-" if until is None else duration_text(until - now)


def _rich_table(summaries: list[ProfileSummary], now: datetime) -> None:
    """For people: the account of each role stands out; NO_COLOR turns colour off."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold")
    for column in ("Profile", "Role", "Chain", "Region", "Cached", "Credentials", "From"):
        table.add_column(column, overflow="fold")
    for s in summaries:
        role = Text(s.role_arn or "-")
        if s.role_arn and s.role_arn.count(":") >= 5:
            start = len(":".join(s.role_arn.split(":")[:4])) + 1
            role.stylize("bold cyan", start, start + 12)
        chain = (
            Text(printable(" → ".join(s.chain)))
            if s.chain
            else Text(printable("✗ " + (s.error or "?")), "red")
        )
        # Text, never str: rich reads markup in a str ("[bold]x" is a name the AWS CLI takes)
        table.add_row(
            Text(printable(s.name)),
            role,
            chain,
            s.region or "-",
            _left(s.cached_until, now),
            Text(printable(s.credentials or "-")),
            s.origin,
        )
    Console().print(table)


def register(group: click.Group) -> None:
    group.add_command(list_)
