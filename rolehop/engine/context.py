"""The one wiring point: a frozen :class:`Context` of everything a use case needs, made by
:func:`build` from the environment, with any part injectable (the tests, the demo and the
agent bring their own cache, keys, locks, STS clients or MFA codes).

The keyring is opened on first use, never before: a command that needs none (``list`` of
an empty config, ``whoami`` of the environment) never imports ``keyring``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from rolehop.aws import identity_center as sso_api
from rolehop.aws.sts import Boto3StsClientFactory, StsClientFactory
from rolehop.common.progress import Busy, quiet
from rolehop.config import files as configs
from rolehop.config.files import Config
from rolehop.config.model import SsoSession
from rolehop.engine.mfa import MfaCodes
from rolehop.engine.providers import MfaCodeSource
from rolehop.engine.providers.locked import Locks
from rolehop.stores import changes
from rolehop.stores.cache import Announcing, Cache, IndexEntry, NullCache, open_cache
from rolehop.stores.keys import Announced, Keys, KeyStore, StoredKey
from rolehop.stores.locks import NoLocks, locks_for
from rolehop.stores.sign_ins import KeyringSignIns, SignIns

if TYPE_CHECKING:
    from rolehop.common.creds import Credentials
    from rolehop.common.sign_in import Registration, SignIn
    from rolehop.engine.rows import ProfileSummary

Clock = Callable[[], datetime]
Warn = Callable[[str], None]
# signs in to an IAM Identity Center session interactively (the terminal's browser flow)
SsoLogin = Callable[[SsoSession], None]
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def keyring_backend(environ: Mapping[str, str], settings: configs.Settings) -> str | None:
    """The keyring backend a process uses (the variable wins over the setting)."""
    return environ.get("PYTHON_KEYRING_BACKEND") or settings.keyring_backend or None


class Agent(Protocol):
    """The agent as the direct path sees it (rolehop.agent.remote.AgentLink): the cache
    and stored keys through it, with the local keyring as the fallback."""

    def cache(self, local: Callable[[], Cache], backend: str | None) -> Cache: ...

    def keys(self, local: Callable[[], Keys], backend: str | None) -> Keys: ...

    def profiles(self, config_path: str | None, backend: str | None) -> list[ProfileSummary] | None:
        """``list``'s rows from the agent (which keeps the parsed files), or None."""
        ...


@dataclass(frozen=True)
class Context:
    """What every use case (rolehop.engine.resolve, views, identity, admin) works with."""

    environ: Mapping[str, str]
    config: Config
    clock: Clock
    cache: Cache
    keys: Keys
    locks: Locks
    sts: StsClientFactory
    mfa_codes: MfaCodeSource
    warn: Warn
    # IAM Identity Center: the sign-ins in the keyring, and clients of sso and sso-oidc
    sign_ins: SignIns
    sso_clients: sso_api.SsoClients
    busy: Busy = quiet
    # a failing keyring is told once, whichever part meets it first (the cache, stored keys)
    keyring_warn: Warn | None = None
    # --config as given (for the agent's list rows and doctor), and the agent, if any
    config_path: str | None = None
    agent: Agent | None = None
    # how to sign in to IAM Identity Center when a token is needed and none is good (an
    # interactive flow, on a terminal); None: say how, and fail
    sso_login: SsoLogin | None = None

    @property
    def keyring_backend(self) -> str | None:
        return keyring_backend(self.environ, self.config.settings)

    def announce(self) -> None:
        """The keyring changed: every agent of this user forgets its copies."""
        changes.announce(self.environ)


def build(
    environ: Mapping[str, str],
    *,
    config_path: str | None = None,
    config: Config | None = None,
    clock: Clock = utcnow,
    cache: Cache | None = None,
    keys: Keys | None = None,
    locks: Locks | None = None,
    sts: StsClientFactory | None = None,
    mfa_codes: MfaCodeSource | None = None,
    warn: Warn = lambda message: None,
    busy: Busy = quiet,
    agent: Agent | None = None,
    lock_waited: float = 0.0,
    sign_ins: SignIns | None = None,
    sso_clients: sso_api.SsoClients | None = None,
    sso_login: SsoLogin | None = None,
) -> Context:
    """A context over the files ``environ`` names (``config`` if read already); every part
    not given is made here, the keyring's on first use. ``lock_waited``: seconds already
    spent waiting for another process's refresh, taken from ``lock_timeout``."""
    config = config if config is not None else configs.load(environ, config_path)
    settings = config.settings
    warn_keyring = _Once(warn)
    link = agent if agent is not None and settings.agent else None
    opener = _Openers(environ, config, clock, warn_keyring, link)
    cache = cache if cache is not None else LazyCache(opener.cache)
    if locks is None:
        timeout = max(0.0, settings.lock_timeout - lock_waited)
        locks = LazyLocks(lambda: opener.locks(cache, timeout, warn))
    return Context(
        environ=environ,
        config=config,
        clock=clock,
        cache=cache,
        keys=keys if keys is not None else LazyKeys(opener.keys),
        locks=locks,
        sts=sts if sts is not None else _sts(settings),
        mfa_codes=mfa_codes or MfaCodes(),
        warn=warn,
        busy=busy,
        keyring_warn=warn_keyring,
        config_path=config_path,
        agent=agent,
        sign_ins=sign_ins if sign_ins is not None else LazySignIns(opener.sign_ins),
        sso_clients=sso_clients or _sso_clients(settings),
        sso_login=sso_login,
    )


