"""Caching as a wrapper around any provider.

An entry is served only while more than ``margin`` remains; otherwise (or with
``refresh``) the wrapped provider runs and its result replaces the entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from rolehop.common.creds import Credentials
from rolehop.engine.providers import Provider
from rolehop.stores.cache import Cache

Status = Literal["unused", "hit", "miss", "refreshed"]
log = logging.getLogger(__name__)


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
        if entry is not None and entry.fresh(self.clock(), self.margin):
            return entry
        return None

    def load(self) -> Credentials:
        if not self.refresh:
            entry = self.cached()
            if entry is not None:
                self.status = "hit"
                log.debug(
                    "%s: cache hit (key %.12s, %s left)",
                    self.name,
                    self.key,
                    entry.remaining(self.clock()),
                )
                return entry
            log.debug("%s: cache miss (key %.12s)", self.name, self.key)
        credentials = self.inner.load()
        self.status = "refreshed" if self.refresh else "miss"
        self.cache.put(self.key, credentials, label=self.name)
        return credentials
