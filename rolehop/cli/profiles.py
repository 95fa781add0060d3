"""``list``: the profiles rolehop knows, from its TOML file and the AWS config."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from rolehop.cli import AppState, pass_state


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def list_(state: AppState, as_json: bool) -> None:
    """List profiles: role, where the chain starts, how many hops."""
    summaries = state.app.profiles()
    if as_json:
        rows = [
            {**asdict(s), "chain": list(s.chain), "hops": max(len(s.chain) - 1, 0)}
            for s in summaries
        ]
        click.echo(json.dumps({"version": 1, "profiles": rows}, indent=2))
        return
    if not summaries:
        click.echo(f"no profiles: add [profiles.NAME] to {state.app.config.path}", err=True)
        return
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
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    for s in summaries:
        if s.error:
            click.echo(f"rolehop: warning: {s.error}", err=True)


def register(group: click.Group) -> None:
    group.add_command(list_)
