"""What a command hands out: a profile, or a role that has no profile yet (``--role-arn
ARN --source PROFILE``), with ``--region`` and ``--duration`` over the profile's own.

A target is applied to the configuration, not beside it: an ad-hoc role becomes one more
role profile (named by its ARN) and an override replaces the profile's value, so the chain,
its cache keys (the duration is an AssumeRole parameter, hence part of the key), its locks
and every check are the ones a profile written that way would get.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rolehop.config import validate
from rolehop.config.model import Config, Profile
from rolehop.engine import chain as chains
from rolehop.engine.context import Context
from rolehop.engine.resolve import Resolution, resolve, stored_names
from rolehop.errors import UsageError, close_names, did_you_mean

# where an ad-hoc role's errors point: the option that made it
COMMAND_LINE = Path("--role-arn")
_SPEC_KEYS = ("profile", "role_arn", "source", "region", "duration")


@dataclass(frozen=True)
class Target:
    """A profile by name, or an ad-hoc role (``role_arn`` from ``source``); ``region`` and
    ``duration`` override the profile's for this call."""

    profile: str | None = None
    role_arn: str | None = None
    source: str | None = None
    region: str | None = None
    duration: int | None = None

    def __post_init__(self) -> None:
        if self.source is not None and self.role_arn is None:
            raise UsageError("--source goes with --role-arn ARN")
        if self.role_arn is None and self.profile is None:
            raise UsageError("name a profile, or a role to become: --role-arn ARN --source PROFILE")
        if self.role_arn is not None and self.profile is not None:
            raise UsageError(
                f"--role-arn: give either PROFILE ({self.profile!r}) or --role-arn, not both"
            )
        if self.role_arn is not None and self.source is None:
            raise UsageError("--role-arn needs --source PROFILE: whose credentials assume it")
        for option, check, value in (
            ("--role-arn", validate.role_arn, self.role_arn),
            ("--source", validate.profile_name, self.source),
            ("--region", validate.region, self.region),
            ("--duration", validate.duration_seconds, self.duration),
        ):
            if value is not None:
                try:
                    check(value)
                except ValueError as error:
                    raise UsageError(f"{option}: {error}") from None

    @property
    def name(self) -> str:
        """The profile's name; an ad-hoc role's is its ARN."""
        name = self.profile if self.profile is not None else self.role_arn
        assert name is not None
        return name

    @property
    def plain(self) -> bool:
        """A profile as it is written: nothing for :func:`bind` to do."""
        return self.role_arn is None and self.region is None and self.duration is None

    def spec(self) -> str:
        """The target as one line (``ROLEHOP_TARGET``, for the shell's auto-refresh to ask
        for the same again): JSON, since a role name may hold any of ``+=,.@-``."""
        fields = {key: getattr(self, key) for key in _SPEC_KEYS}
        return json.dumps({k: v for k, v in fields.items() if v is not None}, sort_keys=True)

    def exported(self) -> str | None:
        """What ROLEHOP_TARGET holds: :meth:`spec`, or None for a plain profile (the shell
        asks for ROLEHOP_PROFILE again)."""
        return None if self.plain else self.spec()

    @classmethod
    def from_spec(cls, text: str) -> Target:
        """The target :meth:`spec` wrote, checked as the options are."""
        try:
            fields: Any = json.loads(text)
        except ValueError:
            fields = None
        if not isinstance(fields, dict) or not set(fields) <= set(_SPEC_KEYS):
            raise UsageError(f"--target: {text!r} is not what ROLEHOP_TARGET holds")
        types = {key: int if key == "duration" else str for key in _SPEC_KEYS}
        if any(type(value) is not types[key] for key, value in fields.items()):
            raise UsageError(f"--target: {text!r} is not what ROLEHOP_TARGET holds")
        return cls(**fields)


def bind(ctx: Context, target: Target) -> tuple[Context, str]:
    """``ctx`` with ``target`` applied to its configuration, and the name to resolve."""
    if target.plain:
        return ctx, target.name
    config = ctx.config
    if target.role_arn is not None:
        assert target.source is not None
        _check_source(ctx, target.source)
        adhoc = Profile(
            name=target.role_arn,
            origin="rolehop",
            path=COMMAND_LINE,
            line=None,
            role_arn=target.role_arn,
            source_profile=target.source,
        )
        config = replace(config, profiles={**config.profiles, adhoc.name: adhoc})
    return replace(ctx, config=_override(ctx, config, target)), target.name


def resolve_target(
    ctx: Context,
    target: Target,
    *,
    refresh: bool = False,
    mfa_token: str | None = None,
    session: bool = True,
) -> Resolution:
    """:func:`rolehop.engine.resolve.resolve` of ``target``."""
    bound, name = bind(ctx, target)
    return resolve(bound, name, refresh=refresh, mfa_token=mfa_token, session=session)


def _check_source(ctx: Context, source: str) -> None:
    """``--source`` names a profile that exists (else the error would point at a file)."""
    config = ctx.config
    known = config.names()
    if source in known:
        return
    stored = stored_names(ctx)
    if source in stored:
        return
    close = close_names(source, known | stored)
    raise UsageError(
        f"--source: profile {source!r} not found in {config.path}, {config.aws_config_path} "
        f"or {config.aws_credentials_path}, and no keys are stored as {source!r}"
        + (f"; {did_you_mean(close)}" if close else "")
    )


def _override(ctx: Context, config: Config, target: Target) -> Config:
    """``config`` with the target profile's region and duration replaced."""
    name = target.name
    if target.region is None and target.duration is None:
        return config
    if chains.is_base(config, name, lambda: stored_names(ctx)):
        if target.duration is not None:
            raise UsageError(
                f"--duration: profile {name!r} is a base profile, not a role: the length "
                "of the session made from its keys is its session_duration"
            )
        assert target.region is not None
        return replace(config, base_regions={**config.base_regions, name: target.region})
    profile = config.profile(name)  # not found: the usual error, with its suggestions
    changed = replace(
        profile,
        region=target.region or profile.region,
        duration_seconds=target.duration or profile.duration_seconds,
    )
    return replace(config, profiles={**config.profiles, name: changed})
