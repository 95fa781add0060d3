"""``login``: open the AWS console as a profile's role, or print its sign-in URL."""

from __future__ import annotations

import click

from rolehop.cli.options import (
    make_target,
    mfa_token_option,
    optional_profile_argument,
    refresh_option,
    region_option,
    role_arn_option,
    source_option,
)
from rolehop.cli.state import AppState, pass_state
from rolehop.common.text import printable


@click.command()
@optional_profile_argument
@role_arn_option
@source_option
@region_option
@click.option(
    "--destination",
    metavar="URL",
    help="The console page to open: an https URL, or a path such as /s3/home "
    "(default: the console home, in the profile's region).",
)
@click.option(
    "--duration",
    type=click.IntRange(900, 43200),
    metavar="SECONDS",
    help="How long the console session lasts. Only for a role assumed straight "
    "from long-term keys; otherwise, and by default, it lasts as long as the credentials.",
)
@click.option(
    "--print",
    "print_url",
    is_flag=True,
    help="Print the sign-in URL instead of opening a browser. It is a credential: anyone "
    "holding it signs in, for 15 minutes.",
)
@refresh_option
@mfa_token_option
@pass_state
def login(
    state: AppState,
    profile: str | None,
    role_arn: str | None,
    source: str | None,
    region: str | None,
    destination: str | None,
    duration: int | None,
    print_url: bool,
    refresh: bool,
    mfa_token: str | None,
) -> None:
    """Sign in to the AWS console as PROFILE, in the browser.

    \b
      rolehop login research-ro
      rolehop login research-ro --destination /s3/home
      rolehop login research-ro --print       # the sign-in URL itself
      rolehop login --role-arn arn:aws:iam::123456789012:role/Audit --source dev

    --duration here is the console session's, not the credentials'.
    """
    # imported here: urllib.request, the loopback server and webbrowser stay off the hot path
    from rolehop.engine.targets import bind
    from rolehop.features.login import browser, federation

    context, name = bind(state.context, make_target(profile, role_arn, source, region))
    signed = federation.login(
        context,
        name,
        destination=destination,
        duration=duration,
        refresh=refresh,
        mfa_token=mfa_token,
    )
    if print_url:
        click.echo(signed.url)
        return
    browser.open_in_browser(signed.url)
    click.echo(
        f"rolehop: opened the AWS console as {name!r}: {printable(signed.destination)}",
        err=True,
    )


def register(group: click.Group) -> None:
    group.add_command(login)
