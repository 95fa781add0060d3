"""``agent status|start|stop``: the background process that serves cache hits fast."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import click

from rolehop.agent import client
from rolehop.agent.protocol import NotOurs, disabled_by, socket_path
from rolehop.cli.options import json_option
from rolehop.cli.render import json_document
from rolehop.cli.state import AppState, pass_state


@click.group()
def agent() -> None:
    """The agent: cached credentials served from memory (ROLEHOP_AGENT=0 turns it off)."""


# the protocol's own fields of an answer: not the agent's state
_PROTOCOL_FIELDS = ("v", "version", "ok")


def _state(path: str, status: Mapping[str, Any], here: str | None) -> dict[str, Any]:
    """An agent's status as ``agent status --json`` shows it (never a secret)."""
    fields = {key: value for key, value in status.items() if key not in _PROTOCOL_FIELDS}
    return {
        "socket": path,
        "this_environment": path == here,
        "rolehop_version": status.get("version"),
        **fields,
    }


def _describe(agent: Mapping[str, Any]) -> str:
    served = agent.get("served", {})
    keyring = agent.get("keyring")
    if not agent.get("keyring_ok", True):
        keyring = f"{keyring} - FAILING: {agent.get('keyring_error')}"
    return (
        f"agent pid {agent.get('pid')} on {agent['socket']}"
        + (" (this environment's)" if agent["this_environment"] else "")
        + f"\nup {agent.get('uptime')} s, exits after {agent.get('idle_timeout')} s idle\n"
        f"{agent.get('entries')} entries in memory, over {keyring}\n"
        f"served {served.get('hit', 0)} hits, {served.get('miss', 0)} misses "
        f"({served.get('work', 0)} of them made here)"
    )


@agent.command()
@json_option
def status(as_json: bool) -> None:
    """Every agent of this user, and whether one serves this environment (never a secret).

    Exits 1 when none serves this environment, or its keyring is failing."""
    try:
        here = socket_path(os.environ)
    except NotOurs as error:
        raise click.ClickException(f"not using the agent: {error}") from None
    agents = [_state(path, found, here) for path, found in client.every_status(os.environ)]
    mine = next((agent for agent in agents if agent["this_environment"]), None)
    if as_json:
        found = {"running": mine is not None, **(mine or {}), "agents": agents}
        click.echo(json_document(found, indent=None))
    elif not agents:
        click.echo(f"no agent running (socket {here or 'unavailable'})")
    else:
        if mine is None:
            click.echo(f"no agent serves this environment (socket {here or 'unavailable'})")
        click.echo("\n\n".join(_describe(agent) for agent in agents))
    if mine is None or not mine.get("keyring_ok", True):
        raise SystemExit(1)


@agent.command()
@pass_state
def start(state: AppState) -> None:
    """Start an agent now (it starts by itself on the first call that needs it)."""
    settings = state.context.config.settings
    if disabled_by(os.environ) or not settings.agent:
        raise click.UsageError("the agent is turned off (ROLEHOP_AGENT=0 or [settings] agent)")
    started = client.start(os.environ, settings.agent_idle_timeout, settings.keyring_backend)
    click.echo("agent started" if started else "an agent is already running")


@agent.command()
def stop() -> None:
    """Stop the agent; the cache stays in the keyring."""
    click.echo("agent stopped" if client.stop(os.environ) else "no agent running")


def register(group: click.Group) -> None:
    group.add_command(agent)
