"""Turn a profile into the ordered hops that produce its credentials (rolehop.engine.hops).

``base`` is where the chain starts (a profile of the AWS shared files); each ``RoleHop`` is
one AssumeRole call made with the credentials of the step before it. Everything here is pure:
no I/O, no clock, so the cache key of every hop is known before any call is made.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
from collections.abc import Callable, Collection, Mapping

from rolehop.config import validate
from rolehop.config.files import Config, Profile
from rolehop.engine.hops import (
    LONG_TERM,
    BaseHop,
    BaseTarget,
    Chain,
    MfaHop,
    RoleHop,
    SessionHop,
    SsoHop,
    WebIdentityHop,
)
from rolehop.errors import ChainLoopError, ConfigError, close_names, did_you_mean

_INVALID_SESSION_CHARS = re.compile(r"[^\w+=,.@-]", re.ASCII)


def default_session_name(environ: Mapping[str, str]) -> str:
    """``rolehop-<user>``: a CloudTrail reader sees who, and which tool, assumed the role."""
    names = ("USER", "LOGNAME", "USERNAME", "LNAME")
    user = next((environ[var] for var in names if environ.get(var)), "")
    user = _INVALID_SESSION_CHARS.sub("-", user or _login_name())
    return f"rolehop-{user}"[:64] if user else "rolehop"


@functools.cache
def _login_name() -> str:
    """The user's name from the password database, by uid (once a process: ``list``
    builds a thousand chains). Not getpass.getuser(), which reads this process's own
    environment: the agent's is not its caller's."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return ""


def _loop(profile: Profile, names: list[str], why: str = "") -> ChainLoopError:
    return ChainLoopError(
        f"source_profile loop: {' -> '.join(names)}{why}",
        path=profile.path,
        line=profile.key_lines.get("source_profile", profile.line),
        profile=profile.name,
        key="source_profile",
        fix=f"set source_profile of {profile.name!r} to a profile outside the loop: one with "
        "access keys, or a base profile",
    )


def _not_found(
    config: Config, profile: Profile, source: str, stored_keys: Collection[str]
) -> ConfigError:
    """A source_profile found nowhere: the names it may be a typo of, or how to add it."""
    known = config.names()
    close = close_names(source, (known | set(stored_keys)) - {profile.name})
    add = f"rolehop keys add {shlex.quote(source)}"
    fix = (
        f"set source_profile to {close[0]!r}, or store keys as {source!r}: {add}"
        if close
        else f"store keys as {source!r}: {add} (or give {config.aws_credentials_path} a "
        f"[{source}] section with them), or set source_profile to a profile `rolehop list` "
        "or your AWS files show"
    )
    return profile.error(
        f"source profile {source!r} not found in {config.path}, {config.aws_config_path} or "
        f"{config.aws_credentials_path}, and no keys are stored as {source!r} ({add})"
        + (f"; {did_you_mean(close)}" if close else ""),
        "source_profile",
        fix=fix,
    )


def is_base(config: Config, name: str, stored_keys: Callable[[], Collection[str]]) -> bool:
    """Whether ``name`` is a base profile rather than a role, by :func:`build`'s rules:
    rolehop's TOML base wins over an AWS role of that name; a role wins over an AWS
    profile without role_arn and over keys stored under that name (asked last)."""
    if name in config.base_profiles:
        return True
    if name in config.profiles or name in config.broken:
        return False
    return name in config.aws_bases or name in stored_keys()


# A session made from long-term keys without MFA: aws-vault's default. (An MFA session lasts
# 12 hours: one code a working day.) A base profile's session_duration sets either.
PLAIN_SESSION_DURATION = 3600


def build_base(
    config: Config,
    name: str,
    environ: Mapping[str, str],
    stored_keys: Callable[[], Collection[str]] = frozenset,
    stored_key_id: Callable[[str], str | None] = lambda name: None,
    *,
    session: bool = True,
) -> BaseTarget:
    """The base profile ``name`` as a target of its own (see :class:`BaseTarget`);
    ``session=False`` (``--no-session``): its long-term keys themselves."""
    base = _named_base(config, name, environ, stored_key_id=stored_key_id(name))
    settings, aws = config.base_profiles.get(name), base.aws
    region = (
        config.base_regions.get(name)
        or (settings.region if settings else None)
        or (aws.region if aws else None)
        or config.settings.default_region
    )
    long_term = base.kind(stored_keys()) in LONG_TERM
    mfa = _mfa(config, base, region)
    hop: MfaHop | SessionHop | None = None
    if session and mfa is not None:
        hop = mfa
    elif session and long_term:
        duration = (settings.session_duration if settings else None) or PLAIN_SESSION_DURATION
        hop = SessionHop(name, base.key, duration, region)
    return BaseTarget(name=name, base=base, session=hop, long_term=long_term, region=region)


