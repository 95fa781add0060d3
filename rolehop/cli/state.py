"""What the group options decide, shared by every command (``ctx.obj``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

import click

from rolehop.common.interactive import person_at_terminal
from rolehop.common.redact import redact
from rolehop.common.text import printable
from rolehop.config.model import SsoSession
from rolehop.engine import context
from rolehop.engine.context import Clock, Context


@dataclass
class AppState:
    """What the group options decide, shared by every command through ``ctx.obj``."""

    config_path: str | None = None
    debug: bool = False
    # the command was asked for --json: its errors are JSON on stdout too (see main)
    json_output: bool = False
    # why the agent did not answer (for --debug), and a warning about its place
    agent_reason: str | None = None
    agent_warning: str | None = None
    # seconds the entry waited for another process's refresh (less lock_timeout left)
    lock_waited: float = 0.0
    # the clock of everything this run does (a test's is fixed)
    clock: Clock = context.utcnow
    _warned: set[str] = field(default_factory=set)

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warn_always(message)

    def warn_always(self, message: str) -> None:
        """A warning every time (a server's refresh failing again is news again)."""
        click.echo(f"rolehop: warning: {printable(redact(message))}", err=True)

    @cached_property
    def context(self) -> Context:
        """The engine's context for this run, over the files of this environment (read on
        first use: a command that needs none, such as ``init``, never reads them)."""
        from rolehop.agent.remote import AgentLink
        from rolehop.cli.terminal import spinner

        return context.build(
            os.environ,
            config_path=self.config_path,
            clock=self.clock,
            lock_waited=self.lock_waited,
            warn=self.warn,
            busy=spinner,
            agent=AgentLink(os.environ),
            sso_login=self._sso_login if person_at_terminal() else None,
        )

    def _sso_login(self, session: SsoSession) -> None:
        """Sign in when a chain needs an IAM Identity Center session that has none (on a
        terminal, unless ``sso_auto_login = false``): the device-code flow, told on stderr,
        which works over SSH too and never mixes with what stdout hands out."""
        from rolehop.features.sso import login as flows

        if self.context.config.settings.sso_auto_login is False:
            return
        click.echo(
            f"rolehop: IAM Identity Center session {printable(session.name)!r} needs a "
            "sign-in: signing in",
            err=True,
        )
        tell = lambda message: click.echo(printable(message), err=True)  # noqa: E731
        flows.login(self.context, session, flows.Options(device_code=True, tell=tell))

    def start_agent(self) -> None:
        """After the direct path served a profile: an agent for the next calls, if wanted."""
        from rolehop.agent import client

        settings = self.context.config.settings
        if settings.agent and settings.cache:
            client.start(
                os.environ,
                settings.agent_idle_timeout,
                settings.keyring_backend,
                self.warn,
                self._keyring_usable,
            )

    def _keyring_usable(self) -> bool:
        from rolehop.errors import CacheError
        from rolehop.stores.cache import load_backend

        try:
            load_backend(self.context.config.settings.keyring_backend, os.environ)
        except CacheError:
            return False
        return True


pass_state = click.make_pass_decorator(AppState)
