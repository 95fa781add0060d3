"""Turn a profile into the ordered hops that produce its credentials.

``base`` is where the chain starts (a profile of the AWS shared files); each ``RoleHop`` is
one AssumeRole call made with the credentials of the step before it. Everything here is pure:
no I/O, no clock, so the cache key of every hop is known before any call is made.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rolehop import validate
from rolehop.config import AwsBase, Config, Profile
from rolehop.errors import ChainLoopError, ConfigError

CACHE_FORMAT = 1
STS_DEFAULT_DURATION = 3600


def _digest(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BaseHop:
    """The start of a chain: a profile of the AWS shared files, resolved by botocore.

    ``static_keys_only`` is botocore's rule for a role profile whose ``source_profile`` is
    itself: its own access keys are the source, not the role.
    """

    base: AwsBase
    aws_config_path: str
    aws_credentials_path: str
    endpoint: str | None
    static_keys_only: bool = False
    endpoint_settings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def key(self) -> str:
        return _digest(
            {
                "v": CACHE_FORMAT,
                "kind": "aws-profile",
                "name": self.base.name,
                "identity": [list(pair) for pair in self.base.identity],
                "files": [self.aws_config_path, self.aws_credentials_path],
                "endpoint": self.endpoint,
                "endpoint_settings": list(self.endpoint_settings),
                "static_keys_only": self.static_keys_only,
            }
        )


@dataclass(frozen=True)
class RoleHop:
    """One AssumeRole call, with exactly the parameters STS will receive."""

    profile: Profile
    source_key: str
    session_name: str
    duration_seconds: int | None
    region: str | None
    chained: bool

    @property
    def role_arn(self) -> str:
        return self.profile.role_arn

    @property
    def name(self) -> str:
        return self.profile.name

    def assume_role_params(self) -> dict[str, Any]:
        profile = self.profile
        params: dict[str, Any] = {"RoleArn": profile.role_arn, "RoleSessionName": self.session_name}
        if self.duration_seconds is not None:
            params["DurationSeconds"] = self.duration_seconds
        if profile.external_id is not None:
            params["ExternalId"] = profile.external_id
        if profile.source_identity is not None:
            params["SourceIdentity"] = profile.source_identity
        if profile.session_tags:
            params["Tags"] = [{"Key": key, "Value": value} for key, value in profile.session_tags]
        if profile.policy_arns:
            params["PolicyArns"] = [{"arn": arn} for arn in profile.policy_arns]
        return params

    @property
    def lifetime(self) -> timedelta:
        return timedelta(seconds=self.duration_seconds or STS_DEFAULT_DURATION)

    @property
    def key(self) -> str:
        """Hash of the AssumeRole parameters and of the source's own key."""
        return _digest(
            {"v": CACHE_FORMAT, "source": self.source_key, "params": self.assume_role_params()}
        )


