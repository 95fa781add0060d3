"""What the agent does with a request: pure request -> answer, no sockets (listener.py).

It holds copies of the keyring (rolehop.agent.memory) in front of it, which stays the one
source of truth; ``resolve`` is rolehop.agent.resolver's; the direct path's cache and stored
keys operations (rolehop.agent.remote) are answered here, and ``status`` and ``list``'s rows.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rolehop.agent.memory import MemoKeyStore, MemoryCache
from rolehop.agent.protocol import PROTOCOL, answer, sts_scope
from rolehop.agent.remote import index_rows, summary_row
from rolehop.agent.resolver import Resolver
from rolehop.aws.sts import StsClientFactory
from rolehop.config import files as configs
from rolehop.engine import context, list_text, views
from rolehop.engine.context import keyring_backend, utcnow
from rolehop.engine.rows import ProfileSummary
from rolehop.errors import CacheError
from rolehop.stores import changes
from rolehop.stores.cache import decode_entry, encode_entry
from rolehop.version import __version__

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


@dataclass
class _Listed:
    """``list``'s rows for one state of the files, keys, cache and clock; the texts made
    of them (by --json or not), once asked for."""

    summaries: list[ProfileSummary]
    rows: list[dict[str, Any]]
    texts: dict[bool, tuple[str, str]] = field(default_factory=dict)


class Declined(Exception):
    """Not the agent's to answer: the client goes the direct way."""


