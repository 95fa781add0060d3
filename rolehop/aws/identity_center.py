"""The only module that talks to IAM Identity Center: its OIDC service (``sso-oidc``: client
registration, the device and authorization-code grants, refresh) and its portal (``sso``:
role credentials, accounts, logout). Maps botocore failures to rolehop errors; never puts a
token in a message.

botocore is imported lazily, and its endpoints are its own: ``AWS_ENDPOINT_URL_SSO`` and
``AWS_ENDPOINT_URL_SSO_OIDC`` move them, nothing here names a host.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rolehop.aws.clients import bounded, unscoped_session
from rolehop.common.creds import Credentials
from rolehop.common.redact import register
from rolehop.common.sign_in import Registration
from rolehop.errors import ConfigError, NetworkError, SsoError

CLIENT_NAME = "rolehop"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CODE_GRANTS = ("authorization_code", "refresh_token")
CONNECT_TIMEOUT, READ_TIMEOUT, MAX_ATTEMPTS = 3.0, 10.0, 3

# (service, region) -> a botocore client of "sso" or "sso-oidc"
SsoClients = Callable[[str, str], Any]


class OidcError(SsoError):
    """sso-oidc's OAuth error (``authorization_pending``, ``slow_down``, ``expired_token``,
    ``invalid_grant``...): ``code`` says which, for the flows that wait on some of them."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class PortalUnauthorized(SsoError):
    """The portal refused the access token (expired, revoked, logged out)."""