def build(
    config: Config,
    name: str,
    environ: Mapping[str, str],
    stored_keys: Callable[[], Collection[str]] = frozenset,
    stored_key_id: Callable[[str], str | None] = lambda name: None,
) -> Chain:
    """Resolve ``name`` into its chain, rejecting loops and unknown sources up front.

    ``stored_keys`` names the keys in the keyring; it is asked only for a source found
    nowhere in the files. ``stored_key_id`` gives the access key id of the keys stored
    under a base's name (None: none stored), part of the base's cache key.
    """
    if is_base(config, name, stored_keys):  # rolehop's TOML wins over an AWS role of that name
        raise _no_role(config, name)
    target = config.profile(name)
    roles, base = _walk(config, target, environ, stored_keys, stored_key_id)
    return _hops(config, target, base, roles, environ)


def _no_role(config: Config, name: str) -> ConfigError:
    """A base profile asked for as the target of a chain."""
    where = config.base_profiles.get(name) or config.aws_bases.get(name)
    users = sorted(role for role, found in config.profiles.items() if found.source_profile == name)
    return ConfigError(
        "is a base profile (no role_arn), which has no role to become: name it as the "
        "source_profile of a role profile (env, exec and credential-process hand out "
        "its own credentials)",
        path=where.path if where else None,
        line=where.line if where else None,
        profile=name,
        fix=(
            f"use a role profile that starts from it: {', '.join(map(repr, users))}"
            if users
            else f"add a role profile with role_arn and source_profile = {name!r}"
        ),
    )


def _walk(
    config: Config,
    target: Profile,
    environ: Mapping[str, str],
    stored_keys: Callable[[], Collection[str]],
    stored_key_id: Callable[[str], str | None],
) -> tuple[list[Profile], BaseHop]:
    """From ``target`` down its source profiles to the base: the roles, first hop first."""
    roles: list[Profile] = []
    visited: list[str] = []
    profile = target
    while True:
        if profile.name in visited:
            raise _loop(profile, [*visited[visited.index(profile.name) :], profile.name])
        visited.append(profile.name)
        roles.append(profile)
        source = profile.source_profile
        if source is None:  # credential_source (the config requires one of the two)
            return roles[::-1], _credential_source_base(config, profile, environ)
        own_keys, source_role = config.aws_bases.get(source), config.profiles.get(source)
        if source == profile.name:
            if own_keys is None or not own_keys.has_static_keys:
                raise _loop(
                    profile,
                    [source, source],
                    " (a profile may name itself only when it holds access keys of its own)",
                )
            return roles[::-1], _named_base(config, source, environ, static_keys_only=True)
        if own_keys and own_keys.has_static_keys and source_role and source_role.origin == "aws":
            # botocore: a source profile's own static keys win over its role_arn
            return roles[::-1], _named_base(config, source, environ, static_keys_only=True)
        if source in config.profiles and source not in config.base_profiles:
            profile = config.profile(source)
            continue
        if source in config.broken:
            raise config.broken[source]
        if source in config.base_profiles or own_keys or source in stored_keys():
            base = _named_base(config, source, environ, stored_key_id=stored_key_id(source))
            return roles[::-1], base
        raise _not_found(config, profile, source, stored_keys())


def _named_base(
    config: Config,
    name: str,
    environ: Mapping[str, str],
    *,
    static_keys_only: bool = False,
    stored_key_id: str | None = None,
) -> BaseHop:
    aws = config.aws_bases.get(name)
    web = aws.web_identity if aws is not None else None
    rolehop_base = config.base_profiles.get(name)
    sso = rolehop_base.sso if rolehop_base is not None else (aws.sso if aws else None)
    return BaseHop(
        name=name,
        aws=aws,
        aws_config_path=str(config.aws_config_path),
        aws_credentials_path=str(config.aws_credentials_path),
        endpoint=environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL"),
        endpoint_settings=config.endpoint_settings,
        static_keys_only=static_keys_only,
        stored_key_id=None if web or sso else stored_key_id,
        sso=SsoHop(name, sso, _sso_endpoint(environ)) if sso is not None else None,
        web_identity=WebIdentityHop(
            name=name,
            role_arn=web.role_arn,
            session_name=web.role_session_name or default_session_name(environ),
            duration_seconds=web.duration_seconds,
            token_file=web.token_file,
            token_process=web.token_process,
            region=aws.region
            or config.settings.default_region
            or environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION"),
        )
        if aws is not None and web is not None
        else None,
    )


