"""Locking as a wrapper: a cache miss refreshes under the hop's cross-process lock.

``LockedProvider(CachedProvider(...))``: the fast path reads the cache with no lock; on a
miss the lock is taken and the cache read again, so whoever waited behind the process that
refreshed finds its entry instead of calling STS (or prompting for MFA) again.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.engine.providers.cached import CachedProvider, Status


class Locks(Protocol):
    def hold(self, key: str, what: str, busy: Busy = ...) -> AbstractContextManager[None]: ...


class LockedProvider:
    def __init__(
        self, inner: CachedProvider, locks: Locks, target: str, busy: Busy = quiet
    ) -> None:
        self.inner = inner
        self.locks = locks
        self.target = target
        # quiet where the lock holder may be prompting for an MFA code on this terminal
        self.busy = busy

    @property
    def key(self) -> str:
        return self.inner.key

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def status(self) -> Status:
        return self.inner.status

    def load(self) -> Credentials:
        if not self.inner.refresh:
            entry = self.inner.cached()
            if entry is not None:
                self.inner.status = "hit"
                return entry
        what = f"profile {self.target!r}" + (
            f" (hop {self.name!r})" if self.name != self.target else ""
        )
        with self.locks.hold(self.key, what, self.busy):
            return self.inner.load()
