"""A named base: keys stored in the keyring under its name, else the AWS profile."""

from __future__ import annotations

import logging
from collections.abc import Callable

from rolehop.common.creds import Credentials
from rolehop.engine.providers import Provider
from rolehop.errors import CacheError, SourceCredentialsError
from rolehop.stores.keys import Keys

log = logging.getLogger(__name__)


class StoredKeysProvider:
    def __init__(
        self,
        name: str,
        key: str,
        keystore: Callable[[], Keys | None],
        fallback: Provider | None,
        target: str,
        warn: Callable[[str], None],
    ) -> None:
        self._name = name
        self._key = key
        self.keystore = keystore
        self.fallback = fallback
        self.target = target
        self.warn = warn

    @property
    def key(self) -> str:
        return self._key

    @property
    def name(self) -> str:
        return self._name

    def load(self) -> Credentials:
        store = None
        try:
            store = self.keystore()
            stored = store.get(self._name) if store is not None else None
        except CacheError as error:
            if self.fallback is None:
                raise SourceCredentialsError(
                    f"profile {self.target!r}: source profile {self._name!r}: {error}"
                ) from None
            self.warn(f"{error}; using the AWS profile {self._name!r} instead")
            stored = None
        if stored is not None:
            log.debug("%s: keys from the keyring", self._name)
            return stored
        if self.fallback is not None:
            return self.fallback.load()
        raise SourceCredentialsError(
            f"profile {self.target!r}: no keys are stored as {self._name!r} and no AWS profile "
            f"has that name: run rolehop keys add {self._name}"
        )
