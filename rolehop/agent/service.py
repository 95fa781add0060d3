"""What the agent does with a request: pure request -> answer, no sockets (see server.py).

The agent holds the cache entries it has read in memory, in front of the keyring, which
stays the durable store: an entry is read from the keyring the first time it is asked for
and every time the memory copy is no longer good for the margin. The agent never calls STS
and never prompts: a request it cannot answer from the cache is a miss, and the client goes
the direct way (which takes the locks, asks for MFA codes, writes the keyring and then tells
the agent to forget what it changed).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from rolehop import __version__
from rolehop.agent.protocol import PROTOCOL
from rolehop.agent.remote import index_rows
from rolehop.cache import IndexEntry, KeyringCache, decode_entry, encode_entry
from rolehop.core import Rolehop, utcnow
from rolehop.credentials import Credentials
from rolehop.errors import CacheError, RolehopError
from rolehop.keystore import KeyStore
from rolehop.lock import lock_dir

log = logging.getLogger(__name__)


class MemoryCache:
    """Entries read once from the keyring, then served from memory until forgotten."""

    def __init__(self, inner: KeyringCache) -> None:
        self.inner = inner
        self.entries: dict[str, Credentials] = {}

    @property
    def description(self) -> str:
        return f"agent memory over {self.inner.description}"

    def get(self, key: str) -> Credentials | None:
        if key not in self.entries:
            found = self.inner.get(key)
            if found is None:
                return None
            self.entries[key] = found
        return self.entries[key]

    def refreshed(self, key: str) -> Credentials | None:
        """Read ``key`` from the keyring again: another process may have renewed it."""
        self.entries.pop(key, None)
        return self.get(key)

    def put(self, key: str, credentials: Credentials, *, label: str) -> None:
        self.entries.pop(key, None)
        self.inner.put(key, credentials, label=label)
        if credentials.expiration is not None:  # what the keyring now holds
            self.entries[key] = credentials

    def delete(self, key: str) -> bool:
        self.entries.pop(key, None)
        return self.inner.delete(key)

    def index(self) -> dict[str, IndexEntry]:
        return self.inner.index()

    def remove(self, keys: set[str]) -> int:
        self.forget(keys)
        return self.inner.remove(keys)

    def forget(self, keys: set[str] | None) -> None:
        if keys is None:
            self.entries.clear()
        for key in keys or ():
            self.entries.pop(key, None)


class MemoKeyStore(KeyStore):
    """The names of the stored keys, read from the keyring once (chains are built with
    them on every request); ``keys add/remove`` make the agent forget them."""

    _names: set[str] | None = None

    def names(self) -> set[str]:
        if self._names is None:
            self._names = super().names()
        return set(self._names)

    def forget(self) -> None:
        self._names = None


class Service:
    def __init__(
        self,
        cache: MemoryCache,
        keystore: MemoKeyStore,
        *,
        idle_timeout: float,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache = cache
        self.keystore = keystore
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.started = monotonic()
        self.monotonic = monotonic
        self.served = {"hit": 0, "miss": 0}
        self.stopping = False
        # Single flight for parallel cold calls: the first client to miss a target leads
        # (goes the direct way, whose cache puts come back here); the others poll until its
        # entry arrives. By cache key: when the lead started, and its pid.
        self.leases: dict[str, tuple[float, int]] = {}

    def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        if op == "stop":  # understood whatever the version: how an old agent is replaced
            self.stopping = True
            return self._answer(stopping=True)
        if message.get("v") != PROTOCOL or message.get("version") != __version__:
            return self._answer(ok=False, error="version mismatch")
        try:
            if op == "resolve" and not self.cache.inner.broken:
                return self._resolve(message)
            if op == "forget":
                keys = message.get("keys")
                self._end_leases(set(keys) if isinstance(keys, list) else None)
                self.cache.forget(set(keys) if isinstance(keys, list) else None)
                if keys is None:
                    self.keystore.forget()
                return self._answer()
            if op == "status":
                return self._answer(**self.status())
            if self.cache.inner.broken:  # the direct path meets it and says so, once
                return self._answer(ok=False, error="the agent's keyring failed")
            if op in self._CACHE_OPS:
                return self._answer(**self._CACHE_OPS[op](self, message))
        except CacheError as error:
            return self._answer(ok=False, error="cache", message=str(error))
        except Exception as error:  # a bug must not take the agent down: the client copes
            log.debug("agent: %s failed: %s", op, type(error).__name__)
            return self._answer(ok=False, error=type(error).__name__)
        return self._answer(ok=False, error=f"unknown op {op!r}")

    # The direct path's cache and stored keys, served from here (rolehop.agent.remote)

    def _get(self, message: Mapping[str, Any]) -> dict[str, Any]:
        found = self.cache.get(str(message["key"]))
        return {"entry": encode_entry(found, "agent") if found is not None else None}

    def _put(self, message: Mapping[str, Any]) -> dict[str, Any]:
        self.leases.pop(str(message["key"]), None)
        credentials = decode_entry(str(message["entry"]))
        self.cache.put(str(message["key"]), credentials, label=str(message["label"]))
        return {}

    def _delete(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {"deleted": self.cache.delete(str(message["key"]))}

    def _index(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {"index": index_rows(self.cache.index())}

    def _remove(self, message: Mapping[str, Any]) -> dict[str, Any]:
        keys = {str(key) for key in message["keys"]}
        self._end_leases(keys)
        return {"removed": self.cache.remove(keys)}

    def _end_leases(self, keys: set[str] | None) -> None:
        if keys is None:
            self.leases.clear()
        for key in keys or ():
            self.leases.pop(key, None)

    def _stored_names(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {"names": sorted(self.keystore.names())}

    def _stored_key(self, message: Mapping[str, Any]) -> dict[str, Any]:
        found = self.keystore.get(str(message["name"]))
        return {"keys": [found.access_key_id, found.secret_access_key] if found else None}

    _CACHE_OPS: ClassVar[dict[str, Callable[[Service, Mapping[str, Any]], dict[str, Any]]]] = {
        "get": _get,
        "put": _put,
        "delete": _delete,
        "index": _index,
        "remove": _remove,
        "stored-names": _stored_names,
        "stored-key": _stored_key,
    }

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "uptime": round(self.monotonic() - self.started, 1),
            "idle_timeout": self.idle_timeout,
            "entries": len(self.cache.entries),
            "served": dict(self.served),
            "keyring": self.cache.inner.description,
        }

    def _answer(self, ok: bool = True, **fields: Any) -> dict[str, Any]:
        return {"v": PROTOCOL, "version": __version__, "ok": ok, **fields}

    def _miss(self, app: Rolehop, profile: str, pid: object) -> dict[str, Any]:
        """Who refreshes ``profile``: the first client to miss it leads; the others get how
        long the lead has been going and its lock, to wait for it without the direct path's
        imports (``rolehop.fast``). A broken chain: the direct path says what is wrong."""
        try:
            key = app.chain(profile).keys[-1]
            timeout = app.config.settings.lock_timeout
        except RolehopError:
            return {"lead": True}
        now = self.monotonic()
        started, lead = self.leases.get(key, (None, None))
        if started is None or now - started > timeout or lead == pid:
            self.leases[key] = (now, pid if isinstance(pid, int) else 0)
            return {"lead": True}
        return {
            "lead": False,
            "lead_pid": lead,
            "lease_age": now - started,
            "lock": str(lock_dir(app.environ) / f"{key}.lock"),
            "lock_timeout": timeout,
        }

    def _resolve(self, message: Mapping[str, Any]) -> dict[str, Any]:
        from rolehop.cli import printable
        from rolehop.output import (
            credential_process_json,
            environment,
            render_env,
            shell_from_environ,
        )
        from rolehop.redact import redact

        environ = message.get("environ")
        profile, command = message.get("profile"), message.get("command")
        config = message.get("config")
        if not isinstance(environ, dict) or not isinstance(profile, str):
            return self._answer(ok=False, error="bad request")
        warnings: list[str] = []
        app = Rolehop(
            environ,
            config_path=config if isinstance(config, str) else None,
            clock=self.clock,
            cache=self.cache,
            keystore=self.keystore,
            warn=warnings.append,
        )
        try:
            resolution = app.cached(profile)
            if resolution is None:
                # a memory copy past the margin: another process may have renewed it since
                self.cache.forget(set(app.chain(profile).keys))
                resolution = app.cached(profile)
            if resolution is not None:
                if command == "env":
                    shell = message.get("shell") or shell_from_environ(environ)
                    stdout = render_env(environment(resolution), shell)
                else:
                    stdout = credential_process_json(resolution.credentials) + "\n"
        except RolehopError:
            resolution = None  # the direct path says it, exactly as it always does
        if resolution is None:
            self.served["miss"] += 1
            return self._answer(hit=False, **self._miss(app, profile, message.get("pid")))
        self.served["hit"] += 1
        stderr = "".join(
            f"rolehop: warning: {printable(redact(line))}\n" for line in dict.fromkeys(warnings)
        )
        return self._answer(hit=True, stdout=stdout, stderr=stderr)
