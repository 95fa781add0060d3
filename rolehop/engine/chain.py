"""Turn a profile into the ordered hops that produce its credentials.

``base`` is where the chain starts (a profile of the AWS shared files); each ``RoleHop`` is
one AssumeRole call made with the credentials of the step before it. Everything here is pure:
no I/O, no clock, so the cache key of every hop is known before any call is made.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rolehop.config import validate
from rolehop.config.files import AwsBase, Config, Profile
from rolehop.errors import ChainLoopError, ConfigError, close_names, did_you_mean

CACHE_FORMAT = 1
STS_DEFAULT_DURATION = 3600


def _digest(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WebIdentityHop:
    """AssumeRoleWithWebIdentity: a token (from a file or a program) becomes a role's
    credentials, where a chain starts (EKS/IRSA, GitHub Actions OIDC)."""

    name: str
    role_arn: str
    session_name: str
    duration_seconds: int | None
    token_file: str | None
    token_process: str | None
    region: str | None

    def params(self) -> dict[str, Any]:
        """What STS receives, but the token (read at call time: never cached, never logged)."""
        params: dict[str, Any] = {"RoleArn": self.role_arn, "RoleSessionName": self.session_name}
        if self.duration_seconds is not None:
            params["DurationSeconds"] = self.duration_seconds
        return params

    @property
    def token_source(self) -> dict[str, str]:
        """Where the token comes from, for the cache key: a digest of the file's path (or of
        the command), never the token, a secret that changes with every rotation."""
        if self.token_process is not None:
            kind, where = "process", self.token_process
        else:
            kind, where = "file", self.token_file or ""
        return {kind: hashlib.sha256(where.encode("utf-8")).hexdigest()}

    @property
    def describe(self) -> str:
        if self.token_file is not None:
            return f"web identity token in {self.token_file}"
        return f"web identity token from {self.token_process}"


@dataclass(frozen=True)
class BaseHop:
    """The start of a chain: long-term (or otherwise external) credentials.

    Either a *named base*: the keys stored in the keyring under ``name`` (looked up first),
    else the AWS profile ``aws`` resolved by botocore (static keys, SSO,
    credential_process...); or botocore's ``credential_source`` (Environment,
    Ec2InstanceMetadata, EcsContainer). ``static_keys_only`` is botocore's rule for a source
    profile that holds access keys of its own beside a role_arn: those keys are the source.
    """

    name: str
    aws: AwsBase | None
    aws_config_path: str
    aws_credentials_path: str
    endpoint: str | None
    endpoint_settings: tuple[str, ...] = ()
    static_keys_only: bool = False
    credential_source: str | None = None
    # non-secret values that identify a credential_source (the env access key id...)
    source_identity: tuple[tuple[str, str], ...] = ()
    # the access key id of the keys stored in the keyring under ``name``, if any: keys
    # replaced there (by any means) make new cache keys for everything built on them
    stored_key_id: str | None = None
    # a web identity profile: its credentials come from AssumeRoleWithWebIdentity
    web_identity: WebIdentityHop | None = None

    @property
    def may_use_stored_keys(self) -> bool:
        return (
            self.credential_source is None
            and not self.static_keys_only
            and self.web_identity is None
        )

    @property
    def key(self) -> str:
        extra: dict[str, Any] = {"stored_key_id": self.stored_key_id} if self.stored_key_id else {}
        web = self.web_identity
        if web is not None:  # what STS receives, and where the token comes from
            extra["web_identity"] = {"params": web.params(), "token": web.token_source}
        return _digest(
            {
                **extra,
                "v": CACHE_FORMAT,
                "kind": "credential-source" if self.credential_source else "profile",
                "name": self.name,
                "identity": [list(pair) for pair in self.aws.identity] if self.aws else [],
                "credential_source": self.credential_source,
                "source_identity": [list(pair) for pair in self.source_identity],
                "files": [self.aws_config_path, self.aws_credentials_path],
                "endpoint": self.endpoint,
                "endpoint_settings": list(self.endpoint_settings),
                "static_keys_only": self.static_keys_only,
            }
        )


@dataclass(frozen=True)
class MfaHop:
    """GetSessionToken with an MFA code: one code unlocks every role of this base."""

    name: str
    source_key: str
    serial: str
    duration_seconds: int
    mfa_process: str | None
    region: str | None

    def params(self) -> dict[str, Any]:
        """What STS receives, but the TokenCode (asked at call time, never cached)."""
        return {"SerialNumber": self.serial, "DurationSeconds": self.duration_seconds}

    @property
    def key(self) -> str:
        return _digest(
            {
                "v": CACHE_FORMAT,
                "kind": "session-token",
                "source": self.source_key,
                "params": self.params(),
            }
        )


@dataclass(frozen=True)
class SessionHop:
    """GetSessionToken without MFA: what a base of long-term keys without mfa_serial hands
    out when asked for itself (``env BASE``), rather than the keys."""

    name: str
    source_key: str
    duration_seconds: int
    region: str | None

    def params(self) -> dict[str, Any]:
        return {"DurationSeconds": self.duration_seconds}

    @property
    def serial(self) -> None:
        """No MFA device: no code goes with the call."""
        return None

    @property
    def key(self) -> str:
        return _digest(
            {
                "v": CACHE_FORMAT,
                "kind": "session-token",
                "source": self.source_key,
                "params": self.params(),
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
    # the role's own MFA, when its base has no MFA session: a code goes with the call
    mfa_serial: str | None = None
    # the profile's duration_seconds, when role chaining's 1-hour cap lowered it
    lowered_from: int | None = None

    @property
    def role_arn(self) -> str:
        return self.profile.role_arn

    @property
    def lowered(self) -> str | None:
        """What to say when this hop's credentials are made with a lowered duration: once
        per set of credentials, not on every call that finds them in the cache."""
        if self.lowered_from is None:
            return None
        return (
            f"profile {self.name!r}: duration_seconds {self.lowered_from} lowered to "
            f"{self.duration_seconds}: AWS caps a role assumed with another role's credentials "
            "at 1 hour"
        )

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
        if self.mfa_serial is not None:
            params["SerialNumber"] = self.mfa_serial  # the TokenCode is added at call time
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
    mfa: MfaHop | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Profile names from the base to the target, as a user reads the chain."""
        return (self.base.name, *(hop.name for hop in self.hops))

    @property
    def keys(self) -> tuple[str, ...]:
        mfa = (self.mfa.key,) if self.mfa else ()
        return (self.base.key, *mfa, *(hop.key for hop in self.hops))


