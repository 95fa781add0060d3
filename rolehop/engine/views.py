"""What ``list`` and ``graph`` show: every profile's row, and a chain's steps with what the
cache holds for each. Never a secret: the cache's index says when entries expire."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from rolehop.engine import chain as chains
from rolehop.engine.context import Context
from rolehop.engine.hops import BaseTarget, Chain
from rolehop.engine.resolve import build_chain, chain_of, stored_key_id, stored_names
from rolehop.engine.rows import GraphNode, ProfileSummary
from rolehop.errors import RolehopError
from rolehop.stores.cache import IndexEntry


def describe_base(chain: Chain | BaseTarget, stored: set[str]) -> str:
    """Where a chain's first credentials come from: "keyring", "keys in ~/.aws/credentials",
    "SSO in ~/.aws/config"... (from :meth:`BaseHop.kind`), for ``list`` and ``graph``."""
    base = chain.base
    kind = base.kind(stored)
    if kind == "web identity" and base.web_identity is not None:
        where = base.web_identity.describe
    elif kind == "SSO" and base.sso is not None:
        where = base.sso.describe
    elif kind == "credential_source":
        where = f"credential_source {base.credential_source}"
    elif kind == "keyring":
        where = "keyring"
    elif kind == "nowhere" or base.aws is None:
        where = f"nowhere yet (rolehop keys add {shlex.quote(base.name)})"
    elif kind in ("long-term keys", "temporary keys"):
        where = f"keys in {base.aws.keys_path or base.aws.path}"
    else:
        where = f"{kind} in {base.aws.path}"
    return where + (" + MFA" if chain.mfa else "")


def good_at(entry: IndexEntry, now: datetime) -> bool:
    """Whether ``list`` shows ``entry`` as cached: the one way its rows depend on the time."""
    return entry.expiration is not None and entry.expiration > now


def _cached_until(index: Mapping[str, IndexEntry], key: str, now: datetime) -> datetime | None:
    entry = index.get(key)
    return entry.expiration if entry is not None and good_at(entry, now) else None


def profiles(ctx: Context) -> list[ProfileSummary]:
    """A row for every profile; from a running agent when there is one: it keeps the
    files parsed and the chains built while the files stay as they are."""
    if ctx.agent is not None:
        remote = ctx.agent.profiles(ctx.config_path, ctx.keyring_backend)
        if remote is not None:
            return remote
    config = ctx.config
    anything = config.profiles or config.aws_bases or config.base_profiles
    stored = stored_names(ctx) if anything else set()
    index = ctx.cache.index() if anything else {}
    now = ctx.clock()
    rows = [
        _row(ctx, name, stored, index, now) for name in sorted({*config.profiles, *config.broken})
    ]
    rows += _base_rows(ctx, stored, index, now)
    return sorted(rows, key=lambda row: row.name)


def _row(
    ctx: Context, name: str, stored: set[str], index: Mapping[str, IndexEntry], now: datetime
) -> ProfileSummary:
    config = ctx.config
    try:
        built = build_chain(ctx, name, lambda: stored)
    except RolehopError as error:
        profile = config.profiles.get(name)
        origin, path = (profile.origin, profile.path) if profile else _origin(ctx, name)
        return ProfileSummary(
            name=name,
            origin=origin,
            path=str(path),
            role_arn=profile.role_arn if profile else None,
            source=profile.source_profile if profile else None,
            chain=(),
            region=config.region_for(profile, {}) if profile else None,
            error=str(error),
        )
    profile = built.profile
    return ProfileSummary(
        name=name,
        origin=profile.origin,
        path=str(profile.path),
        role_arn=profile.role_arn,
        source=profile.source_profile,
        chain=built.names,
        region=config.region_for(profile, {}),
        error=None,
        credentials=describe_base(built, stored),
        cached_until=_cached_until(index, built.keys[-1], now),
    )


def _base_rows(
    ctx: Context, stored: set[str], index: Mapping[str, IndexEntry], now: datetime
) -> list[ProfileSummary]:
    """A row for every base profile: what ``env BASE`` hands out, and whence."""
    config = ctx.config
    names = {*config.base_profiles, *config.aws_bases, *stored}
    rows = []
    for name in sorted(n for n in names if chains.is_base(config, n, lambda: stored)):
        target = chains.build_base(
            config, name, ctx.environ, lambda: stored, lambda base: stored_key_id(ctx, base)
        )
        toml, aws = config.base_profiles.get(name), config.aws_bases.get(name)
        where = toml.path if toml else aws.path if aws else None
        rows.append(
            ProfileSummary(
                name=name,
                origin="rolehop" if toml else "aws" if aws else "keyring",
                path=str(where) if where else "",
                role_arn=target.role_arn or None,
                source=None,
                chain=target.names,
                region=target.region,
                error=None,
                credentials=describe_base(target, stored),
                cached_until=_cached_until(index, target.keys[-1], now),
                kind="base",
            )
        )
    return rows


def _origin(ctx: Context, broken: str) -> tuple[str, Path]:
    """The origin and file of a profile that failed validation."""
    config = ctx.config
    path = config.broken[broken].path or config.aws_config_path
    return ("rolehop" if path == config.path else "aws"), path


def graph(ctx: Context, name: str) -> list[GraphNode]:
    """The chain of ``name`` from its base to the target, with each hop's cache state."""
    chain = chain_of(ctx, name)
    now = ctx.clock()
    entries = ctx.cache.index()

    def left(key: str) -> timedelta | None:
        entry = ctx.cache.get(key) if key in entries else None
        return entry.remaining(now) if entry else None

    stored = stored_names(ctx) if chain.base.may_use_stored_keys else set()
    nodes = [GraphNode("base", chain.base.name, None, describe_base(chain, stored), None)]
    if chain.mfa is not None:
        nodes.append(GraphNode("mfa", chain.base.name, None, chain.mfa.serial, left(chain.mfa.key)))
    for hop in chain.hops:
        nodes.append(GraphNode("role", hop.name, hop.role_arn, None, left(hop.key)))
    return nodes


def graphs(ctx: Context) -> tuple[dict[str, list[GraphNode]], dict[str, RolehopError]]:
    """Every profile's chain (``graph`` without a profile), and apart the error of each
    profile that cannot be used: one broken profile does not hide the others."""
    found: dict[str, list[GraphNode]] = {}
    errors: dict[str, RolehopError] = {}
    for name in sorted({*ctx.config.profiles, *ctx.config.broken}):
        try:
            found[name] = graph(ctx, name)
        except RolehopError as error:
            errors[name] = error
    return found, errors
