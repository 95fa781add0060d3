"""rolehop's core: compose config, chain, providers and cache; return data, never print.

Everything external is injected (environment, clock, STS client factory, cache, a ``warn``
callback), so the CLI, the demo and the tests drive the very same code.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rolehop.aws.sts import (
    Boto3StsClientFactory,
    Identity,
    StsClientFactory,
    caller_identity,
    identity_of,
)
from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.config import files as configs
from rolehop.config.files import Config, Profile
from rolehop.engine import chain as chains
from rolehop.engine.chain import BaseHop, BaseTarget, Chain, RoleHop
from rolehop.engine.mfa import MfaCodes
from rolehop.engine.providers import MfaCodeSource, Provider
from rolehop.engine.providers.assume_role import AssumeRoleProvider
from rolehop.engine.providers.aws_profile import AwsProfileProvider, resolving
from rolehop.engine.providers.cached import CachedProvider, Status
from rolehop.engine.providers.credential_source import CredentialSourceProvider
from rolehop.engine.providers.locked import LockedProvider, Locks
from rolehop.engine.providers.session_token import SessionTokenProvider
from rolehop.engine.providers.stored_keys import StoredKeysProvider
from rolehop.engine.providers.web_identity import WebIdentityProvider
from rolehop.errors import (
    CacheError,
    ChainLoopError,
    RolehopError,
    SourceCredentialsError,
    UsageError,
)
from rolehop.stores import changes
from rolehop.stores.cache import (
    HOW_TO_GET_A_KEYRING,
    Announcing,
    Cache,
    IndexEntry,
    KeyringCache,
    NullCache,
    load_backend,
    open_cache,
)
from rolehop.stores.keys import Keys, KeyStore, StoredKey, check_name
from rolehop.stores.locks import NoLocks, locks_for

if TYPE_CHECKING:
    from rolehop.features import doctor as doctors

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)
# What a chain's own sessions (the MFA session, a web identity base's credentials) must have
# left: they are only used at once to call AssumeRole, never handed to an SDK, so the
# 15-minute cushion of refresh_margin is not needed, a short one is.
MFA_SESSION_MARGIN = SOURCE_MARGIN = timedelta(minutes=5)


class Agent(Protocol):
    """The agent as the direct path sees it (rolehop.agent.remote.AgentLink): the cache
    and stored keys through it, with the local keyring as the fallback."""

    def cache(self, local: Callable[[], Cache], backend: str | None) -> Cache: ...

    def keys(self, local: Callable[[], Keys], backend: str | None) -> Keys: ...

    def profiles(
        self, config_path: str | None, backend: str | None
    ) -> list[ProfileSummary] | None:
        """``list``'s rows from the agent (which keeps the parsed files), or None."""
        ...


class _Announced:
    """Stored keys changed here: every agent forgets the names and ids it knew (see
    rolehop.stores.changes)."""

    def __init__(self, inner: KeyStore, forget: Callable[[set[str] | None], None]) -> None:
        self.inner = inner
        self.forget = forget

    def get(self, name: str) -> Credentials | None:
        return self.inner.get(name)

    def names(self) -> set[str]:
        return self.inner.names()

    def key_id(self, name: str) -> str | None:
        return self.inner.key_id(name)

    def list(self) -> list[StoredKey]:
        return self.inner.list()

    def add(self, name: str, credentials: Credentials) -> StoredKey:
        stored = self.inner.add(name, credentials)
        self.forget(None)
        return stored

    def remove(self, name: str) -> bool:
        removed = self.inner.remove(name)
        self.forget(None)
        return removed


def keyring_backend(environ: Mapping[str, str], settings: configs.Settings) -> str | None:
    return environ.get("PYTHON_KEYRING_BACKEND") or settings.keyring_backend or None


def utcnow() -> datetime:
    return datetime.now(UTC)


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


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    origin: str
    path: str
    role_arn: str | None
    source: str | None
    chain: tuple[str, ...]
    region: str | None
    error: str | None
    # where the base's credentials come from: "keyring", "keys in ~/.aws/credentials"...
    credentials: str | None = None
    # when the target's cached credentials expire (from the cache index: no secret read)
    cached_until: datetime | None = None
    # "role", or "base": a base profile, which ``env``/``exec``... hand out itself
    kind: str = "role"


