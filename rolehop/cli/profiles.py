"""``list``: the profiles rolehop knows, from its TOML file and the AWS config."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import click

from rolehop.cli import terminal
from rolehop.cli.options import json_option
from rolehop.cli.render import duration_text, json_document
from rolehop.cli.state import AppState, pass_state
from rolehop.common.creds import format_expiration
from rolehop.common.text import error_line, printable
from rolehop.engine import views
from rolehop.engine.rows import ProfileSummary


@click.command("list")
@json_option
@pass_state
def list_(state: AppState, as_json: bool) -> None:
    """List profiles: role, where the chain starts, how many hops; and base profiles
    (no role, 0 hops), which env, exec and credential-process hand out themselves."""
    summaries = views.profiles(state.context)
    if as_json:
        rows = [
            {
                **asdict(s),
                "chain": list(s.chain),
                "hops": max(len(s.chain) - 1, 0),
                "cached_until": format_expiration(s.cached_until) if s.cached_until else None,
            }
            for s in summaries
        ]
        # "profiles" keeps what it always held, the role profiles; base profiles apart
        document = {
            "profiles": [row for row in rows if row["kind"] == "role"],
            "bases": [row for row in rows if row["kind"] == "base"],
        }
        click.echo(json_document(document))
        return
    if not summaries:
        click.echo(f"no profiles: add [profiles.NAME] to {state.context.config.path}", err=True)
        return
    if terminal.stdout_is_terminal():
        _rich_table(summaries, state.context.clock())
    else:
        _plain_table(summaries)
    # a broken source profile breaks every profile built on it with its own error: once
    for error in dict.fromkeys(s.error for s in summaries if s.error):
        click.echo(error_line(f"rolehop: warning: {error}"), err=True)


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


def _plain_table(summaries: list[ProfileSummary]) -> None:
    """For pipes and scripts: plain aligned columns, no colour."""
    header = ("PROFILE", "ROLE", "SOURCE", "HOPS", "REGION", "FROM", "CREDENTIALS")
    table = [header]
    for s in summaries:
        table.append(
            (
                s.name,
                s.role_arn or "-",
                s.chain[0] if s.chain else (s.source or "-"),
                str(len(s.chain) - 1) if s.chain else "!",
                s.region or "-",
                s.origin,
                s.credentials or "-",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(printable(line.rstrip()))


def register(group: click.Group) -> None:
    group.add_command(list_)
