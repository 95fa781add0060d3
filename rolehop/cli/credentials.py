"""``env``, ``credential-process`` and ``exec``: hand a profile's credentials to others."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import click

from rolehop.cli import picker
from rolehop.cli.complete import profile_names
from rolehop.cli.options import (
    TargetArgs,
    duration_option,
    make_target,
    mfa_token_option,
    no_session_option,
    refresh_option,
    region_option,
    role_arn_option,
    server_option,
    source_option,
    target_options,
)
from rolehop.cli.state import AppState, pass_state
from rolehop.common.interactive import person_at_terminal
from rolehop.engine.targets import Target, resolve_target
from rolehop.errors import command_error
from rolehop.output import (
    Shell,
    credential_process_json,
    environment,
    render_env,
    shell_from_environ,
)
from rolehop.shell import SHELLS
from rolehop.stores import recent


@click.command()
@target_options
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
    target: TargetArgs,
    shell: Shell | None,
    refresh: bool,
    no_session: bool,
    mfa_token: str | None,
) -> None:
    """Print shell code that exports PROFILE's credentials (no PROFILE, on a terminal:
    pick one, the last used first).

    \b
      eval "$(rolehop env research-ro)"        # bash, zsh
      rolehop env research-ro | source         # fish
      eval "$(rolehop env --role-arn arn:aws:iam::123456789012:role/Audit --source dev)"

    For a base profile of long-term keys, a session made from them (with its MFA, if it
    has one); --no-session: the keys themselves.
    """
    chosen = shell or shell_from_environ(os.environ)  # before any STS call
    picked = None
    if target.nothing and person_at_terminal():
        picked = picker.pick_profile(os.environ, state.config_path)  # `rolehop use`
    wanted = target.target(picked)
    resolution = resolve_target(
        state.context, wanted, refresh=refresh, mfa_token=mfa_token, session=not no_session
    )
    click.echo(render_env(environment(resolution, wanted.exported()), chosen), nl=False)
    if wanted.profile is not None:
        recent.remember(os.environ, wanted.profile)
    state.start_agent()


@click.command("credential-process")
@target_options
@refresh_option
@no_session_option
@mfa_token_option
@pass_state
def credential_process(
    state: AppState,
    target: TargetArgs,
    refresh: bool,
    no_session: bool,
    mfa_token: str | None,
) -> None:
    """Print PROFILE's credentials as AWS credential_process JSON (Version 1).

    \b
    In ~/.aws/config:
      [profile research]
      credential_process = rolehop credential-process research-ro
    """
    resolution = resolve_target(
        state.context, target.target(), refresh=refresh, mfa_token=mfa_token, session=not no_session
    )
    click.echo(credential_process_json(resolution.credentials))
    sys.stdout.flush()  # the AWS CLI has what it needs before the agent is looked for
    state.start_agent()


@click.command(
    "exec",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("profile", required=False, shell_complete=profile_names)
@server_option
@refresh_option
@no_session_option
@mfa_token_option
@role_arn_option
@source_option
@region_option
@duration_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="COMMAND...")
@pass_state
def exec_(
    state: AppState,
    profile: str | None,
    server: bool,
    refresh: bool,
    no_session: bool,
    mfa_token: str | None,
    role_arn: str | None,
    source: str | None,
    region: str | None,
    duration: int | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with PROFILE's credentials in its environment.

    \b
      rolehop exec research-ro -- aws s3 ls
      rolehop exec research-ro --server -- jupyter lab
      rolehop exec --role-arn arn:aws:iam::123456789012:role/Audit --source dev -- aws s3 ls

    exec's options go anywhere before COMMAND: before or after PROFILE. COMMAND starts
    after --, or without -- at the first word that is not one of exec's options;
    everything from there on is COMMAND's.

    rolehop replaces itself with COMMAND, so COMMAND's exit code is rolehop's and
    signals reach COMMAND directly. With --server, COMMAND gets
    AWS_CONTAINER_CREDENTIALS_FULL_URI and a token instead of keys, and rolehop serves
    fresh credentials for as long as it runs.
    """
    given = ExecOptions(server, refresh, no_session, mfa_token, role_arn, source, region, duration)
    given, target, command = _exec_target(profile, command, given, click.get_current_context())
    session = not given.no_session
    if given.server:
        from rolehop.cli.serve import run_with_server

        sys.exit(
            run_with_server(
                state,
                target,
                command,
                refresh=given.refresh,
                mfa_token=given.mfa_token,
                session=session,
            )
        )
    resolution = resolve_target(
        state.context, target, refresh=given.refresh, mfa_token=given.mfa_token, session=session
    )
    child_env = environment(resolution, target.exported()).apply(os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], list(command), child_env)  # noqa: S606 - no shell, on purpose
    except OSError as failure:
        raise command_error(command[0], failure) from None