class Botocore:
    """Unsigned clients of one botocore session (models load once a process), with
    timeouts that fail within seconds and standard retries (throttling included)."""

    def __init__(
        self,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._session: Any = None
        self._retry = (max_attempts, connect_timeout, read_timeout)

    def __call__(self, service: str, region: str) -> Any:
        from botocore import UNSIGNED
        from botocore.config import Config

        if self._session is None:
            self._session = unscoped_session()
        config = bounded(*self._retry).merge(Config(signature_version=UNSIGNED))
        try:
            return self._session.create_client(service, region_name=region, config=config)
        except Exception as error:  # e.g. ValueError for AWS_ENDPOINT_URL_SSO=notaurl
            raise ConfigError(
                f"cannot create an {service} client (region {region}): {error}"
            ) from None


@dataclass(frozen=True)
class Tokens:
    """What CreateToken hands out."""

    access_token: str
    expires_at: datetime
    refresh_token: str | None = None


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    email: str


@contextmanager
def _calling(what: str, client: Any) -> Iterator[None]:
    """One call's failures as rolehop's errors: the service's own code and message (never
    a token: requests are not echoed), the endpoint, and the exit code of errors.py."""
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    endpoint = client.meta.endpoint_url
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        message = str(details.get("Message") or "")
        oauth = str(error.response.get("error") or "") or _oauth_code(code)
        if code == "UnauthorizedException":
            raise PortalUnauthorized(
                f"{what} via {endpoint}: the access token was refused"
            ) from None
        text = f"{what} via {endpoint} failed: {code}" + (f": {message}" if message else "")
        raise OidcError(text, oauth) from None
    except (BotoConnectionError, HTTPClientError) as error:
        raise NetworkError(
            f"cannot reach IAM Identity Center at {endpoint} to {what}: {error}"
        ) from None
    except BotoCoreError as error:
        raise SsoError(f"{what} via {endpoint} failed: {error}") from None


_OAUTH = {
    "AuthorizationPendingException": "authorization_pending",
    "SlowDownException": "slow_down",
    "ExpiredTokenException": "expired_token",
    "InvalidGrantException": "invalid_grant",
    "InvalidClientException": "invalid_client",
    "UnauthorizedClientException": "unauthorized_client",
    "AccessDeniedException": "access_denied",
    "InvalidRequestException": "invalid_request",
    "InvalidScopeException": "invalid_scope",
}


def _oauth_code(code: str) -> str:
    return _OAUTH.get(code, code)


def register_client(
    oidc: Any,
    *,
    scopes: tuple[str, ...],
    grant_types: tuple[str, ...],
    issuer_url: str,
    redirect_uris: tuple[str, ...] = (),
) -> Registration:
    """RegisterClient: a public client of rolehop's. Without ``grant_types`` (the legacy
    form) it is good for the device grant only, as IAM Identity Center decides."""
    params: dict[str, Any] = {"clientName": CLIENT_NAME, "clientType": "public"}
    if scopes:
        params["scopes"] = list(scopes)
    if grant_types:
        params.update(grantTypes=list(grant_types), issuerUrl=issuer_url)
    if redirect_uris:
        params["redirectUris"] = list(redirect_uris)
    with _calling("register a client with IAM Identity Center", oidc):
        answer = oidc.register_client(**params)
    register(answer.get("clientSecret"))
    return Registration(
        client_id=answer["clientId"],
        client_secret=answer["clientSecret"],
        expires_at=datetime.fromtimestamp(int(answer["clientSecretExpiresAt"]), UTC),
        scopes=scopes,
        grant_types=grant_types or (DEVICE_GRANT,),
    )


def start_device_authorization(
    oidc: Any, registration: Registration, start_url: str
) -> DeviceAuthorization:
    with _calling("start a device authorization", oidc):
        answer = oidc.start_device_authorization(
            clientId=registration.client_id,
            clientSecret=registration.client_secret,
            startUrl=start_url,
        )
    register(answer.get("deviceCode"))
    return DeviceAuthorization(
        device_code=answer["deviceCode"],
        user_code=answer["userCode"],
        verification_uri=answer["verificationUri"],
        verification_uri_complete=answer.get("verificationUriComplete")
        or answer["verificationUri"],
        expires_in=int(answer["expiresIn"]),
        interval=int(answer.get("interval") or 5),
    )


def authorize_url(
    oidc: Any,
    registration: Registration,
    *,
    redirect_uri: str,
    state: str,
    challenge: str,
    scopes: tuple[str, ...],
) -> str:
    """Where the browser goes in the authorization-code flow: the sso-oidc client's own
    endpoint + ``/authorize`` (an endpoint override moves it too), as the AWS CLI does."""
    query = {
        "response_type": "code",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge_method": "S256",
        "code_challenge": challenge,
    }
    if scopes:
        query["scopes"] = ",".join(scopes)
    base = str(oidc.meta.endpoint_url).rstrip("/")
    return f"{base}/authorize?{urllib.parse.urlencode(query)}"


def create_token(
    oidc: Any, registration: Registration, grant_type: str, *, now: datetime, **grant: str
) -> Tokens:
    """CreateToken with one grant (``deviceCode``, ``code``+``redirectUri``+``codeVerifier``,
    or ``refreshToken``)."""
    with _calling("get a token from IAM Identity Center", oidc):
        answer = oidc.create_token(
            clientId=registration.client_id,
            clientSecret=registration.client_secret,
            grantType=grant_type,
            **grant,
        )
    register(answer.get("accessToken"), answer.get("refreshToken"), answer.get("idToken"))
    return Tokens(
        access_token=answer["accessToken"],
        expires_at=now + timedelta(seconds=int(answer.get("expiresIn") or 3600)),
        refresh_token=answer.get("refreshToken") or None,
    )


def role_credentials(
    portal: Any, access_token: str, account_id: str, role_name: str
) -> Credentials:
    """GetRoleCredentials: the permission set's temporary credentials in ``account_id``."""
    with _calling(f"get the credentials of {role_name} in {account_id}", portal):
        answer = portal.get_role_credentials(
            roleName=role_name, accountId=account_id, accessToken=access_token
        )
    issued = answer["roleCredentials"]
    return Credentials(
        access_key_id=issued["accessKeyId"],
        secret_access_key=issued["secretAccessKey"],
        session_token=issued["sessionToken"],
        expiration=datetime.fromtimestamp(int(issued["expiration"]) / 1000, UTC),
    )


def accounts(portal: Any, access_token: str) -> list[Account]:
    """ListAccounts, every page."""
    found: list[Account] = []
    with _calling("list the accounts of the session", portal):
        for page in portal.get_paginator("list_accounts").paginate(accessToken=access_token):
            found += [
                Account(
                    item["accountId"], item.get("accountName", ""), item.get("emailAddress", "")
                )
                for item in page.get("accountList", [])
            ]
    return found


def account_roles(portal: Any, access_token: str, account_id: str) -> list[str]:
    """ListAccountRoles, every page: the permission sets' names in ``account_id``."""
    names: list[str] = []
    with _calling(f"list the roles of account {account_id}", portal):
        paginator = portal.get_paginator("list_account_roles")
        for page in paginator.paginate(accessToken=access_token, accountId=account_id):
            names += [item["roleName"] for item in page.get("roleList", [])]
    return names


def logout(portal: Any, access_token: str) -> None:
    """Logout: the portal ends the session the token belongs to."""
    with _calling("log out of IAM Identity Center", portal):
        portal.logout(accessToken=access_token)
