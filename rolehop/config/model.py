"""What loading the configuration yields: the profiles, bases and settings, and the Config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from rolehop.errors import ConfigError, ProfileNotFoundError, close_names, did_you_mean

DEFAULT_REFRESH_MARGIN = timedelta(minutes=20)

Origin = Literal["rolehop", "aws"]


@dataclass(frozen=True)
class Settings:
    refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN
    default_region: str | None = None
    keyring_backend: str | None = None
    cache: bool = True
    # how long a process waits for another one refreshing the same credentials
    lock_timeout: float = 120.0
    # STS calls: botocore's standard retry mode, and timeouts that fail within seconds
    sts_max_attempts: int = 3
    sts_connect_timeout: float = 3.0
    sts_read_timeout: float = 5.0
    # the agent (rolehop.agent): on by default; it exits after this long without a request
    agent: bool = True
    agent_idle_timeout: float = 3600.0
    # `rolehop login`: the console federation endpoint (default: that of the role's partition)
    federation_url: str | None = None
    # a federation_url that is not AWS's console sign-in: allowed only when this says so
    allow_custom_federation_url: bool = False
    # IAM Identity Center: sign in when a token is needed, on a terminal (None: yes), and
    # also write each sign-in to the AWS CLI's token cache
    sso_auto_login: bool | None = None
    sso_export_token: bool = False
    # the line of each setting in rolehop's TOML, for errors found after loading
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Where:
    """A profile's place in its file: where its errors point."""

    name: str
    path: Path
    line: int | None
    key_lines: Mapping[str, int]

    def error(self, problem: str, key: str | None = None, fix: str | None = None) -> ConfigError:
        """An error pointing at the profile, or at its key's line."""
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        return ConfigError(problem, path=self.path, line=line, profile=self.name, key=key, fix=fix)


@dataclass(frozen=True)
class Profile:
    """A role to become: the AWS shared-config keys of one role profile, validated."""

    name: str
    origin: Origin
    path: Path
    line: int | None
    role_arn: str
    source_profile: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    region: str | None = None
    source_identity: str | None = None
    session_tags: tuple[tuple[str, str], ...] = ()
    policy_arns: tuple[str, ...] = ()
    mfa_serial: str | None = None
    mfa_process: str | None = None
    credential_source: str | None = None
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def error(self, problem: str, key: str | None = None, fix: str | None = None) -> ConfigError:
        """A :class:`ConfigError` pointing at this profile (and key) in its file."""
        return Where(self.name, self.path, self.line, self.key_lines).error(problem, key, fix)


@dataclass(frozen=True)
class SsoSession:
    """An IAM Identity Center sign-in: ``[sso-session NAME]`` of the AWS config or
    ``[sso.NAME]`` of rolehop's TOML. A legacy SSO profile (``sso_start_url`` on the profile
    itself) makes one named by its start URL, as the AWS CLI names its token cache file."""

    name: str
    start_url: str
    region: str
    scopes: tuple[str, ...] = ()
    path: Path | None = None
    line: int | None = None
    legacy: bool = False
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def refreshable(self) -> bool:
        """Whether its tokens can be refreshed: IAM Identity Center issues refresh tokens
        to clients registered with scopes (an sso-session), never to the legacy form."""
        return bool(self.scopes) and not self.legacy


@dataclass(frozen=True)
class SsoRole:
    """What an SSO profile signs in as: a permission set's role in one account."""

    session: SsoSession
    account_id: str
    role_name: str


@dataclass(frozen=True)
class BaseProfile:
    """Where a chain starts, as rolehop's TOML describes it: no role, perhaps MFA.

    Its long-term keys are the ones stored under its name in the keyring
    (``rolehop keys add NAME``), else those of the AWS shared files.
    """

    name: str
    path: Path
    line: int | None
    mfa_serial: str | None = None
    mfa_process: str | None = None
    session_duration: int | None = None
    region: str | None = None
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    # an IAM Identity Center permission set: its credentials start the chain (sso_keys as
    # written; sso once bound to its session, by rolehop.config.files.load)
    sso_keys: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    sso: SsoRole | None = None


