"""Resolve a profile: credentials from the cache while good, else hop by hop from STS.

What ``env``, ``credential-process``, ``exec``, ``serve``, ``login`` and the Python API
hand out, and what the agent serves (:func:`cached`: no STS call, no prompt, no lock).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from rolehop.common.creds import Credentials
from rolehop.config.files import Profile
from rolehop.engine import chain as chains
from rolehop.engine import compose
from rolehop.engine.context import Context
from rolehop.engine.hops import BaseTarget, Chain, RoleHop
from rolehop.engine.mfa import MfaCodes
from rolehop.engine.providers import MfaCodeSource
from rolehop.engine.providers.aws_profile import resolving
from rolehop.engine.providers.cached import Status
from rolehop.engine.providers.locked import LockedProvider
from rolehop.errors import CacheError, ChainLoopError, UsageError


@dataclass(frozen=True)
class HopResult:
    name: str
    role_arn: str
    status: Status


@dataclass(frozen=True)
class Resolution:
    """What ``env``, ``credential-process`` and ``exec`` hand out for one profile."""

    # a role profile and its chain, or a base profile asked for itself (both, then)
    profile: Profile | BaseTarget
    chain: Chain | BaseTarget
    credentials: Credentials
    region: str | None
    hops: tuple[HopResult, ...]

    @property
    def from_cache(self) -> bool:
        return self.hops[-1].status == "hit"

    @property
    def sts_calls(self) -> int:
        return sum(1 for hop in self.hops if hop.status in ("miss", "refreshed"))


def stored_names(ctx: Context) -> set[str]:
    """The names of the keys stored in the keyring (none without a keyring)."""
    try:
        return ctx.keys.names()
    except CacheError:
        return set()


def stored_key_id(ctx: Context, name: str) -> str | None:
    try:
        return ctx.keys.key_id(name)
    except CacheError:
        return None


def build_chain(
    ctx: Context, name: str, stored: Callable[[], Collection[str]] | None = None
) -> Chain:
    """``name``'s chain (the stored keys' names and ids asked for only when needed)."""
    return chains.build(
        ctx.config,
        name,
        ctx.environ,
        stored or (lambda: stored_names(ctx)),
        lambda base: stored_key_id(ctx, base),
    )


def chain_of(ctx: Context, name: str) -> Chain:
    """``name``'s chain, with its warnings told."""
    built = build_chain(ctx, name)
    for warning in built.warnings:
        ctx.warn(warning)
    return built


def is_base(ctx: Context, name: str) -> bool:
    """Whether ``name`` is a base profile (handed out itself), not a role profile."""
    return chains.is_base(ctx.config, name, lambda: stored_names(ctx))


def check_loop(ctx: Context, name: str, names: tuple[str, ...]) -> None:
    """A credential_process that asks rolehop for a profile of the chain it is resolving:
    said before any lock is taken (the process that asks would wait for its parent)."""
    looping = [hop for hop in names if hop in resolving(ctx.environ)]
    if looping:
        raise ChainLoopError(
            f"profile {name!r}: credential_process loop: resolving {looping[0]!r} ran a "
            f"credential_process that asks rolehop for {looping[0]!r} again "
            f"(resolving: {', '.join(resolving(ctx.environ))})"
        )


def resolve(
    ctx: Context,
    name: str,
    *,
    refresh: bool = False,
    mfa_token: str | None = None,
    session: bool = True,
) -> Resolution:
    """Credentials for ``name``: from the cache when good, else hop by hop from STS.

    ``mfa_token`` is the first MFA code to use (``--mfa-token``), before mfa_process or
    the terminal are asked. A base profile is handed out itself; ``session=False``
    (``--no-session``) asks for its long-term keys as they are.
    """
    codes = MfaCodes(mfa_token) if mfa_token is not None else ctx.mfa_codes
    if is_base(ctx, name):
        return _itself(ctx, name, refresh, codes, session)
    if not session:
        raise UsageError(
            f"--no-session: profile {name!r} is a role profile; only a base profile's "
            "long-term keys can be handed out without a session"
        )
    chain = chain_of(ctx, name)
    check_loop(ctx, name, chain.names[1:])
    providers = compose.hops(ctx, chain, refresh, codes)
    target = LockedProvider(providers[-1], ctx.locks, name, compose.waiting(ctx, chain))
    credentials = target.load()
    return Resolution(
        profile=chain.profile,
        chain=chain,
        credentials=credentials,
        region=ctx.config.region_for(chain.profile, {}),
        hops=tuple(
            HopResult(hop.name, hop.role_arn, provider.status)
            for hop, provider in zip(chain.hops, providers, strict=True)
        ),
    )


def _itself(
    ctx: Context, name: str, refresh: bool, codes: MfaCodeSource, session: bool
) -> Resolution:
    """A base profile's own credentials (see :func:`compose.itself`)."""
    target = chains.build_base(
        ctx.config,
        name,
        ctx.environ,
        lambda: stored_names(ctx),
        lambda base: stored_key_id(ctx, base),
        session=session,
    )
    check_loop(ctx, name, target.names)
    provider = compose.itself(ctx, target, refresh, codes)
    credentials = provider.load()
    status: Status = provider.status if isinstance(provider, LockedProvider) else "unused"
    return Resolution(
        profile=target,
        chain=target,
        credentials=credentials,
        region=target.region,
        hops=(HopResult(name, target.role_arn, status),),
    )


def cached(ctx: Context, name: str, chain: Chain | None = None) -> Resolution | None:
    """``name``'s credentials if the cache holds them good for the margin, else None: no
    STS call, no prompt, no lock (the agent's way of answering). ``chain``: ``name``'s,
    if the caller built it already."""
    chain = chain or chain_of(ctx, name)
    if any(hop in resolving(ctx.environ) for hop in chain.names[1:]):
        return None  # resolve() says what is wrong
    entry = ctx.cache.get(chain.keys[-1])
    if entry is None or not entry.fresh(ctx.clock(), ctx.config.settings.refresh_margin):
        return None
    return Resolution(
        profile=chain.profile,
        chain=chain,
        credentials=entry,
        region=ctx.config.region_for(chain.profile, {}),
        hops=(HopResult(chain.hops[-1].name, chain.hops[-1].role_arn, "hit"),),
    )


def hop_sources(ctx: Context, name: str) -> list[tuple[RoleHop, Callable[[], Credentials]]]:
    """Each hop of ``name``'s chain with how to get its caller's credentials: the chain's
    own providers (cache, locks, MFA rules), for ``explain``."""
    chain = chain_of(ctx, name)
    callers = compose.callers(ctx, chain, ctx.mfa_codes)
    return [(hop, caller.load) for hop, caller in zip(chain.hops, callers, strict=True)]
