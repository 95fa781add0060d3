"""Options shared by several commands: one definition each."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from rolehop.cli.complete import profile_names, source_names
from rolehop.cli.state import AppState
from rolehop.errors import UsageError

if TYPE_CHECKING:
    from rolehop.engine.targets import Target


def _json_output(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    state = ctx.find_object(AppState)
    if value and state is not None:
        state.json_output = True
    return value


# --json of every command: eager, so that a later usage error is JSON too
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    is_eager=True,
    callback=_json_output,
    help="Machine-readable output (an error too: a JSON object on stdout).",
)


refresh_option = click.option(
    "--refresh", is_flag=True, help="Ignore cached credentials and assume the roles again."
)
mfa_token_option = click.option(
    "--mfa-token",
    metavar="CODE",
    help="The MFA code, if one is needed (else mfa_process, else a prompt on the terminal).",
)
no_session_option = click.option(
    "--no-session",
    is_flag=True,
    help="For a base profile: its long-term keys themselves, not a session made from them.",
)
server_option = click.option(
    "--server",
    is_flag=True,
    help="Give COMMAND a local credentials endpoint that refreshes, not static keys.",
)
profile_argument = click.argument("profile", shell_complete=profile_names)


# ---------------------------------------------------------------------------------------
# what to hand out: PROFILE, or --role-arn ARN --source PROFILE; --region, --duration

role_arn_option = click.option(
    "--role-arn",
    metavar="ARN",
    help="A role to become that has no profile yet (with --source), cached and checked "
    "like a profile.",
)
source_option = click.option(
    "--source",
    metavar="PROFILE",
    shell_complete=source_names,
    help="--role-arn: the profile whose credentials assume the role.",
)
region_option = click.option(
    "--region", metavar="REGION", help="The region for this call, over the profile's."
)
duration_option = click.option(
    "--duration",
    type=int,
    metavar="SECONDS",
    help="How long the role's credentials last, for this call (over duration_seconds; "
    "cached apart).",
)
# the shell's auto-refresh asks for what ROLEHOP_TARGET says (rolehop.engine.targets)
target_spec_option = click.option("--target", "target_spec", hidden=True, metavar="JSON")
optional_profile_argument = click.argument("profile", required=False, shell_complete=profile_names)


@dataclass(frozen=True)
class TargetArgs:
    """What the command line says about the target, as given: :meth:`target` checks it."""

    profile: str | None = None
    role_arn: str | None = None
    source: str | None = None
    region: str | None = None
    duration: int | None = None
    target_spec: str | None = None

    @property
    def nothing(self) -> bool:
        """No profile and no role named (``use`` on a terminal then picks one)."""
        return all(v is None for v in (self.profile, self.role_arn, self.source, self.target_spec))

    def target(self, profile: str | None = None) -> Target:
        """The target (``profile``: the one picked, when none was given)."""
        return make_target(
            profile if profile is not None else self.profile,
            self.role_arn,
            self.source,
            self.region,
            self.duration,
            self.target_spec,
        )


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """PROFILE (optional: --role-arn instead), --role-arn, --source, --region, --duration;
    the command gets them as one ``target: TargetArgs``."""

    @functools.wraps(command)
    def with_target(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in TARGET_FIELDS}
        return command(*args, target=TargetArgs(**given), **kwargs)

    for option in (
        target_spec_option,
        duration_option,
        region_option,
        source_option,
        role_arn_option,
        optional_profile_argument,
    ):
        with_target = option(with_target)
    return with_target


TARGET_FIELDS = tuple(field.name for field in dataclasses.fields(TargetArgs))


def make_target(
    profile: str | None,
    role_arn: str | None = None,
    source: str | None = None,
    region: str | None = None,
    duration: int | None = None,
    target_spec: str | None = None,
) -> Target:
    """The target the command line names (a usage error for an impossible one)."""
    from rolehop.engine.targets import Target

    if target_spec is not None:
        if any(value is not None for value in (profile, role_arn, source, region, duration)):
            raise UsageError("--target goes alone: it is the whole target")
        return Target.from_spec(target_spec)
    return Target(profile, role_arn, source, region, duration)
