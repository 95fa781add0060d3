"""``keys`` and ``cache``: the long-term keys in the keyring, and the cached credentials.

Keys replaced or removed take the credentials made from them along: the cache keys of
every chain built on the old keys are computed before the change and removed after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rolehop.aws.sts import caller_identity
from rolehop.common.creds import Credentials
from rolehop.engine import chain as chains
from rolehop.engine.context import Context, LazyCache
from rolehop.engine.resolve import build_chain, stored_key_id
from rolehop.errors import CacheError, RolehopError
from rolehop.stores.cache import (
    HOW_TO_GET_A_KEYRING,
    Announcing,
    Cache,
    KeyringCache,
    load_backend,
)
from rolehop.stores.keys import StoredKey, check_name


@dataclass(frozen=True)
class CacheEntry:
    """One cached credential, as ``cache list`` shows it."""

    key: str
    profile: str
    expiration: datetime | None
    remaining: timedelta | None


# -- long-term keys ----------------------------------------------------------------------


def check_keys(ctx: Context, credentials: Credentials, region: str | None = None) -> str:
    """The identity ARN these keys act as (GetCallerIdentity), or a clear error."""
    client = ctx.sts(credentials, region or ctx.config.settings.default_region)
    return caller_identity(client, what="the keys to store")


def add_keys(ctx: Context, name: str, credentials: Credentials) -> StoredKey:
    """Store ``name``'s long-term keys; cached credentials made from older keys go."""
    made_from_old = _chains_from(ctx, check_name(name))
    stored = ctx.keys.add(name, credentials)
    _forget(ctx, made_from_old)
    return stored


def remove_keys(ctx: Context, name: str) -> bool:
    made_from_old = _chains_from(ctx, name)
    removed = ctx.keys.remove(name)
    _forget(ctx, made_from_old)
    return removed


def list_keys(ctx: Context) -> list[StoredKey]:
    return ctx.keys.list()


def _chains_from(ctx: Context, base: str) -> set[str]:
    """The cache keys of every chain that starts at ``base`` (with the keys stored under
    that name now), and of its own session (``env BASE``)."""
    keys: set[str] = set()
    for profile in ctx.config.profiles:
        try:
            built = build_chain(ctx, profile, lambda: {base})
        except RolehopError:
            continue
        if built.base.name == base:
            keys.update(built.keys)
    try:
        if chains.is_base(ctx.config, base, lambda: {base}):
            itself = chains.build_base(
                ctx.config, base, ctx.environ, lambda: {base}, lambda n: stored_key_id(ctx, n)
            )
            keys.update(itself.keys)
    except RolehopError:
        pass
    return keys


def _forget(ctx: Context, keys: set[str]) -> None:
    if keys:
        ctx.cache.remove(keys)


# -- the cache ---------------------------------------------------------------------------


def cache_entries(ctx: Context) -> list[CacheEntry]:
    """What the cache holds, from its index: never a secret."""
    cache = usable_cache(ctx, "list")
    now = ctx.clock()
    return sorted(
        (
            CacheEntry(
                key=key,
                profile=entry.profile,
                expiration=entry.expiration,
                remaining=entry.expiration - now if entry.expiration else None,
            )
            for key, entry in cache.index().items()
        ),
        key=lambda entry: (entry.profile, entry.expiration or now),
    )


def usable_cache(ctx: Context, action: str) -> Cache:
    """The keyring cache itself, for ``cache list`` and ``cache clear``: a keyring that is
    off, missing or failing is their error (exit 8), with its reason, where any other
    command would go on without a cache. Past the agent, to meet the keyring's own error;
    every agent forgets what goes. A cache given to the context (a test's, the demo's) is
    the cache itself."""
    if not isinstance(ctx.cache, LazyCache):
        return ctx.cache
    settings = ctx.config.settings
    if not settings.cache:
        raise CacheError(f"no keyring cache to {action}: caching is off ([settings] cache = false)")
    try:
        backend = load_backend(settings.keyring_backend, ctx.environ)
    except CacheError as error:
        raise CacheError(f"no keyring cache to {action}: {error}. {HOW_TO_GET_A_KEYRING}") from None
    cache = KeyringCache(backend, ctx.warn, ctx.clock, strict=True)
    return Announcing(cache, lambda keys: ctx.announce())


def clear_cache(ctx: Context, name: str | None = None) -> int:
    """Remove cached credentials of one profile's chain, or every rolehop entry."""
    cache = usable_cache(ctx, "clear")
    if name is not None:
        keys = set(build_chain(ctx, name).keys)
    else:
        keys = set(cache.index())
        for profile in ctx.config.profiles:
            try:
                keys.update(build_chain(ctx, profile).keys)
            except RolehopError:
                continue
    return cache.remove(keys)