@dataclass(frozen=True)
class BaseTarget:
    """A base profile asked for itself (``env BASE``), not as where a role's chain starts.

    An IAM user's long-term keys (``long_term``) are never handed out as they are unless
    asked (``--no-session``): ``session`` is made from them, the base's MFA session (the
    very one its chains use: one code for both) or a plain GetSessionToken. Credentials
    that are temporary already (SSO, credential_process, web identity...) go as they come.
    """

    name: str
    base: BaseHop
    session: MfaHop | SessionHop | None
    long_term: bool
    region: str | None

    @property
    def role_arn(self) -> str:
        """The role these credentials are of (a web identity base's), else empty."""
        return self.base.web_identity.role_arn if self.base.web_identity else ""

    @property
    def mfa(self) -> MfaHop | None:
        return self.session if isinstance(self.session, MfaHop) else None

    @property
    def hops(self) -> tuple[RoleHop, ...]:
        return ()  # no role to become

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.base.key, self.session.key) if self.session else (self.base.key,)


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
    known = {*config.profiles, *config.base_profiles, *config.aws_bases, *config.broken}
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
        (settings.region if settings else None)
        or (aws.region if aws else None)
        or config.settings.default_region
    )
    in_keyring = base.may_use_stored_keys and name in stored_keys()
    long_term = in_keyring or (aws is not None and aws.long_term_keys)
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
        where = config.base_profiles.get(name) or config.aws_bases.get(name)
        users = sorted(
            role for role, found in config.profiles.items() if found.source_profile == name
        )
        raise ConfigError(
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
    target = config.profile(name)
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
            base = _credential_source_base(config, profile, environ)
            break
        own_keys, source_role = config.aws_bases.get(source), config.profiles.get(source)
        if source == profile.name:
            if own_keys is None or not own_keys.has_static_keys:
                raise _loop(
                    profile,
                    [source, source],
                    " (a profile may name itself only when it holds access keys of its own)",
                )
            base = _named_base(config, source, environ, static_keys_only=True)
            break
        if own_keys and own_keys.has_static_keys and source_role and source_role.origin == "aws":
            # botocore: a source profile's own static keys win over its role_arn
            base = _named_base(config, source, environ, static_keys_only=True)
            break
        if source in config.profiles and source not in config.base_profiles:
            profile = config.profile(source)
            continue
        if source in config.broken:
            raise config.broken[source]
        if source in config.base_profiles or own_keys or source in stored_keys():
            base = _named_base(config, source, environ, stored_key_id=stored_key_id(source))
            break
        raise _not_found(config, profile, source, stored_keys())
    roles.reverse()
    return _hops(config, target, base, roles, environ)


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
    return BaseHop(
        name=name,
        aws=aws,
        aws_config_path=str(config.aws_config_path),
        aws_credentials_path=str(config.aws_credentials_path),
        endpoint=environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL"),
        endpoint_settings=config.endpoint_settings,
        static_keys_only=static_keys_only,
        stored_key_id=None if web else stored_key_id,
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
    if base.credential_source is not None:
        return None
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
        # base it is: those credentials are a role's
        chained = index > 0 or base.web_identity is not None
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
