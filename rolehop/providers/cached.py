"""Caching as a wrapper around any provider.

An entry is served only while more than ``margin`` remains; otherwise (or with
``refresh``) the wrapped provider runs and its result replaces the entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from rolehop.cache import Cache
from rolehop.credentials import Credentials
from rolehop.providers import Provider

Status = Literal["unused", "hit", "miss", "refreshed"]


class CachedProvider:
    def __init__(
        self,
        inner: Provider,
        cache: Cache,
        clock: Callable[[], datetime],
        margin: timedelta,
        *,
        refresh: bool = False,
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.clock = clock
        self.margin = margin
        self.refresh = refresh
        self.status: Status = "unused"

    @property
    def key(self) -> str:
        return self.inner.key

    @property
    def name(self) -> str:
        return self.inner.name

    def cached(self) -> Credentials | None:
        """The entry, if it is still good for more than the margin."""
        entry = self.cache.get(self.key)
        if entry is not None and entry.valid_for(self.clock(), self.margin):
            return entry
        return None

    def load(self) -> Credentials:
        if not self.refresh:
            entry = self.cached()
            if entry is not None:
                self.status = "hit"
                return entry
        credentials = self.inner.load()
        self.status = "refreshed" if self.refresh else "miss"
        self.cache.put(self.key, credentials, label=self.name)
        return credentials