def describe_base(chain: Chain | BaseTarget, stored: set[str]) -> str:
    """Where a chain's first credentials come from, for ``list``."""
    base = chain.base
    if base.web_identity is not None:
        where = base.web_identity.describe
    elif base.credential_source is not None:
        where = f"credential_source {base.credential_source}"
    elif base.may_use_stored_keys and base.name in stored:
        where = "keyring"
    elif base.aws is None:
        where = f"nowhere yet (rolehop keys add {shlex.quote(base.name)})"
    else:
        identity, path = dict(base.aws.identity), base.aws.path
        if base.aws.has_static_keys:
            kind, path = "keys", base.aws.keys_path or path
        elif "sso_start_url" in identity or "sso_session" in identity:
            kind = "SSO"
        elif "credential_process" in identity:
            kind = "credential_process"
        else:
            kind = "AWS profile"
        where = f"{kind} in {path}"
    return where + (" + MFA" if chain.mfa else "")


@dataclass(frozen=True)
class GraphNode:
    """One step of a chain for ``graph``: the base, its MFA session, or a role."""

    kind: str  # "base" | "mfa" | "role"
    name: str
    role_arn: str | None
    detail: str | None  # where the base's credentials come from; the MFA serial
    cached_for: timedelta | None  # time left of its cached credentials, if any

    @property
    def account(self) -> str | None:
        return self.role_arn.split(":")[4] if self.role_arn else None


@dataclass(frozen=True)
class CacheEntry:
    """One cached credential, as ``cache list`` shows it."""

    key: str
    profile: str
    expiration: datetime | None
    remaining: timedelta | None


def _cached_until(index: Mapping[str, IndexEntry], key: str, now: datetime) -> datetime | None:
    entry = index.get(key)
    return entry.expiration if entry and entry.expiration and entry.expiration > now else None


