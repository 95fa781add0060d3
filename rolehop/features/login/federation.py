"""``rolehop login``: trade a profile's credentials for an AWS console sign-in URL.

The console federation endpoint (``https://signin.aws.amazon.com/federation`` and its twins
in the other partitions) is no AWS API: no SigV4, no botocore model. ``getSigninToken``
takes the credentials themselves, as a JSON ``Session``, and answers a ``SigninToken`` that
opens the console to whoever holds it, for 15 minutes. Both are secrets: the session travels
in a POST body (never in a URL, which proxies and server logs keep), and neither appears in
an error message or a log line; the token is registered with :mod:`rolehop.common.redact`.

``SessionDuration``, the console session's own length, is sent only when asked for and only
for a role assumed straight from an IAM user's long-term keys: the endpoint refuses it for
credentials made from temporary ones (role chaining). Without it, the console session lasts
as long as the credentials.

Only the standard library; the HTTP exchange is injected (:data:`Send`).
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import IO, TYPE_CHECKING

from rolehop.common import redact
from rolehop.common.creds import Credentials
from rolehop.config.files import Config, local_stand_in, signin_partition
from rolehop.engine import chain as chains
from rolehop.engine.hops import LONG_TERM, BaseTarget, Chain
from rolehop.engine.resolve import is_base, resolve, stored_names
from rolehop.errors import ConfigError, FederationError, NetworkError, UsageError
from rolehop.version import __version__

if TYPE_CHECKING:
    from rolehop.engine.context import Context

log = logging.getLogger(__name__)

ISSUER = "rolehop"  # who made the URL, as the console's "session ended" page shows it
# SessionDuration, the console session's length in seconds: the federation endpoint's limits
MIN_SESSION_DURATION, MAX_SESSION_DURATION = 900, 43200
MAX_ANSWER = 64 * 1024  # a SigninToken is a few kilobytes


@dataclass(frozen=True)
class Partition:
    """Where a partition's console sign-in happens, and its console."""

    federation_url: str
    console_host: str


PARTITIONS = {
    "aws": Partition("https://signin.aws.amazon.com/federation", "console.aws.amazon.com"),
    "aws-cn": Partition("https://signin.amazonaws.cn/federation", "console.amazonaws.cn"),
    "aws-us-gov": Partition(
        "https://signin.amazonaws-us-gov.com/federation", "console.amazonaws-us-gov.com"
    ),
}


def partition(role_arn: str, subject: str) -> Partition:
    """The sign-in endpoint and console of the partition ``role_arn`` is in."""
    name = role_arn.split(":")[1]
    if name not in PARTITIONS:
        raise UsageError(
            f"{subject}: no console sign-in is known for partition {name!r} of {role_arn} "
            f"(known: {', '.join(PARTITIONS)})"
        )
    return PARTITIONS[name]


def destination_url(console_host: str, region: str | None, destination: str | None = None) -> str:
    """The console page to open: ``destination`` (an https URL, or a path on the console),
    else the console home in ``region``."""
    if destination is None:
        query = "?" + urllib.parse.urlencode({"region": region}) if region else ""
        return f"https://{console_host}/console/home{query}"
    if destination.startswith("/"):
        return f"https://{console_host}{destination}"
    try:
        parts = urllib.parse.urlsplit(destination)
    except ValueError:
        parts = urllib.parse.SplitResult("", "", "", "", "")
    if parts.scheme != "https" or not parts.netloc:
        raise UsageError(
            f"--destination {destination!r} is neither an https URL nor a path on the console "
            "such as /s3/home"
        )
    return destination


def login_url(federation_url: str, token: str, destination: str) -> str:
    """The URL that signs its holder in and opens ``destination``: a secret."""
    query = urllib.parse.urlencode(
        {"Action": "login", "Issuer": ISSUER, "Destination": destination, "SigninToken": token}
    )
    return f"{federation_url}?{query}"


def session_json(credentials: Credentials) -> str:
    """The ``Session`` parameter of getSigninToken: the credentials themselves."""
    return json.dumps(
        {
            "sessionId": credentials.access_key_id,
            "sessionKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
        }
    )


# -- SessionDuration --------------------------------------------------------------------


def from_long_term_keys(chain: Chain | BaseTarget, stored: Callable[[], Collection[str]]) -> bool:
    """Whether ``chain``'s role is assumed straight from an IAM user's long-term keys.

    That is one hop, no MFA session (GetSessionToken's credentials are temporary), from keys
    stored in the keyring or static keys of an AWS profile; not from SSO, a
    credential_process or a credential_source, whose credentials are temporary or unknown.
    ``stored`` names the keys in the keyring; it is asked only when that decides.
    """
    if len(chain.hops) != 1 or chain.mfa is not None:
        return False
    return chain.base.kind(stored()) in LONG_TERM  # `keys add` stores long-term keys only


