"""What the agent answers to ``resolve``: a hit from its copies, a miss with who leads the
refresh (the direct path, or the agent itself when nothing interactive can be needed), or
the credentials it made, with the direct path's very output and errors."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rolehop.agent.memory import MemoKeyStore, MemoryCache
from rolehop.agent.protocol import answer
from rolehop.aws.sts import Boto3StsClientFactory, StsClientFactory
from rolehop.common.creds import Credentials
from rolehop.config import files as configs
from rolehop.engine import chain as chains
from rolehop.engine import context
from rolehop.engine.context import Context, keyring_backend
from rolehop.engine.hops import Chain
from rolehop.engine.providers.aws_profile import resolving
from rolehop.engine.resolve import Resolution, cached, chain_of, resolve
from rolehop.errors import MfaError, RolehopError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

log = logging.getLogger(__name__)


class Agent(Protocol):
    """What of the agent's service (rolehop.agent.service) resolving uses."""

    cache: MemoryCache
    keystore: MemoKeyStore
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]
    served: dict[str, int]
    # single flight: by cache key, when the lead started and its pid
    leases: dict[str, tuple[float, int]]
    leases_lock: threading.Lock
    working: int
    factories: dict[tuple[object, ...], StsClientFactory]
    sts_scope: str
    keyring_backend: str | None

    def config_of(
        self, environ: Mapping[str, str], override: str | None
    ) -> tuple[tuple[object, ...], configs.Config]: ...


class Resolver:
    """``resolve`` requests of one agent (its copies, leases and STS clients: ``service``)."""

    def __init__(self, service: Agent) -> None:
        self.service = service

    def _miss(self, ctx: Context, chain: Chain, pid: object) -> dict[str, Any]:
        """Who refreshes ``chain``'s target: the first client to miss it leads; the others
        get how long the lead has been going and its lock, to wait for it without the direct
        path's imports (``rolehop.entry``)."""
        key = chain.keys[-1]
        timeout = ctx.config.settings.lock_timeout
        now = self.service.monotonic()
        with self.service.leases_lock:
            started, lead = self.service.leases.get(key, (None, None))
            if started is None or now - started > timeout or lead == pid:
                self.service.leases[key] = (now, pid if isinstance(pid, int) else 0)
                return {"lead": True, "key": key}
        # the client finds the lock by the key, in its own checked directory
        return {
            "lead": False,
            "lead_pid": lead,
            "lease_age": now - started,
            "key": key,
            "lock_timeout": timeout,
        }

    def resolve(
        self, message: Mapping[str, Any], tell: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        environ = message.get("environ")
        profile, config = message.get("profile"), message.get("config")
        if not isinstance(environ, dict) or not isinstance(profile, str):
            return answer(ok=False, error="bad request")
        warnings: list[str] = []
        override = config if isinstance(config, str) else None
        try:
            _, loaded = self.service.config_of(environ, override)
            # a base profile asked for itself is the direct path's (its session, or its keys
            # with --no-session): the agent knows chains of roles only
            base = chains.is_base(loaded, profile, self.service.keystore.names)
        except RolehopError:
            base = True  # the direct path says what is wrong
        if base:
            self.service.served["miss"] += 1
            return answer(hit=False, lead=True)
        ctx = context.build(
            environ,
            config_path=override,
            config=loaded,
            clock=self.service.clock,
            cache=self.service.cache,
            keys=self.service.keystore,
            warn=warnings.append,
        )
        try:
            chain = chain_of(ctx, profile)
        except RolehopError:
            self.service.served["miss"] += 1
            return answer(hit=False, lead=True)  # the direct path says what is wrong
        if not self._serves(loaded, chain, environ) or not self._renders(message):
            self.service.served["miss"] += 1
            return answer(hit=False, lead=True)
        resolution = cached(ctx, profile, chain)
        if resolution is None:
            # a memory copy past the margin: another process may have renewed it since
            self.service.cache.forget(set(chain.keys))
            resolution = cached(ctx, profile, chain)
        if resolution is not None:
            self.service.served["hit"] += 1
            return self._output(resolution, message, warnings)
        self.service.served["miss"] += 1
        miss = self._miss(ctx, chain, message.get("pid"))
        if miss["lead"] and self._may_work(message, chain):
            tell(answer(working=f"assuming roles for profile {profile!r}"))
            return self._work(ctx, profile, message, warnings, str(miss["key"]))
        if miss["lead"]:
            miss.pop("key")
        return answer(hit=False, **miss)

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
        if keyring_backend(environ, settings) != self.service.keyring_backend:
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
            and message.get("sts_scope") == self.service.sts_scope
            and self._can_work(chain)
        )

    def _can_work(self, chain: Chain) -> bool:
        """Whether the agent may make ``chain``'s credentials itself: no MFA code to ask
        for and no program to run, only keys (stored, or static in the AWS files) and STS.
        Everything else is the direct path's, with its terminal."""
        try:
            stored = self.service.keystore.names()
        except RolehopError:
            return False
        if chain.mfa is not None or any(hop.mfa_serial for hop in chain.hops):
            return False
        return chain.base.kind(stored) in ("keyring", "long-term keys", "temporary keys")

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
            clock=self.service.clock,
            cache=self.service.cache,
            keys=self.service.keystore,
            warn=warnings.append,
            sts=self._factory(ctx),
            locks=locks_for(ctx.environ, settings.lock_timeout, warnings.append),
            mfa_codes=_no_terminal,
        )
        with self.service.leases_lock:
            self.service.working += 1
        try:
            resolution = resolve(worker, profile)
        except RolehopError as error:
            stderr = self._warnings(warnings) + error_line(f"rolehop: error: {error}") + "\n"
            return answer(hit=True, stdout="", stderr=stderr, code=error.exit_code)
        finally:
            with self.service.leases_lock:
                self.service.working -= 1
                self.service.leases.pop(key, None)
        self.service.served["work"] += 1
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
        with self.service.leases_lock:
            factory = self.service.factories.get((*stamp, *retry))
            if factory is None:
                self.service.factories = {
                    (*stamp, *retry): _Serialized(
                        Boto3StsClientFactory(
                            max_attempts=retry[0], connect_timeout=retry[1], read_timeout=retry[2]
                        )
                    )
                }
                factory = self.service.factories[(*stamp, *retry)]
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
            return answer(hit=False, lead=True)  # the direct path says what is wrong
        return answer(hit=True, stdout=stdout, stderr=self._warnings(warnings))


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