@dataclass(frozen=True)
class WebIdentity:
    """botocore's web identity profile: ``role_arn`` and a token (OIDC, as in EKS/IRSA or
    GitHub Actions) that AssumeRoleWithWebIdentity trades for the role's credentials.

    The token comes from ``web_identity_token_file`` (read as botocore reads it) or, as in
    aws-vault, from the output of ``web_identity_token_process``.
    """

    role_arn: str
    token_file: str | None = None
    token_process: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None


@dataclass(frozen=True)
class AwsBase:
    """A profile of the AWS shared files that is not a role: where a chain starts.

    ``identity`` holds what distinguishes its credentials without any secret (the access
    key id, sso and process settings...), so that a change there changes every cache key
    built on top of it.
    """

    name: str
    path: Path
    line: int | None
    identity: tuple[tuple[str, str], ...]
    has_static_keys: bool
    mfa_serial: str | None = None  # aws-vault's convention: MFA on the source profile
    mfa_process: str | None = None
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    # the file with its static keys: the credentials file, though the profile also has a
    # section in the config file (whose path is ``path``)
    keys_path: Path | None = None
    web_identity: WebIdentity | None = None
    # aws_session_token beside the keys: they are temporary already (no GetSessionToken)
    has_session_token: bool = False
    # an SSO profile (sso_session or sso_start_url, sso_account_id, sso_role_name)
    sso: SsoRole | None = None

    @property
    def region(self) -> str | None:
        return dict(self.identity).get("region") or None

    @property
    def long_term_keys(self) -> bool:
        """Whether botocore takes an IAM user's long-term keys from this profile: static
        keys without a session token, and no SSO (which botocore asks first)."""
        sso = any(key in ("sso_start_url", "sso_session") for key, _ in self.identity)
        return self.has_static_keys and not self.has_session_token and not sso


@dataclass(frozen=True)
class Config:
    path: Path
    settings: Settings
    profiles: Mapping[str, Profile]
    aws_bases: Mapping[str, AwsBase]
    base_profiles: Mapping[str, BaseProfile]
    aws_config_path: Path
    aws_credentials_path: Path
    # Profiles (of rolehop's TOML or the AWS files; roles or bases) that failed validation:
    # an error only when someone uses them, so one broken profile never breaks the others.
    broken: Mapping[str, ConfigError] = field(default_factory=dict)
    # AWS config settings that can move the STS endpoint ([default] endpoint_url, services)
    endpoint_settings: tuple[str, ...] = ()
    # IAM Identity Center sessions by name: rolehop's [sso.NAME] over the AWS config's
    sso_sessions: Mapping[str, SsoSession] = field(default_factory=dict)
    # profiles of the AWS config that mirror rolehop's (generate --aws-config's block)
    aws_mirrors: frozenset[str] = frozenset()
    # --region over a base profile's own, for one call (rolehop.engine.targets)
    base_regions: Mapping[str, str] = field(default_factory=dict)

    def names(self) -> set[str]:
        """Every profile's name: roles, bases of either file, broken ones (not the keys
        stored in the keyring, which only the keyring knows)."""
        return {*self.profiles, *self.base_profiles, *self.aws_bases, *self.broken}

    def profile(self, name: str) -> Profile:
        if name in self.profiles:
            return self.profiles[name]
        if name in self.broken:
            raise self.broken[name]
        known = {*self.profiles, *self.broken}
        close = close_names(name, known)
        hint = did_you_mean(close) if close else f"`rolehop list` shows the {len(known)} known"
        raise ProfileNotFoundError(
            f"profile {name!r} not found in {self.path} or {self.aws_config_path}"
            + (f"; {hint}" if known else "")
        )

    def region_for(self, profile: Profile, environ: Mapping[str, str]) -> str | None:
        return (
            profile.region
            or self.settings.default_region
            or environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION")
        )