def check_duration(duration: int) -> int:
    if not MIN_SESSION_DURATION <= duration <= MAX_SESSION_DURATION:
        raise UsageError(
            f"--duration {duration} is outside {MIN_SESSION_DURATION}-{MAX_SESSION_DURATION} "
            "seconds (the console's limits)"
        )
    return duration


def session_duration(
    requested: int | None,
    subject: str,
    *,
    long_term: Callable[[], bool],
    warn: Callable[[str], None],
) -> int | None:
    """The SessionDuration to send: ``requested``, when the federation endpoint takes it.

    It takes one only for credentials of a role assumed with an IAM user's long-term keys;
    for role-chained credentials it fails the whole request, so it is left out, and said so.
    """
    if requested is None:
        return None
    check_duration(requested)
    if long_term():
        return requested
    warn(
        f"{subject}: --duration {requested} left out: the console takes a session duration "
        "only for a role assumed straight from an IAM user's long-term keys, and this role's "
        "credentials come from temporary ones (role chaining, an MFA session, SSO, "
        "credential_process or credential_source); the console session lasts as long as the "
        "credentials"
    )
    return None


# -- the federation endpoint ------------------------------------------------------------

# POSTs a request within a timeout (seconds) and returns the body of a 2xx answer. Raises
# urllib.error.HTTPError for any other status (a redirect included), and URLError, OSError or
# http.client.HTTPException when the endpoint cannot be reached or breaks off.
Send = Callable[[urllib.request.Request, float], bytes]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: the session goes to one place only."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


def post(request: urllib.request.Request, timeout: float) -> bytes:
    """:data:`Send` over urllib: proxies from the environment, TLS verified, no redirects."""
    opener = urllib.request.build_opener(_NoRedirects)
    # the URL is https, or http to a loopback host: config.py checks federation_url
    with opener.open(request, timeout=timeout) as answer:
        body: bytes = answer.read(MAX_ANSWER)
    return body


