"""The one place that decides a chain's providers: the base's source, the MFA session,
each AssumeRole, each wrapped in the cache and the cross-process lock.

As botocore's ``create_credential_resolver`` and aws-vault's ``GetProviderForProfile``:
one provider per module (rolehop.engine.providers), composed here and nowhere else.
"""

from __future__ import annotations

from datetime import timedelta

from rolehop.common.progress import Busy, quiet
from rolehop.engine.context import Context
from rolehop.engine.hops import BaseHop, BaseTarget, Chain
from rolehop.engine.providers import MfaCodeSource, Provider
from rolehop.engine.providers.assume_role import AssumeRoleProvider
from rolehop.engine.providers.aws_profile import AwsProfileProvider
from rolehop.engine.providers.cached import CachedProvider
from rolehop.engine.providers.credential_source import CredentialSourceProvider
from rolehop.engine.providers.locked import LockedProvider
from rolehop.engine.providers.permission_set import SsoProvider
from rolehop.engine.providers.session_token import SessionTokenProvider
from rolehop.engine.providers.stored_keys import StoredKeysProvider
from rolehop.engine.providers.web_identity import WebIdentityProvider

# What a chain's own sessions (the MFA session, a web identity base's credentials) must have
# left: they are only used at once to call AssumeRole, never handed to an SDK, so the
# 15-minute cushion of refresh_margin is not needed, a short one is.
MFA_SESSION_MARGIN = SOURCE_MARGIN = timedelta(minutes=5)


def waiting(ctx: Context, chain: Chain | BaseTarget) -> Busy:
    """How to wait for another process's lock: with the spinner, unless that process may
    be prompting for an MFA code on this very terminal (parallel AWS CLI calls) - a
    spinner would draw over its prompt."""
    hops = chain.hops if isinstance(chain, Chain) else ()
    may_prompt = chain.mfa is not None or any(hop.mfa_serial for hop in hops)
    return quiet if may_prompt else ctx.busy


def source(ctx: Context, base: BaseHop, target: str, resolving: tuple[str, ...]) -> Provider:
    """The base's own credentials, uncached: stored keys, an AWS profile (resolved by
    botocore, marking ``resolving`` for credential_process loops), a credential_source."""
    if base.credential_source is not None:
        return CredentialSourceProvider(base.credential_source, base.key, ctx.environ, target)
    if base.sso is not None:
        return sso_role(ctx, base, target)
    profile = AwsProfileProvider(base, target, resolving) if base.aws else None
    if not base.may_use_stored_keys and profile is not None:
        return profile
    # keys stored in the keyring under the base's name come first
    warn = ctx.keyring_warn or ctx.warn
    return StoredKeysProvider(base.name, base.key, lambda: ctx.keys, profile, target, warn)


def web_identity(
    ctx: Context, base: BaseHop, target: str, margin: timedelta, refresh: bool, wait: Busy
) -> LockedProvider:
    """A web identity base's credentials, cached and locked like any hop's."""
    assert base.web_identity is not None and base.aws is not None
    aws = base.aws
    where = f"{aws.path}:{aws.line}" if aws.line else str(aws.path)
    provider = WebIdentityProvider(
        base.web_identity, base.key, ctx.sts, target, where, busy=ctx.busy
    )
    cached = CachedProvider(provider, ctx.cache, ctx.clock, margin, refresh=refresh)
    return LockedProvider(cached, ctx.locks, target, wait)


def sso_role(ctx: Context, base: BaseHop, target: str) -> SsoProvider:
    """An SSO base's credentials, uncached: the session's token (refreshed, or signed in
    anew, as rolehop.engine.sso says) traded for the permission set's."""
    from rolehop.engine import access_tokens as sso

    hop = base.sso
    assert hop is not None
    session = hop.role.session

    def token(refused: str | None) -> str:
        return sso.access_token(ctx, session, target, refused)

    return SsoProvider(hop, base.key, token, ctx.sso_clients, target, ctx.busy)


def base_provider(ctx: Context, chain: Chain) -> Provider:
    """Where ``chain`` starts; temporary credentials of a base's own (web identity, SSO)
    cached and locked like any hop's."""
    base, target = chain.base, chain.profile.name
    if base.web_identity is not None:
        return web_identity(ctx, base, target, SOURCE_MARGIN, False, waiting(ctx, chain))
    if base.sso is not None:
        cached = CachedProvider(sso_role(ctx, base, target), ctx.cache, ctx.clock, SOURCE_MARGIN)
        return LockedProvider(cached, ctx.locks, target, waiting(ctx, chain))
    return source(ctx, base, target, chain.names[1:])


def hops(ctx: Context, chain: Chain, refresh: bool, codes: MfaCodeSource) -> list[CachedProvider]:
    """Each hop of ``chain`` as its cached provider (each locked for the next)."""
    return _compose(ctx, chain, refresh, codes)[0]


def callers(ctx: Context, chain: Chain, codes: MfaCodeSource) -> list[Provider]:
    """For each hop of ``chain``, the provider of the credentials that call its AssumeRole
    (the chain's own: cache, locks, MFA rules), for ``explain``."""
    return _compose(ctx, chain, False, codes)[1]


def _compose(
    ctx: Context, chain: Chain, refresh: bool, codes: MfaCodeSource
) -> tuple[list[CachedProvider], list[Provider]]:
    target = chain.profile.name
    upstream: Provider = base_provider(ctx, chain)
    margin = ctx.config.settings.refresh_margin
    wait = waiting(ctx, chain)
    if chain.mfa is not None:
        session = SessionTokenProvider(chain.mfa, upstream, ctx.sts, codes, target, ctx.busy)
        # --refresh renews roles, not the MFA session: no new code for that
        cached_session = CachedProvider(session, ctx.cache, ctx.clock, MFA_SESSION_MARGIN)
        upstream = LockedProvider(cached_session, ctx.locks, target, wait)
    wrapped: list[CachedProvider] = []
    callers: list[Provider] = []
    for hop in chain.hops:
        callers.append(upstream)
        inner = AssumeRoleProvider(hop, upstream, ctx.sts, target, ctx.warn, codes, ctx.busy)
        cached = CachedProvider(inner, ctx.cache, ctx.clock, margin, refresh=refresh)
        wrapped.append(cached)
        upstream = LockedProvider(cached, ctx.locks, target, wait)
    return wrapped, callers


def itself(ctx: Context, target: BaseTarget, refresh: bool, codes: MfaCodeSource) -> Provider:
    """A base profile asked for itself: a session made from its long-term keys, the keys
    themselves (``--no-session``, never cached), or its temporary credentials as they come
    (cached while they last)."""
    base, name = target.base, target.name
    margin = ctx.config.settings.refresh_margin  # handed to SDKs: the full cushion
    wait = quiet if target.mfa is not None else ctx.busy
    if target.session is None and base.web_identity is not None:
        return web_identity(ctx, base, name, margin, refresh, wait)
    upstream = source(ctx, base, name, target.names)
    if target.session is not None:
        upstream = SessionTokenProvider(target.session, upstream, ctx.sts, codes, name, ctx.busy)
    elif target.long_term:
        return upstream  # --no-session: the keys themselves, never copied into the cache
    cached = CachedProvider(upstream, ctx.cache, ctx.clock, margin, refresh=refresh)
    return LockedProvider(cached, ctx.locks, name, wait)
