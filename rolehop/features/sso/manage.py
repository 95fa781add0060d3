"""``rolehop sso logout``, ``status`` and ``accounts``: a session's sign-in, what it is
worth, and what it reaches. Nothing here returns a token."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from rolehop.aws import identity_center as portal
from rolehop.config.model import SsoSession
from rolehop.engine import access_tokens as tokens
from rolehop.engine import chain as chains
from rolehop.engine.context import Context
from rolehop.engine.resolve import build_chain, stored_key_id
from rolehop.errors import CacheError, NetworkError, RolehopError, SsoError
from rolehop.features.sso.sessions import known
from rolehop.stores import sign_ins

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    """One session, as ``sso status`` shows it."""

    name: str
    start_url: str
    region: str
    signed_in: bool
    expires_at: datetime | None
    refreshable: bool
    source: str | None  # "keyring" or "aws-cli": whose sign-in it is

    def to_json(self) -> dict[str, object]:
        return {
            "session": self.name,
            "start_url": self.start_url,
            "region": self.region,
            "signed_in": self.signed_in,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refreshable": self.refreshable,
            "source": self.source,
        }


def status(ctx: Context) -> list[Status]:
    """Every configured session: signed in or not, until when, refreshable or not."""
    now = ctx.clock()
    found: list[Status] = []
    for name, session in sorted(known(ctx.config).items()):
        sign_in, source = tokens.current(ctx, session)
        found.append(
            Status(
                name=name,
                start_url=session.start_url,
                region=session.region,
                signed_in=sign_in is not None and sign_in.remaining(now) > 0,
                expires_at=sign_in.expires_at if sign_in else None,
                refreshable=sign_in is not None and sign_in.refreshable,
                source=source if sign_in else None,
            )
        )
    return found


@dataclass(frozen=True)
class LoggedOut:
    """What ``sso logout`` did."""

    session: str
    portal: bool  # the portal ended the session
    removed: tuple[str, ...]  # where tokens were removed: "keyring", the AWS CLI's file
    forgotten: int  # cached role credentials made from the session


def logout(ctx: Context, session: SsoSession) -> LoggedOut:
    """End ``session``: the portal's Logout, then every token rolehop holds or exported
    for it, and the role credentials made from it."""
    sign_in, _ = tokens.current(ctx, session)
    ended = False
    if sign_in is not None and sign_in.remaining(ctx.clock()) > 0:
        try:
            portal.logout(ctx.sso_clients("sso", session.region), sign_in.access_token)
            ended = True
        except (SsoError, NetworkError) as error:  # the local tokens go all the same
            ctx.warn(f"IAM Identity Center session {session.name!r}: {error}")
    removed: list[str] = []
    try:
        if ctx.sign_ins.delete(session.name):
            removed.append("keyring")
    except CacheError as error:
        ctx.warn(str(error))
    if sign_ins.remove_aws_cli(ctx.environ, session.name):
        removed.append(sign_ins.aws_cli_cache_directory(ctx.environ))
    keys = made_from(ctx, session)
    forgotten = ctx.cache.remove(keys) if keys else 0
    return LoggedOut(session.name, ended, tuple(removed), forgotten)


def made_from(ctx: Context, session: SsoSession) -> set[str]:
    """The cache keys of every chain that starts at an SSO base of ``session``, and of
    those bases themselves."""
    keys: set[str] = set()
    for name in ctx.config.profiles:
        try:
            built = build_chain(ctx, name, lambda: set())
        except RolehopError:
            continue
        if built.base.sso is not None and built.base.sso.session == session.name:
            keys.update(built.keys)
    for name in {*ctx.config.base_profiles, *ctx.config.aws_bases}:
        try:
            base = chains.build_base(
                ctx.config, name, ctx.environ, lambda: set(), lambda n: stored_key_id(ctx, n)
            )
        except RolehopError:
            continue
        if base.base.sso is not None and base.base.sso.session == session.name:
            keys.update(base.keys)
    return keys


@dataclass(frozen=True)
class AccountRoles:
    """One account the session reaches, and its permission sets."""

    account_id: str
    name: str
    email: str
    roles: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "name": self.name,
            "email": self.email,
            "roles": list(self.roles),
        }


def accounts(ctx: Context, session: SsoSession) -> list[AccountRoles]:
    """ListAccounts and ListAccountRoles, every page, with a valid token."""
    token = tokens.access_token(ctx, session, None)
    client = ctx.sso_clients("sso", session.region)
    with ctx.busy(f"listing the accounts of IAM Identity Center session {session.name!r}"):
        found = portal.accounts(client, token)
        return sorted(
            (
                AccountRoles(
                    account.account_id,
                    account.name,
                    account.email,
                    tuple(sorted(portal.account_roles(client, token, account.account_id))),
                )
                for account in found
            ),
            key=lambda item: (item.name.lower(), item.account_id),
        )
