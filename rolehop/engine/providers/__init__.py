"""One way to get credentials per module, composed by ``rolehop.engine.compose`` into a chain.

Every provider has a ``key`` (what identifies the credentials it makes, used by the cache)
and ``load()``. Caching is a wrapper (:class:`~rolehop.engine.providers.cached.CachedProvider`),
not logic inside the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rolehop.common.creds import Credentials


class Provider(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def name(self) -> str:
        """The profile this provider stands for, for messages."""
        ...

    def load(self) -> Credentials: ...


# (serial, target profile, mfa_process) -> a 6-digit code; see rolehop.engine.mfa.MfaCodes
MfaCodeSource = Callable[[str, str, "str | None"], str]
