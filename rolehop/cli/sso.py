"""``sso login|logout|status|accounts``: IAM Identity Center sessions."""

from __future__ import annotations

import click

from rolehop.cli.options import json_option
from rolehop.cli.render import duration_text, json_document
from rolehop.cli.state import AppState, pass_state
from rolehop.common.text import printable


def _tell(message: str) -> None:
    click.echo(printable(message), err=True)


@click.group("sso")
def sso_group() -> None:
    """IAM Identity Center: sign in, sign out, and what a session reaches."""


@sso_group.command("login")
@click.argument("session", required=False)
@click.option(
    "--device-code",
    is_flag=True,
    help="The device authorization flow (SSH, WSL, containers): a URL and a code to enter.",
)
@click.option("--no-browser", is_flag=True, help="Print the sign-in URL instead of opening it.")
@click.option(
    "--export-token",
    is_flag=True,
    help="Also write the AWS CLI's token cache (~/.aws/sso/cache), for the AWS CLI and SDKs.",
)
@pass_state
def login(
    state: AppState, session: str | None, device_code: bool, no_browser: bool, export_token: bool
) -> None:
    """Sign in to SESSION (the only one configured, if not named).

    \b
      rolehop sso login corp
      rolehop sso login corp --device-code     # over SSH: a URL and a code
    """
    from rolehop.features.sso import login as flows
    from rolehop.features.sso.sessions import pick

    ctx = state.context
    chosen = pick(ctx.config, session)
    options = flows.Options(
        device_code=device_code,
        open_browser=not no_browser,
        export_token=export_token,
        tell=_tell,
    )
    signed = flows.login(ctx, chosen, options)
    left = duration_text(signed.expires_at - ctx.clock())
    click.echo(
        f"rolehop: signed in to IAM Identity Center session {chosen.name!r} ({left})", err=True
    )


@sso_group.command("logout")
@click.argument("session", required=False)
@pass_state
def logout(state: AppState, session: str | None) -> None:
    """Sign out of SESSION: the portal ends it, its tokens and role credentials go."""
    from rolehop.features.sso import manage as admin
    from rolehop.features.sso.sessions import pick

    ctx = state.context
    done = admin.logout(ctx, pick(ctx.config, session))
    where = ", ".join(done.removed) or "nowhere (none held)"
    click.echo(
        f"rolehop: signed out of IAM Identity Center session {done.session!r}: tokens removed "
        f"from {where}; {done.forgotten} cached credential(s) forgotten",
        err=True,
    )


@sso_group.command("status")
@json_option
@pass_state
def status(state: AppState, as_json: bool) -> None:
    """Each session: signed in or not, until when, refreshable or not. Never a token."""
    from rolehop.features.sso import manage as admin

    ctx = state.context
    rows = admin.status(ctx)
    if as_json:
        click.echo(json_document({"sessions": [row.to_json() for row in rows]}))
        return
    if not rows:
        click.echo("no IAM Identity Center session is configured", err=True)
        return
    now = ctx.clock()
    width = max(len("SESSION"), *(len(row.name) for row in rows))
    click.echo(f"{'SESSION'.ljust(width)}  STATE       LEFT     REFRESH  START URL")
    for row in rows:
        state_text = (
            "signed in" if row.signed_in else ("expired" if row.expires_at else "signed out")
        )
        left = duration_text(row.expires_at - now) if row.signed_in and row.expires_at else "-"
        refresh = "yes" if row.refreshable else "no"
        line = (
            f"{row.name.ljust(width)}  {state_text:<10}  {left:<7}  {refresh:<7}  {row.start_url}"
        )
        click.echo(printable(line))


@sso_group.command("accounts")
@click.argument("session", required=False)
@json_option
@pass_state
def accounts(state: AppState, session: str | None, as_json: bool) -> None:
    """The accounts and permission sets SESSION reaches."""
    from rolehop.features.sso import manage as admin
    from rolehop.features.sso.sessions import pick

    ctx = state.context
    chosen = pick(ctx.config, session)
    found = admin.accounts(ctx, chosen)
    if as_json:
        click.echo(
            json_document({"session": chosen.name, "accounts": [a.to_json() for a in found]})
        )
        return
    for account in found:
        click.echo(printable(f"{account.account_id}  {account.name}  {', '.join(account.roles)}"))


def register(group: click.Group) -> None:
    group.add_command(sso_group)