@dataclass(frozen=True)
class Chain:
    profile: Profile
    base: BaseHop
    hops: tuple[RoleHop, ...]
    warnings: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Profile names from the base to the target, as a user reads the chain."""
        return (self.base.name, *(hop.name for hop in self.hops))

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.base.key, *(hop.key for hop in self.hops))


_INVALID_SESSION_CHARS = re.compile(r"[^\w+=,.@-]", re.ASCII)


def default_session_name(environ: Mapping[str, str]) -> str:
    """``rolehop-<user>``: a CloudTrail reader sees who, and which tool, assumed the role."""
    user = next((environ[var] for var in ("USER", "LOGNAME", "USERNAME") if environ.get(var)), "")
    if not user:
        try:
            import getpass

            user = getpass.getuser()
        except (OSError, KeyError):
            user = ""
    user = _INVALID_SESSION_CHARS.sub("-", user)
    return f"rolehop-{user}"[:64] if user else "rolehop"


def _reject_unsupported(profile: Profile) -> None:
    for key in ("mfa_serial", "mfa_process", "credential_source"):
        if getattr(profile, key) is not None:
            raise profile.error(
                "is not supported by this version of rolehop yet; use a source_profile "
                "whose credentials need no MFA",
                key,
            )


def build(config: Config, name: str, environ: Mapping[str, str]) -> Chain:
    """Resolve ``name`` into its chain, rejecting loops and unknown sources up front."""
    target = config.profile(name)
    roles: list[Profile] = []
    visited: list[str] = []
    profile = target
    base: AwsBase | None = None
    static_keys_only = False
    while True:
        if profile.name in visited:
            loop = [*visited[visited.index(profile.name) :], profile.name]
            raise ChainLoopError(
                f"source_profile loop: {' -> '.join(loop)}",
                path=profile.path,
                line=profile.key_lines.get("source_profile", profile.line),
                profile=profile.name,
                key="source_profile",
            )
        visited.append(profile.name)
        _reject_unsupported(profile)
        roles.append(profile)
        source = profile.source_profile
        assert source is not None  # credential_source was rejected just above
        if source == profile.name:
            own = config.aws_bases.get(source)
            if own is None or not own.has_static_keys:
                raise ChainLoopError(
                    f"source_profile loop: {profile.name} -> {profile.name} (a profile may "
                    "name itself only when it holds access keys of its own)",
                    path=profile.path,
                    line=profile.key_lines.get("source_profile", profile.line),
                    profile=profile.name,
                    key="source_profile",
                )
            base, static_keys_only = own, True
            break
        own_keys, source_role = config.aws_bases.get(source), config.profiles.get(source)
        if own_keys and own_keys.has_static_keys and source_role and source_role.origin == "aws":
            # botocore: a source profile's own static keys win over its role_arn
            base, static_keys_only = own_keys, True
            break
        if source in config.profiles:
            profile = config.profile(source)
            continue
        if source in config.broken:
            raise config.broken[source]
        if source in config.aws_bases:
            base = config.aws_bases[source]
            break
        raise profile.error(
            f"source profile {source!r} not found in {config.path}, "
            f"{config.aws_config_path} or {config.aws_credentials_path}",
            "source_profile",
        )
    roles.reverse()
    base_hop = BaseHop(
        base=base,
        aws_config_path=str(config.aws_config_path),
        aws_credentials_path=str(config.aws_credentials_path),
        endpoint=environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL"),
        static_keys_only=static_keys_only,
        endpoint_settings=config.endpoint_settings,
    )
    return _hops(config, target, base_hop, roles, environ)


def _hops(
    config: Config,
    target: Profile,
    base: BaseHop,
    roles: list[Profile],
    environ: Mapping[str, str],
) -> Chain:
    warnings: list[str] = []
    hops: list[RoleHop] = []
    source_key = base.key
    margin = config.settings.refresh_margin
    for index, profile in enumerate(roles):
        chained = index > 0
        duration = profile.duration_seconds
        if chained and duration is not None and duration > validate.CHAINED_MAX_DURATION:
            warnings.append(
                f"profile {profile.name!r}: duration_seconds {duration} lowered to "
                f"{validate.CHAINED_MAX_DURATION}: AWS caps a role assumed with another "
                "role's credentials at 1 hour"
            )
            duration = validate.CHAINED_MAX_DURATION
        hop = RoleHop(
            profile=profile,
            source_key=source_key,
            session_name=profile.role_session_name or default_session_name(environ),
            duration_seconds=duration,
            region=config.region_for(profile, environ),
            chained=chained,
        )
        if hop.lifetime <= margin:
            warnings.append(
                f"profile {profile.name!r}: credentials last {hop.lifetime}, not more than "
                f"refresh_margin {margin}, so they are never served from the cache"
            )
        hops.append(hop)
        source_key = hop.key
    return Chain(profile=target, base=base, hops=tuple(hops), warnings=tuple(warnings))


def check(config: Config, environ: Mapping[str, str]) -> list[ConfigError]:
    """Every problem of every profile, for ``list`` and validation of a whole file."""
    problems: list[ConfigError] = list(config.broken.values())
    for name in config.profiles:
        try:
            build(config, name, environ)
        except ConfigError as error:
            problems.append(error)
    return problems
