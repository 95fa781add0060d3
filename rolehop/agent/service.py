"""What the agent does with a request: pure request -> answer, no sockets (see server.py).

The agent holds the cache entries it has read in memory, in front of the keyring, which
stays the durable store: an entry is read from the keyring the first time it is asked for
and every time the memory copy is no longer good for the margin. The agent never calls STS
and never prompts: a request it cannot answer from the cache is a miss, and the client goes
the direct way (which takes the locks, asks for MFA codes, writes the keyring and then tells
the agent to forget what it changed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rolehop.agent.protocol import PROTOCOL, sts_scope
from rolehop.agent.remote import index_rows, summary_row
from rolehop.aws.sts import Boto3StsClientFactory, StsClientFactory
from rolehop.common.creds import Credentials
from rolehop.config import files as configs
from rolehop.engine import chain as chains
from rolehop.engine import context, views
from rolehop.engine.context import Context, keyring_backend, utcnow
from rolehop.engine.hops import Chain
from rolehop.engine.providers.aws_profile import resolving
from rolehop.engine.resolve import Resolution, cached, chain_of, resolve
from rolehop.errors import CacheError, MfaError, RolehopError
from rolehop.stores import changes
from rolehop.stores.cache import IndexEntry, KeyringCache, decode_entry, encode_entry
from rolehop.stores.keys import KeyStore
from rolehop.version import __version__

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

log = logging.getLogger(__name__)


class Declined(Exception):
    """Not the agent's to answer: the client goes the direct way."""


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
        self.rows: dict[tuple[object, ...], list[dict[str, Any]]] = {}
        self.lists = 0  # list's rows served
        # what botocore reads from this process's environment for its STS clients
        self.sts_scope = sts_scope(os.environ, os.getcwd())

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
                answer = self._resolve(message, tell)
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
        environ = message["environ"]
        override = message.get("config")
        stamp, config = self._config(environ, override if isinstance(override, str) else None)
        if not config.settings.agent or not config.settings.cache:
            raise Declined("the caller's config turns the agent or the cache off")
        ctx = context.build(
            environ, config=config, cache=self.cache, keys=self.keystore, clock=self.clock
        )
        index = self.cache.index()
        now = self.clock()
        # the rows depend on the files, the stored keys, the cache, the caller's variables
        # (cache keys hold its user name, endpoints...) and the time ("cached until")
        caller = frozenset((k, v) for k, v in environ.items() if isinstance(v, str))
        minute = now.replace(second=0, microsecond=0)
        state = (stamp, frozenset(self.keystore.names()), frozenset(index.items()), caller, minute)
        with self.leases_lock:
            rows = self.rows.get(state)
        if rows is None:
            rows = [summary_row(summary) for summary in views.profiles(ctx)]
            with self.leases_lock:
                self.rows = {state: rows}
        self.lists += 1
        return {"rows": rows}

    def _config(
        self, environ: Mapping[str, str], override: str | None
    ) -> tuple[tuple[object, ...], configs.Config]:
        """The files parsed, once while they stay as they are (path and stat of each)."""
        paths = (configs.rolehop_config_path(environ, override), *configs.aws_paths(environ))
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
            "keyring": self.cache.inner.description,
            "keyring_ok": self.cache.inner.last_error is None,
            "keyring_error": self.cache.inner.last_error,
        }

    def _answer(self, ok: bool = True, **fields: Any) -> dict[str, Any]:
        return {"v": PROTOCOL, "version": __version__, "ok": ok, **fields}

    def _miss(self, ctx: Context, chain: Chain, pid: object) -> dict[str, Any]:
        """Who refreshes ``chain``'s target: the first client to miss it leads; the others
        get how long the lead has been going and its lock, to wait for it without the direct
        path's imports (``rolehop.entry``)."""
        key = chain.keys[-1]
        timeout = ctx.config.settings.lock_timeout
        now = self.monotonic()
        with self.leases_lock:
            started, lead = self.leases.get(key, (None, None))
            if started is None or now - started > timeout or lead == pid:
                self.leases[key] = (now, pid if isinstance(pid, int) else 0)
                return {"lead": True, "key": key}
        # the client finds the lock by the key, in its own checked directory
        return {
            "lead": False,
            "lead_pid": lead,
            "lease_age": now - started,
            "key": key,
            "lock_timeout": timeout,
        }

    def _resolve(
        self, message: Mapping[str, Any], tell: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        environ = message.get("environ")
        profile, config = message.get("profile"), message.get("config")
        if not isinstance(environ, dict) or not isinstance(profile, str):
            return self._answer(ok=False, error="bad request")
        warnings: list[str] = []
        override = config if isinstance(config, str) else None
        try:
            _, loaded = self._config(environ, override)
            # a base profile asked for itself is the direct path's (its session, or its keys
            # with --no-session): the agent knows chains of roles only
            base = chains.is_base(loaded, profile, self.keystore.names)
        except RolehopError:
            base = True  # the direct path says what is wrong
        if base:
            self.served["miss"] += 1
            return self._answer(hit=False, lead=True)
        ctx = context.build(
            environ,
            config_path=override,
            config=loaded,
            clock=self.clock,
            cache=self.cache,
            keys=self.keystore,
            warn=warnings.append,
        )
        try:
            chain = chain_of(ctx, profile)
        except RolehopError:
            self.served["miss"] += 1
            return self._answer(hit=False, lead=True)  # the direct path says what is wrong
        if not self._serves(loaded, chain, environ) or not self._renders(message):
            self.served["miss"] += 1
            return self._answer(hit=False, lead=True)
        resolution = cached(ctx, profile, chain)
        if resolution is None:
            # a memory copy past the margin: another process may have renewed it since
            self.cache.forget(set(chain.keys))
            resolution = cached(ctx, profile, chain)
        if resolution is not None:
            self.served["hit"] += 1
            return self._output(resolution, message, warnings)
        self.served["miss"] += 1
        miss = self._miss(ctx, chain, message.get("pid"))
        if miss["lead"] and self._may_work(message, chain):
            tell(self._answer(working=f"assuming roles for profile {profile!r}"))
            return self._work(ctx, profile, message, warnings, str(miss["key"]))
        if miss["lead"]:
            miss.pop("key")
        return self._answer(hit=False, **miss)

    def _serves(self, config: configs.Config, chain: Chain, environ: Mapping[str, str]) -> bool:
        """Whether this request is the agent's at all; if not, the direct way, before any
        lease or lock:
        - a credential_process loop (the direct path fails it at once; waiting for the
          lead's lock here would wait for the very process that asks);
        - a caller whose config turns the agent or the cache off, or names another keyring
          (what the direct path would do differs: no cache, another store);
        - a chain from the caller's environment keys, which requests never carry."""
        if any(name in resolving(environ) for name in chain.names[1:]):
            return False
        settings = config.settings
        if not settings.agent or not settings.cache:
            return False
        if keyring_backend(environ, settings) != self.keyring_backend:
            return False
        return chain.base.credential_source != "Environment"

    def _renders(self, message: Mapping[str, Any]) -> bool:
        """Whether the output can be made: ``env`` for a shell nobody names fails on the
        direct path before any STS call, and so must not make credentials here."""
        from rolehop.output import shell_from_environ

        if message.get("command") != "env" or message.get("shell"):
            return True
        try:
            shell_from_environ(message["environ"])
        except RolehopError:
            return False
        return True

    def _may_work(self, message: Mapping[str, Any], chain: Chain) -> bool:
        """Whether the agent makes this miss's credentials: asked to, for a caller whose
        environment gives botocore what the agent's own does, and a chain it can make."""
        return (
            bool(message.get("work"))
            and message.get("sts_scope") == self.sts_scope
            and self._can_work(chain)
        )

    def _can_work(self, chain: Chain) -> bool:
        """Whether the agent may make ``chain``'s credentials itself: no MFA code to ask
        for and no program to run, only keys (stored, or static in the AWS files) and STS.
        Everything else is the direct path's, with its terminal."""
        try:
            stored = self.keystore.names()
        except RolehopError:
            return False
        base = chain.base
        if chain.mfa is not None or any(hop.mfa_serial for hop in chain.hops):
            return False
        if base.credential_source is not None:
            return False
        if base.may_use_stored_keys and base.name in stored:
            return True
        if base.aws is None or not base.aws.has_static_keys:
            return False
        settings = dict(base.aws.identity)
        return not any(
            key.startswith("sso_") or key in ("credential_process", "web_identity_token_file")
            for key in settings
        )

    def _work(
        self,
        ctx: Context,
        profile: str,
        message: Mapping[str, Any],
        warnings: list[str],
        key: str,
    ) -> dict[str, Any]:
        """Make the credentials here: STS calls with warm clients, under the same locks as
        the direct path, written to the keyring (and memory) as the direct path would."""
        from rolehop.common.text import error_line
        from rolehop.stores.locks import locks_for

        settings = ctx.config.settings
        worker = context.build(
            ctx.environ,
            config_path=ctx.config_path,
            config=ctx.config,
            clock=self.clock,
            cache=self.cache,
            keys=self.keystore,
            warn=warnings.append,
            sts=self._factory(ctx),
            locks=locks_for(ctx.environ, settings.lock_timeout, warnings.append),
            mfa_codes=_no_terminal,
        )
        with self.leases_lock:
            self.working += 1
        try:
            resolution = resolve(worker, profile)
        except RolehopError as error:
            stderr = self._warnings(warnings) + error_line(f"rolehop: error: {error}") + "\n"
            return self._answer(hit=True, stdout="", stderr=stderr, code=error.exit_code)
        finally:
            with self.leases_lock:
                self.working -= 1
                self.leases.pop(key, None)
        self.served["work"] += 1
        return self._output(resolution, message, warnings)

    def _factory(self, ctx: Context) -> StsClientFactory:
        """STS clients as the direct path would make them, kept warm; a new set when the
        AWS config file (which botocore reads for endpoints) or the settings change."""
        try:
            info = os.stat(ctx.config.aws_config_path)
            stamp: tuple[object, ...] = (info.st_mtime_ns, info.st_size, info.st_ino)
        except OSError:
            stamp = ()
        settings = ctx.config.settings
        retry = (settings.sts_max_attempts, settings.sts_connect_timeout, settings.sts_read_timeout)
        with self.leases_lock:
            factory = self.factories.get((*stamp, *retry))
            if factory is None:
                self.factories = {
                    (*stamp, *retry): _Serialized(
                        Boto3StsClientFactory(
                            max_attempts=retry[0], connect_timeout=retry[1], read_timeout=retry[2]
                        )
                    )
                }
                factory = self.factories[(*stamp, *retry)]
        return factory

    def _warnings(self, warnings: list[str]) -> str:
        from rolehop.common.redact import redact
        from rolehop.common.text import printable

        return "".join(
            f"rolehop: warning: {printable(redact(line))}\n" for line in dict.fromkeys(warnings)
        )

    def _output(
        self, resolution: Resolution, message: Mapping[str, Any], warnings: list[str]
    ) -> dict[str, Any]:
        from rolehop.output import (
            credential_process_json,
            environment,
            render_env,
            shell_from_environ,
        )

        try:
            if message.get("command") == "env":
                shell = message.get("shell") or shell_from_environ(message["environ"])
                stdout = render_env(environment(resolution), shell)
            else:
                stdout = credential_process_json(resolution.credentials) + "\n"
        except RolehopError:
            return self._answer(hit=False, lead=True)  # the direct path says what is wrong
        return self._answer(hit=True, stdout=stdout, stderr=self._warnings(warnings))


def _no_terminal(serial: str, profile: str, mfa_process: str | None) -> str:
    raise MfaError(f"profile {profile!r}: the agent cannot ask for an MFA code")


class _Serialized:
    """Client creation from one boto3 session, one thread at a time (sessions are not
    thread-safe; the clients are)."""

    def __init__(self, inner: Boto3StsClientFactory) -> None:
        self.inner = inner
        self.lock = threading.Lock()

    def __call__(self, credentials: Credentials, region: str | None) -> STSClient:
        with self.lock:
            return self.inner(credentials, region)


def _stat(path: Path) -> tuple[int, ...]:
    """What tells that a file changed (or appeared, or went)."""
    try:
        info = os.stat(path)
    except OSError:
        return ()
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)
