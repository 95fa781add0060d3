"""An IAM Identity Center session's access token, when a chain needs one: rolehop's own
sign-in (the keyring) or the AWS CLI's (its token cache), refreshed silently when it is
expired or within 5 minutes of expiry, once for all parallel callers (the same
cross-process lock as AssumeRole), else signed in anew (when a terminal allows) or the
one line that says how."""

from __future__ import annotations

import logging
import shlex
from dataclasses import replace
from datetime import timedelta

from rolehop.aws import identity_center as portal
from rolehop.common.sign_in import Registration, SignIn
from rolehop.config.model import SsoSession
from rolehop.engine.context import Context
from rolehop.engine.hops import digest
from rolehop.errors import CacheError, SsoError, SsoLoginRequired
from rolehop.stores import sign_ins

REFRESH_WINDOW = timedelta(minutes=5)
log = logging.getLogger(__name__)


def lock_key(session: SsoSession) -> str:
    """The lock of a session's token: one refresh (or sign-in) at a time."""
    return digest({"kind": "sso-token", "session": session.name, "start_url": session.start_url})


def stored(ctx: Context, session: SsoSession) -> SignIn | None:
    """rolehop's sign-in of ``session`` (None without a keyring)."""
    try:
        found = ctx.sign_ins.get(session.name)
    except CacheError as error:
        log.debug("sso: %s", error)
        return None
    return found if found is not None and found.start_url == session.start_url else None


def current(ctx: Context, session: SsoSession) -> tuple[SignIn | None, str]:
    """The sign-in to use and where it is (``keyring`` or ``aws-cli``): the one that lasts
    longer of rolehop's and the AWS CLI's (``aws sso login``) for this start URL."""
    mine = stored(ctx, session)
    theirs = sign_ins.read_aws_cli(ctx.environ, session.name)
    if theirs is not None and theirs.start_url != session.start_url:
        theirs = None
    if theirs is not None and (mine is None or theirs.expires_at > mine.expires_at):
        return theirs, "aws-cli"
    return mine, "keyring"


def access_token(
    ctx: Context, session: SsoSession, target: str | None, refused: str | None = None
) -> str:
    """A valid access token of ``session`` for profile ``target``: as it is while more than
    5 minutes remain, else refreshed (or signed in anew) under the session's lock.
    ``refused``: a token the portal refused, not to be handed out again."""
    found, _ = current(ctx, session)
    if _good(ctx, found, refused):
        assert found is not None
        return found.access_token
    with ctx.locks.hold(lock_key(session), f"IAM Identity Center session {session.name!r}"):
        found, source = current(ctx, session)  # another process may have refreshed it
        if _good(ctx, found, refused):
            assert found is not None
            return found.access_token
        if found is not None and found.refreshable:
            refreshed = _refresh(ctx, session, found, source)
            if refreshed is not None:
                return refreshed.access_token
        if found is not None and found.access_token != refused and found.remaining(ctx.clock()) > 0:
            return found.access_token  # expiring soon, but not refreshable: good for now
        if ctx.sso_login is not None:
            ctx.sso_login(session)
            found, _ = current(ctx, session)
            if found is not None and found.remaining(ctx.clock()) > 0:
                return found.access_token
        raise login_required(target, session, found is not None)


def _good(ctx: Context, found: SignIn | None, refused: str | None) -> bool:
    return (
        found is not None
        and found.access_token != refused
        and found.remaining(ctx.clock()) > REFRESH_WINDOW.total_seconds()
    )


def login_required(target: str | None, session: SsoSession, expired: bool) -> SsoLoginRequired:
    """The one line that says a session needs a sign-in, and how (``target``: the profile
    that needed it, if any)."""
    state = "has expired" if expired else "is not signed in"
    subject = f"profile {target!r}: " if target else ""
    return SsoLoginRequired(
        f"{subject}IAM Identity Center session {session.name!r} {state}: run "
        f"rolehop sso login {shlex.quote(session.name)}",
        session.name,
    )


def _refresh(ctx: Context, session: SsoSession, found: SignIn, source: str) -> SignIn | None:
    """CreateToken with the refresh token; the new sign-in kept where the old one was
    (and exported, when the setting says so). None when IAM Identity Center refuses it."""
    assert found.client_id and found.client_secret and found.refresh_token
    registration = Registration(
        found.client_id,
        found.client_secret,
        found.registration_expires_at or ctx.clock(),
    )
    oidc = ctx.sso_clients("sso-oidc", session.region)
    try:
        with ctx.busy(f"refreshing the IAM Identity Center session {session.name!r}"):
            tokens = portal.create_token(
                oidc,
                registration,
                "refresh_token",
                now=ctx.clock(),
                refreshToken=found.refresh_token,
            )
    except portal.OidcError as error:
        log.debug("sso: refresh of %r refused: %s", session.name, error.code)
        return None
    except SsoError as error:
        log.debug("sso: refresh of %r failed: %s", session.name, error)
        return None
    refreshed = replace(
        found,
        access_token=tokens.access_token,
        expires_at=tokens.expires_at,
        refresh_token=tokens.refresh_token or found.refresh_token,
    )
    keep(ctx, session, refreshed, aws_cli=source == "aws-cli")
    return refreshed


def keep(ctx: Context, session: SsoSession, sign_in: SignIn, *, aws_cli: bool = False) -> None:
    """Store ``sign_in`` in the keyring; in the AWS CLI's file too when it came from there,
    or when the user exports sign-ins (the ``sso_export_token`` setting)."""
    try:
        ctx.sign_ins.put(session.name, sign_in)
    except CacheError:
        if not aws_cli:
            raise
    if aws_cli or ctx.config.settings.sso_export_token:
        sign_ins.write_aws_cli(ctx.environ, session.name, sign_in)
