"""``cache clear``: forget cached credentials."""

from __future__ import annotations

from datetime import timedelta

import click

from rolehop.cli.complete import profile_names
from rolehop.cli.options import json_option
from rolehop.cli.render import duration_text, json_document
from rolehop.cli.state import AppState, pass_state
from rolehop.common.creds import format_expiration
from rolehop.common.text import printable
from rolehop.engine import admin


@click.group("cache")
def cache_group() -> None:
    """Manage the credentials cached in the OS keyring."""


@cache_group.command("clear")
@click.argument("profile", required=False, shell_complete=profile_names)
@pass_state
def clear(state: AppState, profile: str | None) -> None:
    """Remove cached credentials of PROFILE's chain, or of every profile."""
    removed = admin.clear_cache(state.context, profile)
    what = f"profile {profile!r}" if profile else "all profiles"
    click.echo(f"removed {removed} cached credential{'s' if removed != 1 else ''} ({what})")


@cache_group.command("list")
@json_option
@pass_state
def list_(state: AppState, as_json: bool) -> None:
    """List cached credentials: profile, expiry, time left. Never a secret."""
    entries = admin.cache_entries(state.context)
    if as_json:
        rows = [
            {
                "key": entry.key,
                "profile": entry.profile,
                "expiration": format_expiration(entry.expiration) if entry.expiration else None,
                "seconds_left": int(entry.remaining.total_seconds()) if entry.remaining else None,
            }
            for entry in entries
        ]
        click.echo(json_document({"entries": rows}))
        return
    if not entries:
        click.echo("the cache is empty", err=True)
        return
    width = max(len("PROFILE"), *(len(entry.profile) for entry in entries))
    click.echo(f"{'PROFILE'.ljust(width)}  EXPIRES               LEFT     KEY")
    for entry in entries:
        expires = format_expiration(entry.expiration) if entry.expiration else "-"
        click.echo(
            printable(
                f"{entry.profile.ljust(width)}  {expires:<20}  {_left(entry.remaining):<7}  "
                f"{entry.key[:12]}"
            )
        )


def _left(remaining: timedelta | None) -> str:
    if remaining is None:
        return "-"
    if remaining.total_seconds() <= 0:
        return "expired"
    return duration_text(remaining)


def register(group: click.Group) -> None:
    group.add_command(cache_group)
