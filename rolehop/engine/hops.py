"""The steps of a chain, each a frozen value with the cache key of the credentials it makes:
the base, an MFA or plain session, each AssumeRole, a web identity base; the whole chain,
and a base profile asked for itself. Pure: no I/O, no clock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from rolehop.config.files import AwsBase, Profile
from rolehop.config.model import SsoRole

# Where a base's credentials come from (BaseHop.kind)
BaseKind = Literal[
    "web identity",
    "credential_source",
    "keyring",
    "nowhere",
    "SSO",
    "credential_process",
    "long-term keys",
    "temporary keys",
    "AWS profile",
]
# The kinds that are an IAM user's long-term keys (GetSessionToken, SessionDuration...)
LONG_TERM: frozenset[BaseKind] = frozenset({"keyring", "long-term keys"})

CACHE_FORMAT = 1
STS_DEFAULT_DURATION = 3600


def digest(document: Mapping[str, Any]) -> str:
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
class SsoHop:
    """GetRoleCredentials: an IAM Identity Center permission set's credentials in one
    account, with the session's access token, where a chain starts."""

    name: str
    role: SsoRole
    # what can move the portal (AWS_ENDPOINT_URL_SSO...): part of the cache key
    endpoint: str | None = None

    @property
    def session(self) -> str:
        return self.role.session.name

    @property
    def describe(self) -> str:
        return (
            f"IAM Identity Center: {self.role.role_name} in {self.role.account_id} "
            f"(session {self.session!r})"
        )

    @property
    def identity(self) -> dict[str, str | None]:
        """What identifies its credentials, for the cache key: never the token."""
        session = self.role.session
        return {
            "session": session.name,
            "start_url": session.start_url,
            "region": session.region,
            "account": self.role.account_id,
            "role": self.role.role_name,
            "endpoint": self.endpoint,
        }


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
    # an SSO profile: its credentials come from IAM Identity Center (GetRoleCredentials)
    sso: SsoHop | None = None

    @property
    def may_use_stored_keys(self) -> bool:
        return (
            self.credential_source is None
            and not self.static_keys_only
            and self.web_identity is None
            and self.sso is None
        )

    def kind(self, stored: Collection[str]) -> BaseKind:
        """Where this base's credentials come from: the one rule, for ``list`` and
        ``graph``, what the agent may make, and ``login``'s session duration. ``stored``
        names the keys in the keyring. As botocore asks: SSO and a credential_process of a
        profile before its static keys."""
        if self.web_identity is not None:
            return "web identity"
        if self.sso is not None:
            return "SSO"
        if self.credential_source is not None:
            return "credential_source"
        if self.may_use_stored_keys and self.name in stored:
            return "keyring"
        if self.aws is None:
            return "nowhere"
        settings = dict(self.aws.identity)
        if "sso_start_url" in settings or "sso_session" in settings:
            return "SSO"
        if "credential_process" in settings:
            return "credential_process"
        if self.aws.has_static_keys:
            return "temporary keys" if self.aws.has_session_token else "long-term keys"
        return "AWS profile"

    @property
    def key(self) -> str:
        extra: dict[str, Any] = {"stored_key_id": self.stored_key_id} if self.stored_key_id else {}
        web = self.web_identity
        if web is not None:  # what STS receives, and where the token comes from
            extra["web_identity"] = {"params": web.params(), "token": web.token_source}
        if self.sso is not None:
            extra["sso"] = self.sso.identity
        return digest(
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
        return digest(
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
        return digest(
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
        return digest(
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