def _sts(settings: configs.Settings) -> StsClientFactory:
    return Boto3StsClientFactory(
        max_attempts=settings.sts_max_attempts,
        connect_timeout=settings.sts_connect_timeout,
        read_timeout=settings.sts_read_timeout,
    )


def _sso_clients(settings: configs.Settings) -> sso_api.SsoClients:
    return sso_api.Botocore(
        max_attempts=settings.sts_max_attempts,
        connect_timeout=settings.sts_connect_timeout,
        read_timeout=settings.sts_read_timeout,
    )


class _Openers:
    """How the keyring's parts are opened, on first use: through the agent when one is
    wanted (``link``), else the local keyring; every change announced to the agents."""

    def __init__(
        self,
        environ: Mapping[str, str],
        config: Config,
        clock: Clock,
        warn_keyring: Warn,
        link: Agent | None,
    ) -> None:
        self.environ = environ
        self.settings = config.settings
        self.clock = clock
        self.warn_keyring = warn_keyring
        self.link = link
        self.backend = keyring_backend(environ, config.settings)

    def announce(self, _: object = None) -> None:
        changes.announce(self.environ)

    def local_cache(self) -> Cache:
        opened = open_cache(
            enabled=self.settings.cache,
            backend_name=self.settings.keyring_backend,
            environ=self.environ,
            warn=self.warn_keyring,
            clock=self.clock,
        )
        return opened if isinstance(opened, NullCache) else Announcing(opened, self.announce)

    def cache(self) -> Cache:
        if self.link is not None and self.settings.cache:
            return self.link.cache(self.local_cache, self.backend)
        return self.local_cache()

    def local_keys(self) -> Keys:
        from rolehop.stores.cache import load_backend

        backend = load_backend(self.settings.keyring_backend, self.environ)
        return Announced(KeyStore(backend, self.clock), self.announce)

    def keys(self) -> Keys:
        if self.link is not None:
            return self.link.keys(self.local_keys, self.backend)
        return self.local_keys()

    def sign_ins(self) -> SignIns:
        from rolehop.stores.cache import load_backend

        return KeyringSignIns(load_backend(self.settings.keyring_backend, self.environ))

    def locks(self, cache: Cache, timeout: float, warn: Warn) -> Locks:
        if isinstance(_opened(cache), NullCache):
            return NoLocks()  # nothing to share: waiting would only slow everyone down
        return locks_for(self.environ, timeout, warn)


class _Once:
    """A failing keyring is reported once, whichever part of rolehop meets it first."""

    def __init__(self, warn: Warn) -> None:
        self.warn = warn
        self.told = False

    def __call__(self, message: str) -> None:
        if self.told:
            log.debug("keyring: %s", message)
            return
        self.told = True
        self.warn(message)


Opened = TypeVar("Opened")


class _Lazy(Generic[Opened]):
    """Made on first use, once."""

    def __init__(self, open_: Callable[[], Opened]) -> None:
        self._open = open_
        self._opened: Opened | None = None

    def opened(self) -> Opened:
        if self._opened is None:
            self._opened = self._open()
        return self._opened


def _opened(cache: Cache) -> Cache:
    return cache.opened() if isinstance(cache, LazyCache) else cache


class LazyCache(_Lazy[Cache]):
    """The cache, opened (the agent's or the keyring's) on first use."""

    @property
    def description(self) -> str:
        return self.opened().description

    def get(self, key: str) -> Credentials | None:
        return self.opened().get(key)

    def put(self, key: str, credentials: Credentials, *, label: str) -> None:
        self.opened().put(key, credentials, label=label)

    def delete(self, key: str) -> bool:
        return self.opened().delete(key)

    def index(self) -> dict[str, IndexEntry]:
        return self.opened().index()

    def remove(self, keys: set[str]) -> int:
        return self.opened().remove(keys)


class LazyKeys(_Lazy[Keys]):
    """The stored keys, opened on first use; opening raises CacheError without a keyring
    (each use then raises it again: storing keys needs one, reading them may do without)."""

    def get(self, name: str) -> Credentials | None:
        return self.opened().get(name)

    def add(self, name: str, credentials: Credentials) -> StoredKey:
        return self.opened().add(name, credentials)

    def remove(self, name: str) -> bool:
        return self.opened().remove(name)

    def list(self) -> list[StoredKey]:
        return self.opened().list()

    def names(self) -> set[str]:
        return self.opened().names()

    def key_id(self, name: str) -> str | None:
        return self.opened().key_id(name)


class LazySignIns(_Lazy[SignIns]):
    """The IAM Identity Center sign-ins, their keyring opened on first use (raising
    CacheError without one)."""

    def get(self, session: str) -> SignIn | None:
        return self.opened().get(session)

    def put(self, session: str, sign_in: SignIn) -> None:
        self.opened().put(session, sign_in)

    def delete(self, session: str) -> bool:
        return self.opened().delete(session)

    def registration(self, session: str) -> Registration | None:
        return self.opened().registration(session)

    def put_registration(self, session: str, registration: Registration) -> None:
        self.opened().put_registration(session, registration)


class LazyLocks(_Lazy[Locks]):
    """The cross-process locks, their directory checked on first use."""

    def hold(self, key: str, what: str, busy: Busy = quiet) -> AbstractContextManager[None]:
        return self.opened().hold(key, what, busy)