def _exec_target(
    profile: str | None, command: tuple[str, ...], given: ExecOptions, ctx: click.Context
) -> tuple[ExecOptions, Target, tuple[str, ...]]:
    """exec's options, target and COMMAND from what click parsed: with --role-arn there is
    no PROFILE, and the word taken for it is COMMAND's first."""
    if profile is not None and profile.startswith("-"):  # an option click did not know
        raise click.NoSuchOption(profile)
    if given.role_arn is not None and profile is not None:
        if command[:1] == ("--",):  # PROFILE -- COMMAND: a profile as well as --role-arn
            make_target(profile, given.role_arn, given.source)  # says: not both
        command, profile = (profile, *command), None
    if not command:
        wanted = next(param for param in ctx.command.params if param.name == "command")
        raise click.MissingParameter(ctx=ctx, param=wanted)
    if profile is not None:
        # Parsing stops at PROFILE so that COMMAND keeps its own options: exec's own,
        # given between PROFILE and COMMAND, are taken here.
        given, command = exec_options(command, given, ctx)
    target = make_target(profile, given.role_arn, given.source, given.region, given.duration)
    return given, target, command


@dataclass(frozen=True)
class ExecOptions:
    server: bool = False
    refresh: bool = False
    no_session: bool = False
    mfa_token: str | None = None
    role_arn: str | None = None
    source: str | None = None
    region: str | None = None
    duration: int | None = None


_FLAGS = {"--server": "server", "--refresh": "refresh", "--no-session": "no_session"}
_VALUED = {
    "--mfa-token": "mfa_token",
    "--role-arn": "role_arn",
    "--source": "source",
    "--region": "region",
    "--duration": "duration",
}


def exec_options(
    words: Sequence[str], given: ExecOptions, ctx: click.Context
) -> tuple[ExecOptions, tuple[str, ...]]:
    """exec's options among ``words`` (what follows PROFILE), and COMMAND: what follows
    ``--``, or without ``--`` everything from the first word that is no option of exec's."""
    rest = list(words)
    while rest:
        word = rest.pop(0)
        option, equals, attached = word.partition("=")
        if word == "--":
            break
        if word in _FLAGS:
            flag: dict[str, Any] = {_FLAGS[word]: True}
            given = replace(given, **flag)
        elif option in _VALUED:
            if not equals and (not rest or rest[0] == "--"):
                raise click.BadOptionUsage(
                    _VALUED[option], f"Option {option!r} requires an argument.", ctx
                )
            value = attached if equals else rest.pop(0)
            valued: dict[str, Any] = {_VALUED[option]: _exec_value(option, value, ctx)}
            given = replace(given, **valued)
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


def _exec_value(option: str, value: str, ctx: click.Context) -> str | int:
    if option != "--duration":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a valid integer.", ctx, param_hint="'--duration'"
        ) from None


def register(group: click.Group) -> None:
    for command in (env, credential_process, exec_):
        group.add_command(command)
