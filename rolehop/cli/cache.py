"""``cache clear``: forget cached credentials."""

from __future__ import annotations

import click

from rolehop.cli import AppState, pass_state
from rolehop.cli.complete import profile_names


@click.group("cache")
def cache_group() -> None:
    """Manage the credentials cached in the OS keyring."""


@cache_group.command("clear")
@click.argument("profile", required=False, shell_complete=profile_names)
@pass_state
def clear(state: AppState, profile: str | None) -> None:
    """Remove cached credentials of PROFILE's chain, or of every profile."""
    removed = state.app.clear_cache(profile)
    what = f"profile {profile!r}" if profile else "all profiles"
    click.echo(f"removed {removed} cached credential{'s' if removed != 1 else ''} ({what})")


def register(group: click.Group) -> None:
    group.add_command(cache_group)
