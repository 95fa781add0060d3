"""Options shared by several commands: one definition each."""

from __future__ import annotations

import click

from rolehop.cli.complete import profile_names
from rolehop.cli.state import AppState


def _json_output(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    state = ctx.find_object(AppState)
    if value and state is not None:
        state.json_output = True
    return value


# --json of every command: eager, so that a later usage error is JSON too
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    is_eager=True,
    callback=_json_output,
    help="Machine-readable output (an error too: a JSON object on stdout).",
)


refresh_option = click.option(
    "--refresh", is_flag=True, help="Ignore cached credentials and assume the roles again."
)
mfa_token_option = click.option(
    "--mfa-token",
    metavar="CODE",
    help="The MFA code, if one is needed (else mfa_process, else a prompt on the terminal).",
)
no_session_option = click.option(
    "--no-session",
    is_flag=True,
    help="For a base profile: its long-term keys themselves, not a session made from them.",
)
server_option = click.option(
    "--server",
    is_flag=True,
    help="Give COMMAND a local credentials endpoint that refreshes, not static keys.",
)
profile_argument = click.argument("profile", shell_complete=profile_names)
