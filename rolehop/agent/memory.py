"""The agent's copies of the keyring: cache entries and the stored keys' names and ids, read
once and served from memory until anyone changes the keyring (rolehop.stores.changes)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from rolehop.common.creds import Credentials
from rolehop.errors import CacheError
from rolehop.stores.cache import IndexEntry, KeyringCache
from rolehop.stores.keys import KeyStore


class MemoryCache:
    """Entries read once from the keyring, then served from memory until forgotten.

    Every change made here is announced to the other agents (rolehop.stores.changes);
    ``announced`` is told, and returns whether others changed the keyring too."""

    def __init__(self, inner: KeyringCache) -> None:
        self.inner = inner
        self.entries: dict[str, Credentials] = {}
        # requests run in threads: one at a time in here (and in the keyring behind it)
        self.lock = threading.RLock()
        self.announced: Callable[[], None] = lambda: None

    @property
    def description(self) -> str:
        return f"agent memory over {self.inner.description}"

    def get(self, key: str) -> Credentials | None:
        """The memory copy once the keyring answers (a locked keyring must lock the agent
        too: the direct path would fail to read it), else the keyring's entry."""
        with self.lock:
            if key in self.entries:
                return self.entries[key] if self.inner.reachable() else None
            found = self.inner.get(key)
            if found is not None:
                self.entries[key] = found
            return found

    def put(self, key: str, credentials: Credentials, *, label: str) -> None:
        with self.lock:
            self.entries.pop(key, None)
            failures = self.inner.failures
            self.inner.put(key, credentials, label=label)
            self.announced()
            if credentials.expiration is not None and self.inner.failures == failures:
                self.entries[key] = credentials  # what the keyring now holds

    def delete(self, key: str) -> bool:
        with self.lock:
            self.entries.pop(key, None)
            deleted = self.inner.delete(key)
            self.announced()
            return deleted

    def index(self) -> dict[str, IndexEntry]:
        with self.lock:
            return self.inner.index()

    def remove(self, keys: set[str]) -> int:
        with self.lock:
            self.forget(keys)
            removed = self.inner.remove(keys)
            self.announced()
            return removed

    def forget(self, keys: set[str] | None) -> None:
        with self.lock:
            if keys is None:
                self.entries.clear()
            for key in keys or ():
                self.entries.pop(key, None)


class MemoKeyStore(KeyStore):
    """The names of the stored keys, read from the keyring once (chains are built with
    them on every request); ``keys add/remove`` make the agent forget them. Its keyring
    calls take the cache's lock: one keyring connection, one caller at a time."""

    _names: set[str] | None = None
    _key_ids: dict[str, str | None] | None = None
    lock: threading.RLock | None = None
    # told of a keyring failure (the request then goes the direct way): a failed read is
    # never remembered as "no keys stored"
    failed: Callable[[str], None] = staticmethod(lambda message: None)

    def names(self) -> set[str]:
        with self.lock or contextlib.nullcontext():
            if self._names is None:
                try:
                    self._names = super().names()
                except CacheError as error:
                    self.failed(str(error))
                    raise
            return set(self._names)

    def key_id(self, name: str) -> str | None:
        with self.lock or contextlib.nullcontext():
            if self._key_ids is None:
                self._key_ids = {}
            if name not in self._key_ids:
                try:
                    found = self.get(name)
                except CacheError as error:
                    self.failed(str(error))
                    return None
                self._key_ids[name] = found.access_key_id if found is not None else None
            return self._key_ids[name]

    def get(self, name: str) -> Credentials | None:
        with self.lock or contextlib.nullcontext():
            return super().get(name)

    def forget(self) -> None:
        self._names = None
        self._key_ids = None