class Rolehop:
    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        config_path: str | None = None,
        clock: Clock = utcnow,
        sts_factory: StsClientFactory | None = None,
        cache: Cache | None = None,
        keystore: Keys | None = None,
        locks: Locks | None = None,
        mfa_codes: MfaCodeSource | None = None,
        warn: Callable[[str], None] = lambda message: None,
        busy: Busy = quiet,
        agent: Agent | None = None,
        config: Config | None = None,
    ) -> None:
        self.environ = environ
        self.busy = busy
        self.agent = agent
        if config is not None:
            self.__dict__["config"] = config  # already loaded (the agent keeps it)
        self._keystore = keystore
        self.mfa_codes: MfaCodeSource = mfa_codes or MfaCodes()
        self.config_path = config_path
        self.clock = clock
        self._sts_factory = sts_factory
        self._locks = locks
        self._cache = cache
        self.warn = warn
        self._keyring_warned = False

    def _warn_keyring(self, message: str) -> None:
        """A failing keyring is reported once, whichever part of rolehop meets it first."""
        if self._keyring_warned:
            log.debug("keyring: %s", message)
            return
        self._keyring_warned = True
        self.warn(message)

    @cached_property
    def config(self) -> Config:
        return configs.load(self.environ, self.config_path)

    @property
    def keyring_backend(self) -> str | None:
        """The keyring backend this process uses (the variable wins over the setting): an
        agent of another one must not be asked."""
        return keyring_backend(self.environ, self.config.settings)

    @cached_property
    def cache(self) -> Cache:
        if self._cache is not None:
            return self._cache
        settings = self.config.settings
        if self.agent is not None and settings.agent and settings.cache:
            return self.agent.cache(self._local_cache, self.keyring_backend)
        return self._local_cache()

    def _local_cache(self) -> Cache:
        settings = self.config.settings
        opened = open_cache(
            enabled=settings.cache,
            backend_name=settings.keyring_backend,
            environ=self.environ,
            warn=self._warn_keyring,
            clock=self.clock,
        )
        if isinstance(opened, NullCache):
            return opened
        return Announcing(opened, self._announce)  # every agent drops its copies

    @cached_property
    def sts_factory(self) -> StsClientFactory:
        if self._sts_factory is not None:
            return self._sts_factory
        settings = self.config.settings
        return Boto3StsClientFactory(
            max_attempts=settings.sts_max_attempts,
            connect_timeout=settings.sts_connect_timeout,
            read_timeout=settings.sts_read_timeout,
        )

    @cached_property
    def locks(self) -> Locks:
        if self._locks is not None:
            return self._locks
        if isinstance(self.cache, NullCache):
            return NoLocks()  # nothing to share: waiting would only slow everyone down
        return locks_for(self.environ, self.config.settings.lock_timeout, self.warn)

    def keystore(self) -> Keys:
        """The long-term keys in the keyring; raises CacheError when no keyring is usable."""
        if self._keystore is None:
            if self.agent is not None and self.config.settings.agent:
                self._keystore = self.agent.keys(self._local_keystore, self.keyring_backend)
            else:
                self._keystore = self._local_keystore()
        return self._keystore

    def _local_keystore(self) -> Keys:
        backend = load_backend(self.config.settings.keyring_backend, self.environ)
        return _Announced(KeyStore(backend, self.clock), self._announce)

    def _announce(self, keys: set[str] | None) -> None:
        """The keyring changed: every agent of this user forgets its copies."""
        changes.announce(self.environ)

    def _stored_names(self) -> set[str]:
        try:
            return self.keystore().names()
        except CacheError:
            return set()

    def _stored_key_id(self, name: str) -> str | None:
        try:
            return self.keystore().key_id(name)
        except CacheError:
            return None

    def _build(self, name: str, stored: Callable[[], Collection[str]] | None = None) -> Chain:
        return chains.build(
            self.config, name, self.environ, stored or self._stored_names, self._stored_key_id
        )

    def chain(self, name: str) -> Chain:
        built = self._build(name)
        for warning in built.warnings:
            self.warn(warning)
        return built

    def _base_provider(self, chain: Chain) -> Provider:
        base, target = chain.base, chain.profile.name
        if base.web_identity is not None:
            return self._web_identity(base, target, SOURCE_MARGIN, False, self._waiting(chain))
        return self._source(base, target, chain.names[1:])

    def _source(self, base: BaseHop, target: str, resolving: tuple[str, ...]) -> Provider:
        """The base's own credentials, uncached: stored keys, an AWS profile (resolved by
        botocore, marking ``resolving`` for credential_process loops), a credential_source."""
        if base.credential_source is not None:
            return CredentialSourceProvider(base.credential_source, base.key, self.environ, target)
        profile = AwsProfileProvider(base, target, resolving) if base.aws else None
        if not base.may_use_stored_keys and profile is not None:
            return profile
        # keys stored in the keyring under the base's name come first
        return StoredKeysProvider(
            base.name, base.key, self.keystore, profile, target, self._warn_keyring
        )

    def _web_identity(
        self, base: BaseHop, target: str, margin: timedelta, refresh: bool, waiting: Busy
    ) -> LockedProvider:
        """A web identity base's credentials, cached and locked like any hop's."""
        assert base.web_identity is not None and base.aws is not None
        aws = base.aws
        where = f"{aws.path}:{aws.line}" if aws.line else str(aws.path)
        provider = WebIdentityProvider(
            base.web_identity, base.key, self.sts_factory, target, where, busy=self.busy
        )
        cached = CachedProvider(provider, self.cache, self.clock, margin, refresh=refresh)
        return LockedProvider(cached, self.locks, target, waiting)

    def _waiting(self, chain: Chain) -> Busy:
        """How to wait for another process's lock: with the spinner, unless that process
        may be prompting for an MFA code on this very terminal (parallel AWS CLI calls) -
        a spinner would draw over its prompt."""
        may_prompt = chain.mfa is not None or any(hop.mfa_serial for hop in chain.hops)
        return quiet if may_prompt else self.busy

    def _providers(self, chain: Chain, refresh: bool, codes: MfaCodeSource) -> list[CachedProvider]:
        target = chain.profile.name
        source: Provider = self._base_provider(chain)
        margin = self.config.settings.refresh_margin
        waiting = self._waiting(chain)
        if chain.mfa is not None:
            session = SessionTokenProvider(
                chain.mfa, source, self.sts_factory, codes, target, self.busy
            )
            # --refresh renews roles, not the MFA session: no new code for that
            # Its credentials are only used at once to call AssumeRole, never handed to an
            # SDK: the 15-minute cushion of refresh_margin is not needed, a short one is.
            cached_session = CachedProvider(session, self.cache, self.clock, MFA_SESSION_MARGIN)
            source = LockedProvider(cached_session, self.locks, target, waiting)
        wrapped: list[CachedProvider] = []
        for hop in chain.hops:
            inner = AssumeRoleProvider(
                hop, source, self.sts_factory, target, self.warn, codes, self.busy
            )
            cached = CachedProvider(inner, self.cache, self.clock, margin, refresh=refresh)
            wrapped.append(cached)
            source = LockedProvider(cached, self.locks, target, waiting)
        return wrapped

    def resolve(
        self,
        name: str,
        *,
        refresh: bool = False,
        mfa_token: str | None = None,
        session: bool = True,
    ) -> Resolution:
        """Credentials for ``name``: from the cache when good, else hop by hop from STS.

        ``mfa_token`` is the first MFA code to use (``--mfa-token``), before mfa_process or
        the terminal are asked. A base profile is handed out itself (:meth:`_resolve_base`);
        ``session=False`` (``--no-session``) asks for its long-term keys as they are.
        """
        codes = MfaCodes(mfa_token) if mfa_token is not None else self.mfa_codes
        if chains.is_base(self.config, name, self._stored_names):
            return self._resolve_base(name, refresh, codes, session)
        if not session:
            raise UsageError(
                f"--no-session: profile {name!r} is a role profile; only a base profile's "
                "long-term keys can be handed out without a session"
            )
        chain = self.chain(name)
        self._check_loop(name, chain.names[1:])
        providers = self._providers(chain, refresh, codes)
        target = LockedProvider(providers[-1], self.locks, name, self._waiting(chain))
        credentials = target.load()
        return Resolution(
            profile=chain.profile,
            chain=chain,
            credentials=credentials,
            region=self.config.region_for(chain.profile, {}),
            hops=tuple(
                HopResult(hop.name, hop.role_arn, provider.status)
                for hop, provider in zip(chain.hops, providers, strict=True)
            ),
        )

    def _check_loop(self, name: str, names: tuple[str, ...]) -> None:
        looping = [hop for hop in names if hop in resolving(self.environ)]
        if looping:
            raise ChainLoopError(
                f"profile {name!r}: credential_process loop: resolving {looping[0]!r} ran a "
                f"credential_process that asks rolehop for {looping[0]!r} again "
                f"(resolving: {', '.join(resolving(self.environ))})"
            )

    def _resolve_base(
        self, name: str, refresh: bool, codes: MfaCodeSource, session: bool
    ) -> Resolution:
        """A base profile's own credentials: a session made from long-term keys (the MFA
        session its chains use, or a plain one), cached like any hop; the keys themselves
        only when asked (``session=False``), never cached; credentials that are temporary
        already as they come, cached while they last."""
        target = chains.build_base(
            self.config,
            name,
            self.environ,
            self._stored_names,
            self._stored_key_id,
            session=session,
        )
        self._check_loop(name, target.names)
        provider = self._base_target_provider(target, refresh, codes)
        credentials = provider.load()
        status: Status = provider.status if isinstance(provider, LockedProvider) else "unused"
        return Resolution(
            profile=target,
            chain=target,
            credentials=credentials,
            region=target.region,
            hops=(HopResult(name, target.role_arn, status),),
        )

    def _base_target_provider(
        self, target: BaseTarget, refresh: bool, codes: MfaCodeSource
    ) -> Provider:
        base, name = target.base, target.name
        margin = self.config.settings.refresh_margin  # handed to SDKs: the full cushion
        waiting = quiet if target.mfa is not None else self.busy
        if target.session is None and base.web_identity is not None:
            return self._web_identity(base, name, margin, refresh, waiting)
        source = self._source(base, name, target.names)
        if target.session is not None:
            source = SessionTokenProvider(
                target.session, source, self.sts_factory, codes, name, self.busy
            )
        elif target.long_term:
            return source  # --no-session: the keys themselves, never copied into the cache
        # a session, or temporary credentials (SSO, credential_process...), while they last
        cached = CachedProvider(source, self.cache, self.clock, margin, refresh=refresh)
        return LockedProvider(cached, self.locks, name, waiting)

    def cached(self, name: str, chain: Chain | None = None) -> Resolution | None:
        """``name``'s credentials if the cache holds them good for the margin, else None:
        no STS call, no prompt, no lock (the agent's way of answering). ``chain``: ``name``'s,
        if the caller built it already."""
        chain = chain or self.chain(name)
        if any(hop in resolving(self.environ) for hop in chain.names[1:]):
            return None  # resolve() says what is wrong
        entry = self.cache.get(chain.keys[-1])
        if entry is None or not entry.valid_for(self.clock(), self.config.settings.refresh_margin):
            return None
        return Resolution(
            profile=chain.profile,
            chain=chain,
            credentials=entry,
            region=self.config.region_for(chain.profile, {}),
            hops=(HopResult(chain.hops[-1].name, chain.hops[-1].role_arn, "hit"),),
        )

    def hop_sources(self, name: str) -> list[tuple[RoleHop, Callable[[], Credentials]]]:
        """Each hop of ``name``'s chain with how to get its caller's credentials: the
        chain's own providers (cache, locks, MFA rules), for ``explain``."""
        chain = self.chain(name)
        providers = self._providers(chain, refresh=False, codes=self.mfa_codes)
        sources: list[tuple[RoleHop, Callable[[], Credentials]]] = []
        for hop, provider in zip(chain.hops, providers, strict=True):
            inner = provider.inner
            assert isinstance(inner, AssumeRoleProvider)
            sources.append((hop, inner.source.load))
        return sources

    def profiles(self) -> list[ProfileSummary]:
        """A row for every profile; from a running agent when there is one: it keeps the
        files parsed and the chains built while the files stay as they are."""
        if self.agent is not None:
            remote = self.agent.profiles(self.config_path, self.keyring_backend)
            if remote is not None:
                return remote
        summaries = []
        config = self.config
        anything = config.profiles or config.aws_bases or config.base_profiles
        stored = self._stored_names() if anything else set()
        index = self.cache.index() if anything else {}
        now = self.clock()
        for name in sorted({*self.config.profiles, *self.config.broken}):
            try:
                built = self._build(name, lambda: stored)
            except RolehopError as error:
                profile = self.config.profiles.get(name)
                origin, path = (profile.origin, profile.path) if profile else self._origin(name)
                summaries.append(
                    ProfileSummary(
                        name=name,
                        origin=origin,
                        path=str(path),
                        role_arn=profile.role_arn if profile else None,
                        source=profile.source_profile if profile else None,
                        chain=(),
                        region=self.config.region_for(profile, {}) if profile else None,
                        error=str(error),
                    )
                )
                continue
            profile = built.profile
            summaries.append(
                ProfileSummary(
                    name=name,
                    origin=profile.origin,
                    path=str(profile.path),
                    role_arn=profile.role_arn,
                    source=profile.source_profile,
                    chain=built.names,
                    region=self.config.region_for(profile, {}),
                    error=None,
                    credentials=describe_base(built, stored),
                    cached_until=_cached_until(index, built.keys[-1], now),
                )
            )
        summaries += self._base_summaries(stored, index, now)
        return sorted(summaries, key=lambda summary: summary.name)

    def _base_summaries(
        self, stored: set[str], index: Mapping[str, IndexEntry], now: datetime
    ) -> list[ProfileSummary]:
        """A row for every base profile: what ``env BASE`` hands out, and whence."""
        config = self.config
        names = {*config.base_profiles, *config.aws_bases, *stored}
        rows = []
        for name in sorted(n for n in names if chains.is_base(config, n, lambda: stored)):
            target = chains.build_base(
                config, name, self.environ, lambda: stored, self._stored_key_id
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

    def _origin(self, broken: str) -> tuple[str, Path]:
        """The origin and file of a profile that failed validation."""
        path = self.config.broken[broken].path or self.config.aws_config_path
        return ("rolehop" if path == self.config.path else "aws"), path

    # -- who am I, and the shape of a chain ----------------------------------------------

    def whoami(self, name: str | None = None, *, session: bool = True) -> Identity:
        """GetCallerIdentity for a profile's credentials, or for the active environment."""
        if name is not None:
            resolution = self.resolve(name, session=session)
            credentials = resolution.credentials
            region = (
                resolution.region
                or self.environ.get("AWS_REGION")
                or self.environ.get("AWS_DEFAULT_REGION")
            )
            what = f"profile {name!r}"
        else:
            credentials = self._active_credentials()
            region = self.environ.get("AWS_REGION") or self.environ.get("AWS_DEFAULT_REGION")
            what = "the active credentials"
        client = self.sts_factory(credentials, region)
        return identity_of(client, what=what)

    def _active_credentials(self) -> Credentials:
        """What an AWS SDK in this environment would use (botocore's own resolution)."""
        import botocore.session

        session = botocore.session.Session()
        try:
            found = session.get_credentials()
            frozen = found.get_frozen_credentials() if found is not None else None
        except Exception as error:
            raise SourceCredentialsError(
                f"the active credentials: {type(error).__name__}: {error}"
            ) from None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise SourceCredentialsError(
                "no active AWS credentials in this environment: name a profile, or run "
                '`rolehop use PROFILE` / `eval "$(rolehop env PROFILE)"` first'
            )
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    def graph(self, name: str) -> list[GraphNode]:
        """The chain of ``name`` from its base to the target, with each hop's cache state."""
        chain = self.chain(name)
        now = self.clock()
        entries = self.cache.index() if not isinstance(self.cache, NullCache) else {}

        def left(key: str) -> timedelta | None:
            entry = self.cache.get(key) if key in entries else None
            return entry.remaining(now) if entry else None

        stored = self._stored_names() if chain.base.may_use_stored_keys else set()
        nodes = [GraphNode("base", chain.base.name, None, describe_base(chain, stored), None)]
        if chain.mfa is not None:
            nodes.append(
                GraphNode("mfa", chain.base.name, None, chain.mfa.serial, left(chain.mfa.key))
            )
        for hop in chain.hops:
            nodes.append(GraphNode("role", hop.name, hop.role_arn, None, left(hop.key)))
        return nodes

    def graphs(self) -> tuple[dict[str, list[GraphNode]], dict[str, RolehopError]]:
        """Every profile's chain (``graph`` without a profile), and apart the error of each
        profile that cannot be used: one broken profile does not hide the others."""
        chains: dict[str, list[GraphNode]] = {}
        errors: dict[str, RolehopError] = {}
        for name in sorted({*self.config.profiles, *self.config.broken}):
            try:
                chains[name] = self.graph(name)
            except RolehopError as error:
                errors[name] = error
        return chains, errors

    # -- doctor -------------------------------------------------------------------------

    def doctor(self, program_path: str) -> list[doctors.Check]:
        """Check this setup: files, profiles, keyring, shell, clock, AWS CLI profiles.

        ``program_path`` is how the AWS CLI could run this rolehop (for the fix of a
        credential_process whose program is not on PATH).
        """
        from rolehop.features import doctor as doctors  # urllib and friends: only for doctor

        found, config = doctors.load_config(self.environ, self.config_path)
        checks = [found]
        settings = config.settings if config is not None else configs.Settings()
        if config is not None:
            self.__dict__.setdefault("config", config)  # read once, for the checks below
            checks += doctors.aws_files(config)
            checks += doctors.profile_errors(config, self.environ, self._stored_names)
            checks += doctors.web_identities(config, self.environ)
        checks.append(
            doctors.keyring_probe(
                settings,
                lambda: load_backend(settings.keyring_backend, self.environ),
                HOW_TO_GET_A_KEYRING,
            )
        )
        checks.append(doctors.shell_integration(self.environ))
        endpoint = doctors.sts_endpoint(self.environ, settings)
        timeout = settings.sts_connect_timeout + settings.sts_read_timeout
        checks.append(doctors.clock_skew(endpoint, self.clock, timeout))
        if config is not None:
            # many AWS profiles name the same rolehop config: each file is read once
            loaded = {self.config_path: config}

            def load(override: str | None) -> Config:
                path = override or self.config_path
                if path not in loaded:
                    loaded[path] = configs.load(self.environ, path)
                return loaded[path]

            checks += doctors.credential_processes(config, self.environ, load, program_path)
        return checks

    # -- long-term keys ---------------------------------------------------------------

    def check_keys(self, credentials: Credentials, region: str | None = None) -> str:
        """The identity ARN these keys act as (GetCallerIdentity), or a clear error."""
        client = self.sts_factory(credentials, region or self.config.settings.default_region)
        return caller_identity(client, what="the keys to store")

    def add_keys(self, name: str, credentials: Credentials) -> StoredKey:
        """Store ``name``'s long-term keys; cached credentials made from older keys go."""
        made_from_old = self._chains_from(check_name(name))
        stored = self.keystore().add(name, credentials)
        self._forget(made_from_old)
        return stored

    def remove_keys(self, name: str) -> bool:
        made_from_old = self._chains_from(name)
        removed = self.keystore().remove(name)
        self._forget(made_from_old)
        return removed

    def list_keys(self) -> list[StoredKey]:
        return self.keystore().list()

    def _chains_from(self, base: str) -> set[str]:
        """The cache keys of every chain that starts at ``base`` (with the keys stored
        under that name now)."""
        keys: set[str] = set()
        for profile in self.config.profiles:
            try:
                built = self._build(profile, lambda: {base})
            except RolehopError:
                continue
            if built.base.name == base:
                keys.update(built.keys)
        try:  # and its own session (env BASE)
            if chains.is_base(self.config, base, lambda: {base}):
                itself = chains.build_base(
                    self.config, base, self.environ, lambda: {base}, self._stored_key_id
                )
                keys.update(itself.keys)
        except RolehopError:
            pass
        return keys

    def _forget(self, keys: set[str]) -> None:
        if keys:
            self.cache.remove(keys)

    def cache_entries(self) -> list[CacheEntry]:
        """What the cache holds, from its index: never a secret."""
        cache = self._usable_cache("list")
        now = self.clock()
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

    def _usable_cache(self, action: str) -> Cache:
        """The keyring cache itself, for ``cache list`` and ``cache clear``: a keyring that
        is off, missing or failing is their error (exit 8), with its reason, where any
        other command would go on without a cache."""
        if self._cache is not None:
            return self._cache
        settings = self.config.settings
        if not settings.cache:
            raise CacheError(
                f"no keyring cache to {action}: caching is off ([settings] cache = false)"
            )
        try:
            backend = load_backend(settings.keyring_backend, self.environ)
        except CacheError as error:
            raise CacheError(
                f"no keyring cache to {action}: {error}. {HOW_TO_GET_A_KEYRING}"
            ) from None
        cache = KeyringCache(backend, self.warn, self.clock, strict=True)
        # past the agent, to meet the keyring's own error; every agent forgets what goes
        return Announcing(cache, self._announce)

    def clear_cache(self, name: str | None = None) -> int:
        """Remove cached credentials of one profile's chain, or every rolehop entry."""
        cache = self._usable_cache("clear")
        if name is not None:
            keys = set(self._build(name).keys)
        else:
            keys = set(cache.index())
            for profile in self.config.profiles:
                try:
                    keys.update(self._build(profile).keys)
                except RolehopError:
                    continue
        return cache.remove(keys)
