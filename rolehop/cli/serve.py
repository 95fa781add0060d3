"""``serve`` and ``exec --server``: a local credentials endpoint for long-running processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading

import click

from rolehop.cli.options import TargetArgs, mfa_token_option, refresh_option, target_options
from rolehop.cli.state import AppState, pass_state
from rolehop.common.hardening import harden, restore_core_limit
from rolehop.common.text import printable
from rolehop.engine.resolve import Resolution
from rolehop.engine.targets import Target, resolve_target
from rolehop.errors import command_error
from rolehop.features.endpoint.credentials_server import CredentialsServer, serving
from rolehop.features.endpoint.envfile import EnvFile
from rolehop.output import Shell, render_env, server_environment, shell_from_environ
from rolehop.shell import SHELLS


def start_server(
    state: AppState, target: Target, resolution: Resolution, *, session: bool = True
) -> CredentialsServer:
    """The endpoint for ``target`` (resolved as ``resolution``): each request asks the
    core again."""
    server = CredentialsServer(
        lambda: resolve_target(state.context, target, session=session).credentials,
        resolution.profile.role_arn,
        clock=state.context.clock,
        report=state.warn_always,
    )
    serving(server)
    return server


def _stop_server(server: CredentialsServer) -> None:
    server.shutdown()
    server.server_close()


def _wait_for_a_stop() -> None:
    """Until Ctrl-C, SIGTERM or SIGHUP (the terminal went away; unless ignored, as under
    nohup)."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, lambda *_: stopped.set())
    try:
        while not stopped.wait(1):
            pass
    except KeyboardInterrupt:
        pass


@click.command()
@target_options
@click.option("--shell", type=click.Choice(SHELLS), help="Syntax of the exports.")
@click.option(
    "--env-file",
    metavar="PATH",
    type=click.Path(readable=False),  # for completion: EnvFile checks the path itself
    help="Write the exports to PATH instead of stdout, which stays quiet: a file only you "
    "can read (0600, replaced atomically; never through a symlink nor over a file of "
    "someone else's), removed when serve stops.",
)
@refresh_option
@mfa_token_option
@pass_state
def serve(
    state: AppState,
    target: TargetArgs,
    shell: Shell | None,
    env_file: str | None,
    refresh: bool,
    mfa_token: str | None,
) -> None:
    """Serve PROFILE's credentials to other processes until Ctrl-C or SIGTERM.

    \b
    Prints the two variables to export (AWS_CONTAINER_CREDENTIALS_FULL_URI and
    AWS_CONTAINER_AUTHORIZATION_TOKEN) and unsets static keys; AWS SDKs and the AWS CLI
    then fetch and refresh credentials from it by themselves. The token is a credential:
    never redirect the exports into a file others can read; use --env-file:

    \b
      rolehop serve research-ro --env-file ~/.research.env &
      . ~/.research.env
    """
    harden()  # before any credential is in memory
    wanted = target.target()
    chosen = shell or shell_from_environ(os.environ)
    with contextlib.ExitStack() as running:
        # a path that cannot be used is refused before any STS call
        out = running.enter_context(EnvFile(env_file)) if env_file is not None else None
        resolution = resolve_target(state.context, wanted, refresh=refresh, mfa_token=mfa_token)
        server = start_server(state, wanted, resolution)
        running.callback(_stop_server, server)
        exports = render_env(server_environment(server.child_environment(), resolution), chosen)
        if out is None:
            click.echo(exports)
            sys.stdout.flush()
            where = ""
        else:
            out.write(exports)
            where = f"; exports in {printable(out.path)}"
        click.echo(
            f"rolehop: serving {wanted.name!r} at {server.url}{where}; Ctrl-C stops it", err=True
        )
        _wait_for_a_stop()
    click.echo("rolehop: credentials server stopped", err=True)


def run_with_server(
    state: AppState,
    target: Target,
    command: tuple[str, ...],
    *,
    refresh: bool = False,
    mfa_token: str | None = None,
    session: bool = True,
) -> int:
    """Run ``command`` fed by a credentials server for ``target``; its exit code (128+N
    for signal N)."""
    # before any credential is in memory; the command gets the core limit we had
    core_limit = harden(keep_hard_limit=True)
    resolution = resolve_target(
        state.context, target, refresh=refresh, mfa_token=mfa_token, session=session
    )
    server = start_server(state, target, resolution, session=session)
    env = server_environment(server.child_environment(), resolution).apply(os.environ)
    try:
        child = subprocess.Popen(command, env=env, preexec_fn=restore_core_limit(core_limit))
    except OSError as failure:
        raise command_error(command[0], failure) from None
    # the child is in our process group: a terminal's Ctrl-C reaches it by itself; a kill
    # sent to rolehop alone is passed on
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, lambda received, _: child.send_signal(received))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        _stop_server(server)
    return 128 - code if code < 0 else code


def register(group: click.Group) -> None:
    group.add_command(serve)
