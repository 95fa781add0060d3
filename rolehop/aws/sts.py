"""The only module that talks to STS. Maps botocore failures to rolehop errors.

boto3 is imported lazily: nothing here is loaded on a cache hit.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rolehop.aws.clients import bounded, unscoped_session
from rolehop.common.creds import Credentials
from rolehop.config.validate import CHAINED_MAX_DURATION
from rolehop.errors import (
    AccessDeniedError,
    ConfigError,
    NetworkError,
    SourceCredentialsError,
    StsError,
)

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

DEFAULT_STS_REGION = "us-east-1"
# credential_process callers wait on us: fail within seconds, not half a minute
CONNECT_TIMEOUT, READ_TIMEOUT, MAX_ATTEMPTS = 3, 5, 3

# (source credentials, region) -> an STS client that signs with them
StsClientFactory = Callable[[Credentials, "str | None"], "STSClient"]
# What to give a StsClientFactory for a client that signs nothing: AssumeRoleWithWebIdentity,
# whose proof is the token. Compared by identity: no real credentials are ever this object.
ANONYMOUS = Credentials(access_key_id="", secret_access_key="")

_INVALID_SOURCE = {
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
}


class Boto3StsClientFactory:
    """Clients that share one boto3 session, so models load once per process.

    The endpoint comes from botocore's own resolution, which honours ``AWS_ENDPOINT_URL``
    and ``AWS_ENDPOINT_URL_STS``: nothing is hard-coded here.
    """

    def __init__(
        self,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        **client_options: Any,
    ) -> None:
        self._session: Any = None
        self._client_options = client_options
        self._retry = (max_attempts, connect_timeout, read_timeout)

    def __call__(self, credentials: Credentials, region: str | None) -> STSClient:
        import boto3.session
        from botocore import UNSIGNED
        from botocore.config import Config

        if self._session is None:
            self._session = boto3.session.Session(botocore_session=unscoped_session())
        config = bounded(*self._retry)
        keys: dict[str, str | None] = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.session_token,
        }
        if credentials is ANONYMOUS:  # nor does botocore look for credentials of its own
            config, keys = config.merge(Config(signature_version=UNSIGNED)), {}
        try:
            client: STSClient = self._session.client(
                "sts",
                region_name=region or DEFAULT_STS_REGION,
                config=config,
                **keys,
                **self._client_options,
            )
        except Exception as error:  # e.g. ValueError for AWS_ENDPOINT_URL=notaurl
            raise ConfigError(
                f"cannot create an STS client (region {region or DEFAULT_STS_REGION}): {error}"
            ) from None
        return client


class Hop(Protocol):
    """What every call needs of a hop (rolehop.engine.chain's hops): its profile's name."""

    @property
    def name(self) -> str: ...


class RoleCall(Hop, Protocol):
    """An AssumeRole (rolehop.engine.hops.RoleHop)."""

    @property
    def role_arn(self) -> str: ...

    @property
    def mfa_serial(self) -> str | None: ...

    @property
    def lowered(self) -> str | None:
        """The warning to give once its credentials are made, if its duration was lowered."""
        ...

    def assume_role_params(self) -> dict[str, Any]: ...


class SessionCall(Hop, Protocol):
    """A GetSessionToken (rolehop.engine.hops.MfaHop or SessionHop)."""

    @property
    def serial(self) -> str | None:
        """The MFA device, if a code goes with the call."""
        ...

    def params(self) -> dict[str, Any]: ...


class WebIdentityCall(Hop, Protocol):
    """An AssumeRoleWithWebIdentity (rolehop.engine.hops.WebIdentityHop)."""

    @property
    def role_arn(self) -> str: ...

    @property
    def describe(self) -> str: ...

    def params(self) -> dict[str, Any]: ...


def _explain(target: str) -> str:
    """How every AccessDenied ends: the command that says which side refused."""
    return f"run: rolehop explain {shlex.quote(target)}"


def _subject(hop: Hop, target: str) -> str:
    via = "" if hop.name == target else f" (hop {hop.name!r})"
    return f"profile {target!r}{via}"


def _caller_arn(client: STSClient, source: Credentials) -> str | None:
    """Who was refused; asked only after a failure, and never an error itself."""
    if source.arn:
        return source.arn
    try:
        return client.get_caller_identity()["Arn"]
    except Exception:
        return None


@dataclass(frozen=True)
class Identity:
    """What GetCallerIdentity says: who a set of credentials is."""

    account: str
    arn: str
    user_id: str


def caller_identity(client: STSClient, *, what: str) -> str:
    """The ARN these credentials act as."""
    return identity_of(client, what=what).arn


def identity_of(client: STSClient, *, what: str) -> Identity:
    """GetCallerIdentity: who these credentials are. Every failure is one clear error."""
    from botocore.exceptions import BotoCoreError, ClientError

    endpoint = client.meta.endpoint_url
    try:
        answer = client.get_caller_identity()
        return Identity(answer["Account"], answer["Arn"], answer["UserId"])
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "Unknown"), details.get("Message", str(error))
        if code in _INVALID_SOURCE:
            raise SourceCredentialsError(
                f"{what}: STS does not accept them ({code}: {message})"
            ) from None
        raise StsError(f"{what}: GetCallerIdentity failed: {code}: {message}") from None
    except BotoCoreError as error:
        raise NetworkError(f"{what}: cannot reach the STS endpoint {endpoint}: {error}") from None


class ChainingLimitError(StsError):
    """STS refused a duration because the source is itself a role session."""


def _issued(response: Any, subject: str) -> Credentials:
    issued = response["Credentials"]
    expiration: datetime = issued["Expiration"]
    if expiration.tzinfo is None:
        raise StsError(f"{subject}: STS returned an expiration without a timezone")
    return Credentials(
        access_key_id=issued["AccessKeyId"],
        secret_access_key=issued["SecretAccessKey"],
        session_token=issued["SessionToken"],
        expiration=expiration,
        arn=response.get("AssumedRoleUser", {}).get("Arn"),
    )


def assume_role(
    client: STSClient,
    hop: RoleCall,
    source: Credentials,
    *,
    target: str,
    token_code: str | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> Credentials:
    """Call AssumeRole for ``hop``; every failure becomes one clear RolehopError.

    A first hop whose base credentials are themselves a role session (SSO, a
    credential_process...) is role chaining too, which rolehop cannot know beforehand: when
    STS says so, the call is made again with the 1 hour maximum, and the user is told. A
    later hop's duration, lowered beforehand (``hop.lowered``), is told when the call
    succeeds: once per set of credentials made.
    """
    subject = _subject(hop, target)
    params = hop.assume_role_params()
    if token_code is not None:
        params["TokenCode"] = token_code

    def denied(caller: str, message: str) -> str:
        return _denied(hop, caller, message, target, with_code=token_code is not None)

    def call(request: dict[str, Any]) -> Any:
        return _request(
            client.assume_role,
            request,
            client=client,
            subject=subject,
            action=f"AssumeRole {hop.role_arn}",
            purpose=f"assume {hop.role_arn}",
            source=source,
            denied=denied,
        )

    try:
        response = call(params)
    except ChainingLimitError:
        if params.get("DurationSeconds", 0) <= CHAINED_MAX_DURATION:
            raise
        warn(
            f"{subject}: duration_seconds {params['DurationSeconds']} lowered to "
            f"{CHAINED_MAX_DURATION}: the source credentials are a role session, and AWS caps "
            "a role assumed from one at 1 hour"
        )
        response = call({**params, "DurationSeconds": CHAINED_MAX_DURATION})
    issued = _issued(response, subject)
    if hop.lowered:
        warn(hop.lowered)
    return issued


def _denied(hop: RoleCall, caller: str, message: str, target: str, *, with_code: bool) -> str:
    """Why an AssumeRole was refused: both sides of the trust, and how to find which."""
    mfa = f" The MFA code may also be wrong or expired (serial {hop.mfa_serial})."
    return (
        f"AccessDenied assuming {hop.role_arn} as {caller}. Both sides must agree: the "
        f"role's trust policy must trust {caller}, and that caller's own policy must allow "
        f"sts:AssumeRole on {hop.role_arn}.{mfa if with_code else ''} (STS said: {message}); "
        f"{_explain(target)}"
    )


def get_session_token(
    client: STSClient,
    hop: SessionCall,
    source: Credentials,
    *,
    target: str,
    token_code: str | None,
) -> Credentials:
    """GetSessionToken: with an MFA code, the session every role of this base starts from;
    without, the session a base of long-term keys is handed out as."""
    subject = _subject(hop, target)
    params = hop.params()
    serial = hop.serial
    action, purpose = "GetSessionToken", f"start a session of {hop.name!r}"
    if serial is not None:
        params["TokenCode"] = token_code
        action = f"GetSessionToken with MFA device {serial}"
        purpose = f"start the MFA session of {hop.name!r}"

    def denied(caller: str, message: str) -> str:
        if serial is None:
            return f"AccessDenied starting a session as {caller} (STS said: {message})"
        return (
            f"AccessDenied starting an MFA session as {caller} with MFA device {serial}: "
            f"the MFA code may be wrong or expired, or {serial} is not this user's "
            f"device. (STS said: {message}); {_explain(target)}"
        )

    response = _request(
        client.get_session_token,
        params,
        client=client,
        subject=subject,
        action=action,
        purpose=purpose,
        source=source,
        denied=denied,
    )
    return _issued(response, subject)


# What STS answers when it does not accept a web identity token (or its provider).
_INVALID_TOKEN = {
    "InvalidIdentityToken",
    "ExpiredTokenException",
    "IDPRejectedClaim",
}


def assume_role_with_web_identity(
    client: STSClient, hop: WebIdentityCall, token: str, *, target: str
) -> Credentials:
    """AssumeRoleWithWebIdentity for ``hop`` with ``token`` (a secret: it is sent, never
    logged nor put in a message); every failure becomes one clear RolehopError."""
    subject = _subject(hop, target)
    where = hop.describe

    def denied(caller: str, message: str) -> str:
        return (
            f"AccessDenied assuming {hop.role_arn} with the {where}: the role's trust policy "
            "must trust the token's identity provider (sts:AssumeRoleWithWebIdentity) and "
            f"the token's claims (aud, sub) must meet its conditions. (STS said: {message})"
        )

    def rejected(code: str, message: str) -> str:
        return f"STS did not accept the {where} to assume {hop.role_arn} ({code}: {message})"

    response = _request(
        client.assume_role_with_web_identity,
        {**hop.params(), "WebIdentityToken": token},
        client=client,
        subject=subject,
        action=f"AssumeRoleWithWebIdentity {hop.role_arn}",
        purpose=f"assume {hop.role_arn}",
        source=None,
        denied=denied,
        rejected=(_INVALID_TOKEN, rejected),
    )
    return _issued(response, subject)


def _request(
    operation: Callable[..., Any],
    params: dict[str, Any],
    *,
    client: STSClient,
    subject: str,
    action: str,
    purpose: str,
    source: Credentials | None,
    denied: Callable[[str, str], str],
    rejected: tuple[set[str], Callable[[str, str], str]] | None = None,
) -> Any:
    """One STS call, its failures mapped to rolehop's errors (exit codes in errors.py).

    ``source``: the credentials the call is signed with (None: unsigned). ``rejected``: the
    codes that say STS refused what the call was made with, and the message for them.
    """
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    endpoint = client.meta.endpoint_url
    try:
        return operation(**params)
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "Unknown"), details.get("Message", str(error))
        if code == "AccessDenied":
            caller = (_caller_arn(client, source) if source else None) or "the source credentials"
            raise AccessDeniedError(f"{subject}: {denied(caller, message)}") from None
        if rejected is not None and code in rejected[0]:
            raise SourceCredentialsError(f"{subject}: {rejected[1](code, message)}") from None
        if code in _INVALID_SOURCE:
            raise SourceCredentialsError(
                f"{subject}: STS ({endpoint}) rejected the source credentials to {purpose} "
                f"({code}: {message})"
            ) from None
        kind = StsError
        if code == "ValidationError" and "chaining" in message:
            kind = ChainingLimitError
        raise kind(f"{subject}: {action} via {endpoint} failed: {code}: {message}") from None
    except (BotoConnectionError, HTTPClientError) as error:  # refused, timeouts, TLS, proxy
        raise NetworkError(
            f"{subject}: cannot reach the STS endpoint {endpoint} to {purpose}: {error}"
        ) from None
    except BotoCoreError as error:
        raise StsError(f"{subject}: {action} via {endpoint} failed: {error}") from None