class Service:
    def __init__(
        self,
        cache: MemoryCache,
        keystore: MemoKeyStore,
        *,
        idle_timeout: float,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        watcher: changes.Watcher | None = None,
        keyring_backend: str | None = None,
    ) -> None:
        self.cache = cache
        self.keystore = keystore
        keystore.lock = cache.lock
        # the keyring is the truth: a change anyone made drops every copy held here
        self.watcher = watcher
        # the keyring it reads: callers of another must go their own way
        self.keyring_backend = os.environ.get("PYTHON_KEYRING_BACKEND") or keyring_backend or None
        cache.announced = self._announced
        # keyring failures, counted per request thread (see handle)
        self.local = threading.local()
        cache.inner.warn = self._keyring_failed
        keystore.failed = self._keyring_failed
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.started = monotonic()
        self.monotonic = monotonic
        self.served = {"hit": 0, "miss": 0, "work": 0}
        self.stopping = False
        # Single flight for parallel cold calls: the first client to miss a target leads
        # (the agent works for it, or it goes the direct way, whose cache puts come back
        # here); the others wait on the target's lock, then ask again. By cache key: when
        # the lead started, and its pid.
        self.leases: dict[str, tuple[float, int]] = {}
        self.leases_lock = threading.Lock()
        self.working = 0
        self.factories: dict[tuple[object, ...], StsClientFactory] = {}
        self.configs: dict[tuple[object, ...], configs.Config] = {}
        self.rows: dict[tuple[object, ...], _Listed] = {}
        self.lists = 0  # list's rows served
        self.names: dict[tuple[object, ...], list[str]] = {}
        self.completions = 0  # profile names served for completion
        # what botocore reads from this process's environment for its STS clients
        self.sts_scope = sts_scope(os.environ, os.getcwd())
        self.resolver = Resolver(self)

    def busy(self) -> bool:
        """Whether a request is being worked on (STS calls): the agent is not idle."""
        return self.working > 0

    def _keyring_failed(self, message: str) -> None:
        log.warning("agent: %s", message)
        self.local.failures = self.keyring_failures() + 1

    def keyring_failures(self) -> int:
        return int(getattr(self.local, "failures", 0))

    def _forget_all(self) -> None:
        with self.cache.lock:
            self.cache.forget(None)
            self.keystore.forget()

    def _look_for_changes(self) -> None:
        if self.watcher is not None:
            with self.cache.lock:  # no request serves a copy between the look and forgetting
                if self.watcher.changed():
                    self._forget_all()

    def _announced(self) -> None:
        """This agent changed the keyring: tell the others; forget what they changed."""
        if self.watcher is not None and self.watcher.announce():
            self._forget_all()

    def handle(
        self, message: Mapping[str, Any], tell: Callable[[dict[str, Any]], None] = lambda _: None
    ) -> dict[str, Any]:
        """The answer to ``message``; ``tell`` sends a note before it (that work begins)."""
        op = message.get("op")
        if op == "stop":  # understood whatever the version: how an old agent is replaced
            self.stopping = True
            return self._answer(stopping=True)
        if message.get("v") != PROTOCOL or message.get("version") != __version__:
            return self._answer(ok=False, error="version mismatch")
        if op == "status":
            return self._answer(**self.status())
        self._look_for_changes()
        failures = self.keyring_failures()
        try:
            if op == "resolve":
                answer = self.resolver.resolve(message, tell)
            elif op == "names":  # no keyring: whichever the caller's, the files say
                answer = self._answer(**self._names(message))
            elif op == "list":  # the caller's keyring, as its files say (the entry cannot)
                answer = self._answer(**self._list(message))
            elif message.get("backend") != self.keyring_backend:
                return self._answer(ok=False, error="another keyring")
            elif op in self._CACHE_OPS:
                answer = self._answer(**self._CACHE_OPS[op](self, message))
            else:
                return self._answer(ok=False, error=f"unknown op {op!r}")
            if self.keyring_failures() != failures:
                # the keyring failed on this request: the direct path meets it and says so
                # (the next request tries the keyring again)
                return self._answer(ok=False, error="the agent's keyring failed")
            return answer
        except CacheError as error:
            return self._answer(ok=False, error="cache", message=str(error))
        except Declined as error:
            return self._answer(ok=False, error=str(error))
        except Exception as error:  # a bug must not take the agent down: the client copes
            log.debug("agent: %s failed: %s", op, type(error).__name__)
            return self._answer(ok=False, error=type(error).__name__)

    # The direct path's cache and stored keys, served from here (rolehop.agent.remote)

    def _get(self, message: Mapping[str, Any]) -> dict[str, Any]:
        found = self.cache.get(str(message["key"]))
        return {"entry": encode_entry(found, "agent") if found is not None else None}

    def _put(self, message: Mapping[str, Any]) -> dict[str, Any]:
        self._end_leases({str(message["key"])})
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
        with self.leases_lock:
            if keys is None:
                self.leases.clear()
            for key in keys or ():
                self.leases.pop(key, None)

    def _stored_names(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {"names": sorted(self.keystore.names())}

    def _stored_key_id(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {"key_id": self.keystore.key_id(str(message["name"]))}

    def _stored_key(self, message: Mapping[str, Any]) -> dict[str, Any]:
        found = self.keystore.get(str(message["name"]))
        return {"keys": [found.access_key_id, found.secret_access_key] if found else None}

    def _profiles(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """``list``'s rows: the files parsed and the rows built once while the files, the
        stored keys and the cache index stay the same (a thousand profiles take 60 ms)."""
        listed = self._listed(*self._lister(message))
        self.lists += 1
        return {"rows": listed.rows}

    def _list(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """``list`` or ``list --json`` to a pipe, as the text the direct path prints
        (rolehop.engine.list_text), made once per state of the rows: the entry's fast path.
        No profile at all is the direct path's to say (it names the file as given)."""
        environ, stamp, config = self._lister(message)
        if keyring_backend(environ, config.settings) != self.keyring_backend:
            raise Declined("another keyring")
        listed = self._listed(environ, stamp, config)
        if not listed.summaries:
            raise Declined("no profiles")
        as_json = bool(message.get("json"))
        with self.leases_lock:
            text = listed.texts.get(as_json)
        if text is None:
            summaries = listed.summaries
            stdout = list_text.json_text(summaries) if as_json else list_text.plain_table(summaries)
            text = (stdout, "" if as_json else list_text.warnings(summaries))
            with self.leases_lock:
                listed.texts[as_json] = text
        self.lists += 1
        return {"stdout": text[0], "stderr": text[1]}

    def _lister(
        self, message: Mapping[str, Any]
    ) -> tuple[Mapping[str, str], tuple[object, ...], configs.Config]:
        """The caller's environment and files (read once per state) for ``list``."""
        environ = message["environ"]
        override = message.get("config")
        stamp, config = self.config_of(environ, override if isinstance(override, str) else None)
        if not config.settings.agent or not config.settings.cache:
            raise Declined("the caller's config turns the agent or the cache off")
        return environ, stamp, config

    def _listed(
        self, environ: Mapping[str, str], stamp: tuple[object, ...], config: configs.Config
    ) -> _Listed:
        """``list``'s rows for the caller, built once per state of what they show."""
        index = self.cache.index()
        now = self.clock()
        # the rows depend on the files, the stored keys, the cache, the caller's variables
        # (cache keys hold its user name, endpoints...) and the time through one thing only:
        # which entries are still good ("cached until" shows those), so the set of those
        # stands for the time, and the rows stay while it does
        caller = frozenset((k, v) for k, v in environ.items() if isinstance(v, str))
        live = frozenset(key for key, entry in index.items() if views.good_at(entry, now))
        state = (stamp, frozenset(self.keystore.names()), frozenset(index.items()), caller, live)
        with self.leases_lock:
            listed = self.rows.get(state)
        if listed is None:
            ctx = context.build(
                environ, config=config, cache=self.cache, keys=self.keystore, clock=self.clock
            )
            summaries = views.profiles(ctx)
            listed = _Listed(summaries, [summary_row(summary) for summary in summaries])
            with self.leases_lock:
                self.rows = {state: listed}
        return listed

    def _names(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """The role profiles' names completion offers (rolehop.cli.complete), read once
        while the files stay as they are: a person waits at each <Tab>."""
        environ = message["environ"]
        stamp, config = self.config_of(environ, None)
        if not config.settings.agent:
            raise Declined("the caller's config turns the agent off")
        with self.leases_lock:
            names = self.names.get(stamp)
        if names is None:
            names = sorted(configs.profile_names(environ))
            with self.leases_lock:
                self.names = {stamp: names}
        self.completions += 1
        return {"names": names}

    def config_of(
        self, environ: Mapping[str, str], override: str | None
    ) -> tuple[tuple[object, ...], configs.Config]:
        """The files parsed, once while they stay as they are (path and stat of each)."""
        paths = configs.config_files(environ, override)
        stamp = tuple((str(path), _stat(path)) for path in paths)
        with self.leases_lock:
            config = self.configs.get(stamp)
        if config is None:
            config = configs.load(environ, override)
            with self.leases_lock:
                self.configs = {**dict(list(self.configs.items())[-7:]), stamp: config}
        return stamp, config

    _CACHE_OPS: ClassVar[dict[str, Callable[[Service, Mapping[str, Any]], dict[str, Any]]]] = {
        "get": _get,
        "put": _put,
        "delete": _delete,
        "index": _index,
        "remove": _remove,
        "stored-names": _stored_names,
        "stored-key": _stored_key,
        "stored-key-id": _stored_key_id,
        "profiles": _profiles,
    }

    def status(self) -> dict[str, Any]:
        """What ``agent status`` shows: never a secret. ``keyring_error`` is the last
        keyring call's failure (None once a call works again)."""
        return {
            "pid": os.getpid(),
            "uptime": round(self.monotonic() - self.started, 1),
            "idle_timeout": self.idle_timeout,
            "entries": len(self.cache.entries),
            "served": dict(self.served),
            "lists": self.lists,
            "completions": self.completions,
            "keyring": self.cache.inner.description,
            "keyring_ok": self.cache.inner.last_error is None,
            "keyring_error": self.cache.inner.last_error,
        }

    def _answer(self, ok: bool = True, **fields: Any) -> dict[str, Any]:
        return answer(ok, **fields)


def _stat(path: Path) -> tuple[int, ...]:
    """What tells that a file changed (or appeared, or went)."""
    try:
        info = os.stat(path)
    except OSError:
        return ()
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)
