"""``agent status|start|stop``: the background process that serves cache hits fast."""

from __future__ import annotations

import json
import os

import click

from rolehop.agent import client
from rolehop.agent.protocol import disabled_by, socket_path
from rolehop.cli import AppState, json_option, pass_state


@click.group()
def agent() -> None:
    """The agent: cached credentials served from memory (ROLEHOP_AGENT=0 turns it off)."""


@agent.command()
@json_option
def status(as_json: bool) -> None:
    """Whether an agent serves this environment, and what it holds (never a secret)."""
    found = client.status(os.environ)
    if as_json:
        click.echo(json.dumps({"version": 1, "running": found is not None, **(found or {})}))
    elif found is None:
        click.echo(f"no agent running (socket {socket_path(os.environ) or 'unavailable'})")
    else:
        served = found.get("served", {})
        click.echo(
            f"agent pid {found.get('pid')} on {socket_path(os.environ)}\n"
            f"up {found.get('uptime')} s, exits after {found.get('idle_timeout')} s idle\n"
            f"{found.get('entries')} entries in memory, over {found.get('keyring')}\n"
            f"served {served.get('hit', 0)} hits, {served.get('miss', 0)} misses "
            f"({served.get('work', 0)} of them made here)"
        )
    if found is None:
        raise SystemExit(1)


@agent.command()
@pass_state
def start(state: AppState) -> None:
    """Start an agent now (it starts by itself on the first call that needs it)."""
    settings = state.app.config.settings
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
