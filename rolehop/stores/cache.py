"""Where temporary credentials wait until shortly before they expire: the OS keyring.

Entries live under service ``rolehop``; an entry's name is the hop's cache key (see
``rolehop.engine.chain``). An ``index`` entry, with no secrets, lists the keys so that
``cache clear`` finds entries of profiles that have since changed or disappeared.
``keyring`` is imported only when a cache is opened.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from rolehop.common.creds import Credentials, format_expiration, parse_expiration
from rolehop.errors import CacheError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "rolehop"
INDEX = "index"
PROBE = "probe"  # never written: reading it tells whether the keyring answers
ENTRY_FORMAT = 1
RETRY_AFTER = 0.1  # seconds before the one retry of a failed keyring call

Warn = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexEntry:
    profile: str
    expiration: datetime | None


class Cache(Protocol):
    def get(self, key: str) -> Credentials | None: ...

    def put(self, key: str, credentials: Credentials, *, label: str) -> None: ...

    def delete(self, key: str) -> bool: ...

    def index(self) -> dict[str, IndexEntry]: ...

    def remove(self, keys: set[str]) -> int: ...

    @property
    def description(self) -> str: ...


class NullCache:
    """No keyring: every call goes to STS (after one warning, given by whoever chose this)."""

    description = "none (credentials are not cached)"

    def get(self, key: str) -> Credentials | None:
        return None

    def put(self, key: str, credentials: Credentials, *, label: str) -> None:
        return None

    def delete(self, key: str) -> bool:
        return False

    def index(self) -> dict[str, IndexEntry]:
        return {}

    def remove(self, keys: set[str]) -> int:
        return 0


def encode_entry(credentials: Credentials, label: str) -> str:
    return json.dumps({"v": ENTRY_FORMAT, "profile": label, "credentials": credentials.to_dict()})


def decode_entry(text: str) -> Credentials:
    """Parse a stored entry; anything unexpected raises ``ValueError`` (a cache miss)."""
    document = json.loads(text)
    if not isinstance(document, dict) or document.get("v") != ENTRY_FORMAT:
        raise ValueError("unknown cache entry format")
    credentials = Credentials.from_dict(document.get("credentials"))
    if credentials.expiration is None or credentials.session_token is None:
        raise ValueError("only temporary credentials are cached")
    return credentials


class KeyringCache:
    """A cache over any ``keyring`` backend. A failing backend degrades to no cache, or,
    ``strict``, raises :class:`CacheError` (for ``cache list`` and ``cache clear``, whose
    whole point the keyring is)."""

    def __init__(
        self,
        backend: KeyringBackend,
        warn: Warn,
        clock: Callable[[], datetime],
        *,
        sticky: bool = True,
        strict: bool = False,
    ) -> None:
        self.backend = backend
        self.warn = warn
        self.clock = clock
        # A command gives up on a failing keyring for the rest of its run (one warning);
        # the agent, which lives for hours, tries again on its next call. ``strict``: a
        # failure is a CacheError (cache list/clear need the keyring itself).
        self.sticky = sticky
        self.strict = strict
        self._broken = False
        self.last_error: str | None = None  # of the last call: None when it worked
        self.failures = 0  # calls that failed, since this cache was made

    @property
    def broken(self) -> bool:
        """Whether the backend failed once: from then on this cache holds nothing."""
        return self._broken

    @property
    def description(self) -> str:
        kind = type(self.backend)
        return f"{kind.__module__}.{kind.__qualname__}"

    def _call(self, action: str, call: Callable[[], Any]) -> Any:
        if self._broken:
            return None
        try:
            result = call()
            self.last_error = None
            return result
        except Exception:
            # Once more, a moment later: under dozens of parallel clients gnome-keyring has
            # been seen to fail a call now and then ("Prompt dismissed"), and a lost read
            # costs an STS call (and the single flight) per process.
            log.debug("keyring: %s failed; trying once more", action)
            time.sleep(RETRY_AFTER)
        try:
            result = call()
            self.last_error = None
            return result
        except Exception as error:  # any backend failure: keep working, uncached
            self.failures += 1
            self.last_error = f"failed to {action}: {type(error).__name__}: {error}"
            failure = f"the keyring ({self.description}) {self.last_error}"
            if self.strict:
                raise CacheError(failure) from None
            self._broken = self.sticky
            self.warn(f"{failure}; continuing without the cache")
            return None

    def reachable(self) -> bool:
        """Whether the keyring answers now: one read of an entry that never exists (a
        locked or vanished keyring fails it as it fails every other read)."""
        self._call("read", lambda: self.backend.get_password(SERVICE, PROBE))
        return self.last_error is None

    def get(self, key: str) -> Credentials | None:
        text = self._call("read", lambda: self.backend.get_password(SERVICE, key))
        if not isinstance(text, str):
            return None
        try:
            return decode_entry(text)
        except Exception:  # corrupt in any way (even RecursionError): a miss, replaced
            return None

    def put(self, key: str, credentials: Credentials, *, label: str) -> None:
        if credentials.expiration is None:
            return  # long-term keys are never copied into the cache
        self._call(
            "store",
            lambda: self.backend.set_password(SERVICE, key, encode_entry(credentials, label)),
        )
        entries = self.index()
        entries[key] = IndexEntry(label, credentials.expiration)
        now = self.clock()
        for stale in [k for k, e in entries.items() if e.expiration and e.expiration < now]:
            self.delete(stale)
            entries.pop(stale, None)
        self._write_index(entries)

    def delete(self, key: str) -> bool:
        from keyring.errors import PasswordDeleteError

        def call() -> bool:
            try:
                self.backend.delete_password(SERVICE, key)
            except PasswordDeleteError:
                return False  # nothing to delete is not a failure
            return True

        return bool(self._call("delete", call))

    def index(self) -> dict[str, IndexEntry]:
        text = self._call("read", lambda: self.backend.get_password(SERVICE, INDEX))
        try:
            raw = json.loads(text) if isinstance(text, str) else {}
        except Exception:  # a corrupt index is rewritten by the next put
            return {}
        rows = raw.get("entries") if isinstance(raw, dict) else None
        entries: dict[str, IndexEntry] = {}
        for key, value in rows.items() if isinstance(rows, dict) else ():
            try:  # one bad row must not lose the others (their secrets stay findable)
                expiration = value.get("expiration")
                entries[key] = IndexEntry(
                    str(value.get("profile", "?")),
                    parse_expiration(expiration) if expiration else None,
                )
            except Exception:
                entries[key] = IndexEntry("?", None)
        return entries

    def _write_index(self, entries: Mapping[str, IndexEntry]) -> None:
        document = {
            "v": ENTRY_FORMAT,
            "entries": {
                key: {
                    "profile": entry.profile,
                    "expiration": format_expiration(entry.expiration) if entry.expiration else None,
                }
                for key, entry in entries.items()
            },
        }
        self._call("store", lambda: self.backend.set_password(SERVICE, INDEX, json.dumps(document)))

    def remove(self, keys: set[str]) -> int:
        """Delete these entries and drop them from the index; returns how many existed."""
        entries = self.index()
        removed = sum(1 for key in sorted(keys) if self.delete(key))
        if any(key in entries for key in keys):
            self._write_index({k: e for k, e in entries.items() if k not in keys})
        return removed


def _usable(backend: KeyringBackend) -> bool:
    from keyring.backends import fail

    if isinstance(backend, fail.Keyring):
        return False
    try:
        return float(backend.priority) > 0
    except Exception:
        return False


HOW_TO_GET_A_KEYRING = (
    "Run a Secret Service (e.g. gnome-keyring), or choose a backend with "
    "PYTHON_KEYRING_BACKEND or [settings] keyring_backend"
)


def load_backend(backend_name: str | None, environ: Mapping[str, str]) -> KeyringBackend:
    """The keyring: ``PYTHON_KEYRING_BACKEND``, then the setting, then keyring's own choice.

    Raises :class:`CacheError` when none can store secrets; callers decide whether that is
    fatal (storing long-term keys) or a warning (caching temporary ones).
    """
    try:
        import keyring
        import keyring.core

        name = environ.get("PYTHON_KEYRING_BACKEND") or backend_name
        backend = keyring.core.load_keyring(name) if name else keyring.get_keyring()
    except Exception as error:
        raise CacheError(
            f"cannot load the keyring backend: {type(error).__name__}: {error}"
        ) from None
    if not _usable(backend):
        raise CacheError(
            f"no usable keyring backend ({type(backend).__module__}."
            f"{type(backend).__qualname__} cannot store secrets)"
        )
    log.debug("keyring backend: %s.%s", type(backend).__module__, type(backend).__qualname__)
    return backend


def open_cache(
    *,
    enabled: bool,
    backend_name: str | None,
    environ: Mapping[str, str],
    warn: Warn,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> KeyringCache | NullCache:
    """The keyring cache, or no cache (with one warning) when no keyring can be used."""
    if not enabled:
        return NullCache()
    try:
        backend = load_backend(backend_name, environ)
    except CacheError as error:
        if error.message.startswith("no usable"):
            warn(f"{error}; credentials are not cached. {HOW_TO_GET_A_KEYRING}")
        else:
            warn(f"{error}; credentials are not cached")
        return NullCache()
    return KeyringCache(backend, warn, clock)


class Announcing:
    """A cache that reports every change it makes (to the agents, which hold copies)."""

    def __init__(self, inner: Cache, changed: Callable[[set[str]], None]) -> None:
        self.inner = inner
        self.changed = changed

    @property
    def description(self) -> str:
        return self.inner.description

    def get(self, key: str) -> Credentials | None:
        return self.inner.get(key)

    def put(self, key: str, credentials: Credentials, *, label: str) -> None:
        self.inner.put(key, credentials, label=label)
        self.changed({key})

    def delete(self, key: str) -> bool:
        deleted = self.inner.delete(key)
        self.changed({key})
        return deleted

    def index(self) -> dict[str, IndexEntry]:
        return self.inner.index()

    def remove(self, keys: set[str]) -> int:
        removed = self.inner.remove(keys)
        self.changed(set(keys))
        return removed