def _sso_endpoint(environ: Mapping[str, str]) -> str | None:
    """Where botocore sends IAM Identity Center calls, if moved."""
    moved = [environ.get(var) for var in ("AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC")]
    return " ".join(url or "" for url in moved).strip() or environ.get("AWS_ENDPOINT_URL")


# What identifies each credential_source's credentials without a secret.
_SOURCE_IDENTITY = {
    "Environment": ("AWS_ACCESS_KEY_ID",),
    "EcsContainer": (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ),
    "Ec2InstanceMetadata": ("AWS_EC2_METADATA_SERVICE_ENDPOINT",),
}


def _credential_source_base(
    config: Config, profile: Profile, environ: Mapping[str, str]
) -> BaseHop:
    kind = profile.credential_source
    assert kind is not None
    return BaseHop(
        name=kind,
        aws=None,
        aws_config_path=str(config.aws_config_path),
        aws_credentials_path=str(config.aws_credentials_path),
        endpoint=environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL"),
        endpoint_settings=config.endpoint_settings,
        credential_source=kind,
        source_identity=tuple(
            (var, environ[var]) for var in _SOURCE_IDENTITY[kind] if environ.get(var)
        ),
    )


def _mfa(config: Config, base: BaseHop, region: str | None) -> MfaHop | None:
    """The base's MFA session, from rolehop's base profile or the AWS profile's keys;
    ``region``: the STS region when the base profile names none."""
    if base.credential_source is not None or base.sso is not None:
        return None  # IAM Identity Center asks for MFA at sign-in
    settings = config.base_profiles.get(base.name)
    serial = settings.mfa_serial if settings else (base.aws.mfa_serial if base.aws else None)
    if serial is None:
        return None
    process = settings.mfa_process if settings else (base.aws.mfa_process if base.aws else None)
    duration = (settings.session_duration if settings else None) or (
        validate.DEFAULT_SESSION_DURATION
    )
    region = (settings.region if settings else None) or region
    return MfaHop(base.name, base.key, serial, duration, process, region)


def _hops(
    config: Config,
    target: Profile,
    base: BaseHop,
    roles: list[Profile],
    environ: Mapping[str, str],
) -> Chain:
    warnings: list[str] = []
    hops: list[RoleHop] = []
    mfa = _mfa(config, base, config.region_for(target, {}))
    source_key = mfa.key if mfa else base.key
    margin = config.settings.refresh_margin
    for index, profile in enumerate(roles):
        # a role from an MFA session (index 0) is not role chaining; from a web identity
        # or SSO base it is: those credentials are a role's
        chained = index > 0 or base.web_identity is not None or base.sso is not None
        duration = profile.duration_seconds
        lowered = chained and duration is not None and duration > validate.CHAINED_MAX_DURATION
        if lowered:
            duration = validate.CHAINED_MAX_DURATION
        hop = RoleHop(
            profile=profile,
            source_key=source_key,
            session_name=profile.role_session_name or default_session_name(environ),
            duration_seconds=duration,
            region=config.region_for(profile, environ),
            chained=chained,
            # an MFA session already satisfies the role's MFA condition: no second code
            mfa_serial=profile.mfa_serial if mfa is None else None,
            lowered_from=profile.duration_seconds if lowered else None,
        )
        if hop.lifetime <= margin:
            warnings.append(
                f"profile {profile.name!r}: credentials last {hop.lifetime}, not more than "
                f"refresh_margin {margin}, so they are never served from the cache"
            )
        hops.append(hop)
        source_key = hop.key
    return Chain(profile=target, base=base, hops=tuple(hops), warnings=tuple(warnings), mfa=mfa)


def check(config: Config, environ: Mapping[str, str]) -> list[ConfigError]:
    """Every problem of every profile, for ``list`` and validation of a whole file."""
    problems: list[ConfigError] = list(config.broken.values())
    for name in config.profiles:
        try:
            build(config, name, environ)
        except ConfigError as error:
            problems.append(error)
    return problems
