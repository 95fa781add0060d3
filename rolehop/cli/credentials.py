"""``env``, ``credential-process`` and ``exec``: hand a profile's credentials to others."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import click

from rolehop.cli.options import (
    mfa_token_option,
    no_session_option,
    profile_argument,
    refresh_option,
    server_option,
)
from rolehop.cli.state import AppState, pass_state
from rolehop.engine.resolve import resolve
from rolehop.errors import (
    command_error,
)
from rolehop.output import (
    Shell,
    credential_process_json,
    environment,
    render_env,
    shell_from_environ,
)
from rolehop.shell import SHELLS


@click.command()
@profile_argument
@click.option(
    "--shell",
    type=click.Choice(SHELLS),
    help="Syntax of the output (default: from $SHELL).",
)
@refresh_option
@no_session_option
@mfa_token_option
@pass_state
def env(
    state: AppState,
    profile: str,
    shell: Shell | None,
    refresh: bool,
    no_session: bool,
    mfa_token: str | None,
) -> None:
    """Print shell code that exports PROFILE's credentials.

    \b
      eval "$(rolehop env research-ro)"        # bash, zsh
      rolehop env research-ro | source         # fish

    For a base profile of long-term keys, a session made from them (with its MFA, if it
    has one); --no-session: the keys themselves.
    """
    chosen = shell or shell_from_environ(os.environ)  # before any STS call
    resolution = resolve(state.context,
        profile, refresh=refresh, mfa_token=mfa_token, session=not no_session
    )
    click.echo(render_env(environment(resolution), chosen), nl=False)
    state.start_agent()


@click.command("credential-process")
@profile_argument
@refresh_option
@no_session_option
@mfa_token_option
@pass_state
def credential_process(
    state: AppState, profile: str, refresh: bool, no_session: bool, mfa_token: str | None
) -> None:
    """Print PROFILE's credentials as AWS credential_process JSON (Version 1).

    \b
    In ~/.aws/config:
      [profile research]
      credential_process = rolehop credential-process research-ro
    """
    resolution = resolve(state.context,
        profile, refresh=refresh, mfa_token=mfa_token, session=not no_session
    )
    click.echo(credential_process_json(resolution.credentials))
    sys.stdout.flush()  # the AWS CLI has what it needs before the agent is looked for
    state.start_agent()


@click.command(
    "exec",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@profile_argument
@server_option
@refresh_option
@no_session_option
@mfa_token_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_state
def exec_(
    state: AppState,
    profile: str,
    server: bool,
    refresh: bool,
    no_session: bool,
    mfa_token: str | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with PROFILE's credentials in its environment.

    \b
      rolehop exec research-ro -- aws s3 ls
      rolehop exec research-ro --server -- jupyter lab

    exec's options go anywhere before COMMAND: before or after PROFILE. COMMAND starts
    after --, or without -- at the first word that is not one of exec's options;
    everything from there on is COMMAND's.

    rolehop replaces itself with COMMAND, so COMMAND's exit code is rolehop's and
    signals reach COMMAND directly. With --server, COMMAND gets
    AWS_CONTAINER_CREDENTIALS_FULL_URI and a token instead of keys, and rolehop serves
    fresh credentials for as long as it runs.
    """
    if profile.startswith("-"):  # an option click did not know, taken for PROFILE
        raise click.NoSuchOption(profile)
    # Parsing stops at PROFILE so that COMMAND keeps its own options: exec's own, given
    # between PROFILE and COMMAND, are taken here.
    given = ExecOptions(server, refresh, no_session, mfa_token)
    given, command = exec_options(command, given, click.get_current_context())
    session = not given.no_session
    if given.server:
        from rolehop.cli.serve import run_with_server

        sys.exit(
            run_with_server(
                state,
                profile,
                command,
                refresh=given.refresh,
                mfa_token=given.mfa_token,
                session=session,
            )
        )
    resolution = resolve(state.context,
        profile, refresh=given.refresh, mfa_token=given.mfa_token, session=session
    )
    child_env = environment(resolution).apply(os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], list(command), child_env)  # noqa: S606 - no shell, on purpose
    except OSError as failure:
        raise command_error(command[0], failure) from None


@dataclass(frozen=True)
class ExecOptions:
    server: bool = False
    refresh: bool = False
    no_session: bool = False
    mfa_token: str | None = None


def exec_options(
    words: Sequence[str], given: ExecOptions, ctx: click.Context
) -> tuple[ExecOptions, tuple[str, ...]]:
    """exec's options among ``words`` (what follows PROFILE), and COMMAND: what follows
    ``--``, or without ``--`` everything from the first word that is no option of exec's."""
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word == "--":
            break
        if word == "--server":
            given = replace(given, server=True)
        elif word == "--refresh":
            given = replace(given, refresh=True)
        elif word == "--no-session":
            given = replace(given, no_session=True)
        elif word == "--mfa-token" or word.startswith("--mfa-token="):
            if word == "--mfa-token" and (not rest or rest[0] == "--"):
                raise click.BadOptionUsage(
                    "mfa_token", "Option '--mfa-token' requires an argument.", ctx
                )
            code = rest.pop(0) if word == "--mfa-token" else word.partition("=")[2]
            given = replace(given, mfa_token=code)
        elif word in ctx.help_option_names:
            click.echo(ctx.get_help())
            ctx.exit(0)
        elif word.startswith("-"):
            # a COMMAND never starts with "-": this is a mistyped option, not a program
            raise click.NoSuchOption(word, ctx=ctx)
        else:
            rest.insert(0, word)
            break
    if not rest or not rest[0]:
        raise click.UsageError("missing COMMAND after --", ctx)
    return given, tuple(rest)


def register(group: click.Group) -> None:
    for command in (env, credential_process, exec_):
        group.add_command(command)
