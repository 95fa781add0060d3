"""Long-term access keys in the OS keyring, instead of plaintext ``~/.aws/credentials``.

Stored under service ``rolehop-keys`` (apart from the cache, so that clearing the cache can
never touch them), one entry ``key:NAME`` per name, and an ``index`` entry without secrets
that ``keys list`` reads. Only ``keys add`` and ``keys remove`` write here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rolehop.common.creds import Credentials, format_expiration, parse_expiration
from rolehop.config import validate
from rolehop.errors import CacheError, UsageError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "rolehop-keys"
INDEX = "index"
FORMAT = 1


@dataclass(frozen=True)
class StoredKey:
    """What ``keys list`` shows: never the secret, only the key id's last 4 characters."""

    name: str
    key_id_suffix: str
    added: datetime | None


def check_name(name: str) -> str:
    """Stored keys are named like profiles (a source_profile finds them by that name)."""
    try:
        return validate.profile_name(name)
    except ValueError as error:
        raise UsageError(f"keys name: {error}") from None


def _entry(name: str) -> str:
    return f"key:{name}"


class Keys(Protocol):
    """What rolehop does with stored keys: the keyring's :class:`KeyStore`, or the agent's."""

    def get(self, name: str) -> Credentials | None: ...

    def add(self, name: str, credentials: Credentials) -> StoredKey: ...

    def remove(self, name: str) -> bool: ...

    def list(self) -> list[StoredKey]: ...

    def names(self) -> set[str]: ...

    def key_id(self, name: str) -> str | None:
        """The access key id of the keys stored as ``name`` (not a secret), or None."""
        ...


class KeyStore:
    def __init__(self, backend: KeyringBackend, clock: Callable[[], datetime]) -> None:
        self.backend = backend
        self.clock = clock

    def _fail(self, action: str, error: Exception) -> CacheError:
        kind = type(self.backend)
        return CacheError(
            f"the keyring ({kind.__module__}.{kind.__qualname__}) failed to {action}: "
            f"{type(error).__name__}: {error}"
        )

    def get(self, name: str) -> Credentials | None:
        """The keys stored as ``name``; ``None`` if there are none (or they are unreadable)."""
        try:
            text = self.backend.get_password(SERVICE, _entry(name))
        except Exception as error:
            raise self._fail("read stored keys", error) from None
        if text is None:
            return None
        try:
            document = json.loads(text)
            return Credentials(document["AccessKeyId"], document["SecretAccessKey"])
        except Exception:
            raise CacheError(
                f"the keys stored as {name!r} are unreadable: run rolehop keys add {name}"
            ) from None

    def add(self, name: str, credentials: Credentials) -> StoredKey:
        """Store (or replace) keys, verified by reading them back; all or nothing."""
        added = self.clock()
        text = json.dumps(
            {
                "v": FORMAT,
                "AccessKeyId": credentials.access_key_id,
                "SecretAccessKey": credentials.secret_access_key,
                "added": format_expiration(added),
            }
        )
        stored = StoredKey(name, credentials.access_key_id[-4:], added)
        try:
            previous = self._raw(name)
        except CacheError as error:  # nothing written yet: nothing to undo
            raise CacheError(f"storing keys {name!r} failed: {error}") from None
        try:
            self.backend.set_password(SERVICE, _entry(name), text)
            if self.backend.get_password(SERVICE, _entry(name)) != text:
                raise CacheError("what was read back differs from what was written")
            index = self._index()
            index[name] = stored
            self._write_index(index)
        except Exception as error:  # all or nothing: the previous keys come back
            self._restore(name, previous)
            if isinstance(error, CacheError):
                raise CacheError(f"storing keys {name!r} failed: {error}") from None
            raise self._fail(f"store keys {name!r}", error) from None
        return stored

    def remove(self, name: str) -> bool:
        from keyring.errors import PasswordDeleteError

        try:
            self.backend.delete_password(SERVICE, _entry(name))
            removed = True
        except PasswordDeleteError:
            removed = False
        except Exception as error:
            raise self._fail(f"remove keys {name!r}", error) from None
        index = self._index()
        if index.pop(name, None) is not None or removed:
            self._write_index(index)
        return removed

    def list(self) -> list[StoredKey]:
        return sorted(self._index().values(), key=lambda stored: stored.name)

    def names(self) -> set[str]:
        return set(self._index())

    def key_id(self, name: str) -> str | None:
        """From the entry itself, not the index: keys replaced in the keyring by other
        means than ``keys add`` count too. Unreadable keys count as none (the chain then
        falls back to the AWS profile, with a warning)."""
        try:
            found = self.get(name)
        except CacheError:
            return None
        return found.access_key_id if found is not None else None

    def _raw(self, name: str) -> str | None:
        try:
            return self.backend.get_password(SERVICE, _entry(name))
        except Exception as error:
            raise self._fail("read stored keys", error) from None

    def _restore(self, name: str, previous: str | None) -> None:
        # the original failure is what the user needs to hear about, not this one
        with contextlib.suppress(Exception):
            if previous is None:
                self.backend.delete_password(SERVICE, _entry(name))
            else:
                self.backend.set_password(SERVICE, _entry(name), previous)

    def _index(self) -> dict[str, StoredKey]:
        try:
            text = self.backend.get_password(SERVICE, INDEX)
        except Exception as error:
            raise self._fail("read the stored keys index", error) from None
        try:
            rows: Any = json.loads(text)["keys"] if text else {}
            items = list(rows.items())
        except Exception:
            return {}  # rewritten by the next add/remove
        index: dict[str, StoredKey] = {}
        for name, row in items:
            try:  # one bad row keeps its name listed, so the keys stay removable
                added = parse_expiration(row["added"]) if row.get("added") else None
                index[name] = StoredKey(name, str(row.get("key_id_suffix", "????")), added)
            except Exception:
                index[str(name)] = StoredKey(str(name), "????", None)
        return index

    def _write_index(self, index: dict[str, StoredKey]) -> None:
        document = {
            "v": FORMAT,
            "keys": {
                stored.name: {
                    "key_id_suffix": stored.key_id_suffix,
                    "added": format_expiration(stored.added) if stored.added else None,
                }
                for stored in index.values()
            },
        }
        try:
            self.backend.set_password(SERVICE, INDEX, json.dumps(document))
        except Exception as error:
            raise self._fail("write the stored keys index", error) from None


class Announced:
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