class SigninRefusedError(FederationError):
    """The endpoint answered getSigninToken with an HTTP error ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FederationEndpoint:
    url: str
    timeout: float
    send: Send = post

    def signin_token(self, credentials: Credentials, subject: str, duration: int | None) -> str:
        """getSigninToken: the credentials (and SessionDuration) for a sign-in token."""
        where = f"the federation endpoint {self.url}"
        if credentials.session_token is None:
            raise FederationError(
                f"{subject}: {where} takes temporary credentials only, and these have no "
                "session token"
            )
        form = {"Action": "getSigninToken"}
        if duration is not None:
            form["SessionDuration"] = str(duration)
        form["Session"] = session_json(credentials)
        request = urllib.request.Request(  # noqa: S310 - https, or http to loopback only
            self.url,
            data=urllib.parse.urlencode(form).encode("ascii"),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": f"rolehop/{__version__}",
            },
        )
        log.debug("getSigninToken via %s, SessionDuration %s", self.url, duration)
        try:
            body = self.send(request, self.timeout)
        except urllib.error.HTTPError as error:
            error.close()
            hint = " (expired credentials? try --refresh)" if error.code in (400, 403) else ""
            raise SigninRefusedError(
                f"{subject}: {where} refused getSigninToken: HTTP {error.code} {error.reason}"
                + hint,
                error.code,
            ) from None
        except urllib.error.URLError as error:
            raise NetworkError(
                f"{subject}: cannot reach {where} to get a console sign-in token: {error.reason}"
            ) from None
        except (OSError, http.client.HTTPException) as error:
            raise NetworkError(
                f"{subject}: {where} broke off getSigninToken: {type(error).__name__}: {error}"
            ) from None
        return _signin_token(body, f"{subject}: {where}")


def _signin_token(body: bytes, who: str) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    token = document.get("SigninToken") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token:
        raise FederationError(
            f'{who} answered getSigninToken without a SigninToken (expected {{"SigninToken": '
            f"...}}, got {len(body)} bytes of something else)"
        )
    redact.register(token)
    return token


# -- rolehop login ----------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """A console sign-in URL and what it opens.

    ``url`` carries a bearer token (anyone holding it signs in, for 15 minutes), so it is
    kept out of ``repr``.
    """

    profile: str
    url: str = field(repr=False)
    destination: str
    federation_url: str
    session_duration: int | None  # as sent; None: the console session lasts as the credentials
    expiration: datetime | None  # of the credentials


def federation_url(
    config: Config, where: Partition, subject: str, warn: Callable[[str], None]
) -> str:
    """Where ``login`` sends the credentials: the role's partition's console sign-in, or
    ``federation_url`` when it is that too (in any region) or a loopback stand-in. Any other
    endpoint only with ``allow_custom_federation_url``, and then with a warning each time."""
    settings = config.settings
    url = settings.federation_url
    if url is None:
        return where.federation_url
    own = signin_partition(where.federation_url)
    if local_stand_in(url) or signin_partition(url) == own:
        return url
    if not settings.allow_custom_federation_url:  # an AWS sign-in, of another partition
        raise ConfigError(
            f"{url!r} is the console sign-in of partition {signin_partition(url)}, and "
            f"{subject} is a role in partition {own}: set allow_custom_federation_url = true "
            "to send its credentials there all the same",
            path=config.path,
            line=settings.lines.get("federation_url"),
            key="settings.federation_url",
        )
    host = urllib.parse.urlsplit(url).hostname
    warn(
        f"{subject}: sending its credentials to {host}, which is not AWS's console sign-in "
        f"for partition {own} (allow_custom_federation_url in {config.path})"
    )
    return url


def _role_of(ctx: Context, name: str, subject: str) -> tuple[str, str | None]:
    """The role (its ARN, or one of its partition) whose credentials sign in, and the
    region of the console: a role profile's, or a base profile's whose credentials are a
    role's (a permission set's, a web identity's). An IAM user's keys and sessions made
    from them cannot sign in to the console."""
    if not is_base(ctx, name):
        profile = ctx.config.profile(name)
        return profile.role_arn, ctx.config.region_for(profile, ctx.environ)
    target = chains.build_base(ctx.config, name, ctx.environ)
    sso = target.base.sso
    if target.role_arn:
        return target.role_arn, target.region
    if sso is not None:
        region = sso.role.session.region
        name_of = "aws-cn" if region.startswith("cn-") else "aws"
        name_of = "aws-us-gov" if region.startswith("us-gov-") else name_of
        # the permission set's role is AWSReservedSSO_...: only its partition matters here
        return f"arn:{name_of}:iam::{sso.role.account_id}:role/{sso.role.role_name}", (
            target.region or ctx.config.settings.default_region or region
        )
    raise UsageError(
        f"{subject} is a base profile whose credentials are not a role's: the console signs "
        "in with a role's credentials only (name a role profile that starts from it)"
    )


def login(
    ctx: Context,
    name: str,
    *,
    destination: str | None = None,
    duration: int | None = None,
    refresh: bool = False,
    mfa_token: str | None = None,
    send: Send = post,
) -> Login:
    """``rolehop login``: NAME's credentials, resolved as every command resolves them (cache,
    chain, MFA), traded for a console sign-in URL."""
    subject = f"profile {name!r}"
    config = ctx.config
    # every mistake that needs no AWS call is found before the credentials are made
    role_arn, region = _role_of(ctx, name, subject)
    where = partition(role_arn, subject)
    target = destination_url(where.console_host, region, destination)
    if duration is not None:
        check_duration(duration)
    url = federation_url(config, where, subject, ctx.warn)
    resolution = resolve(ctx, name, refresh=refresh, mfa_token=mfa_token)
    sent = session_duration(
        duration,
        subject,
        long_term=lambda: from_long_term_keys(resolution.chain, lambda: stored_names(ctx)),
        warn=ctx.warn,
    )
    settings = config.settings
    endpoint = FederationEndpoint(
        url,
        max(settings.sts_connect_timeout, settings.sts_read_timeout),
        send,
    )
    credentials = resolution.credentials
    try:
        token = endpoint.signin_token(credentials, subject, sent)
    except SigninRefusedError as refused:
        if sent is None or refused.status != 400:
            raise
        # what rolehop took for long-term keys was not (a session token in an AWS profile)
        ctx.warn(
            f"{subject}: the federation endpoint refused SessionDuration {sent}; signing in "
            "without it: the console session lasts as long as the credentials"
        )
        sent = None
        token = endpoint.signin_token(credentials, subject, None)
    return Login(
        profile=name,
        url=login_url(endpoint.url, token, target),
        destination=target,
        federation_url=endpoint.url,
        session_duration=sent,
        expiration=credentials.expiration,
    )
