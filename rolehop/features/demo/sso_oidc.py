"""The ``sso-oidc`` half of the Identity Center stand-in (:mod:`rolehop.features.demo.sso_standin`):
an OAuth authorization server, as state and operations, without the wire.

:class:`OidcService` registers clients, starts device authorizations, answers the browser's
``/authorize`` and ``/device`` pages and issues tokens (CreateToken: device code,
authorization code with PKCE S256, refresh token). Each operation takes the request's
parameters (by the model's member names) and returns the answer's JSON document, or raises
:class:`ServiceError` naming the service's exception. The stand-in's
:class:`~rolehop.features.demo.sso_standin.IdentityCenter` adds the portal and the HTTP server.

Standard library only, like the stand-in.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ACCOUNT_ACCESS = "sso:account:access"  # the scope sso-session clients register
# a client registered without grantTypes (the device flow of legacy profiles) may use these
_DEFAULT_GRANTS = (DEVICE_GRANT, "refresh_token")
_GRANTS = {DEVICE_GRANT, "authorization_code", "refresh_token"}
_STATUS = {"InvalidClientException": 401, "InternalServerException": 500}
_USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels: no words, no 0/O or 1/I
_LOOPBACK_IPS = ("127.0.0.1", "::1")


class ServiceError(Exception):
    """An answer in the service's error shape: ``kind`` is the exception's name, ``status``
    its HTTP status (the model's: 401 for InvalidClientException, else 400 unless given)."""

    def __init__(self, kind: str, description: str, status: int | None = None) -> None:
        super().__init__(f"{kind}: {description}")
        self.kind, self.description = kind, description
        self.status = status or _STATUS.get(kind, 400)


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636): base64url of the verifier's SHA-256, without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def loopback_match(uri: str, registered: str) -> bool:
    """``uri`` is ``registered``, or both are http to the same loopback IP and path and
    differ in their port alone (RFC 8252 7.3: the client picks its port when it runs; the
    AWS CLI registers ``http://127.0.0.1/oauth/callback`` and then sends its port)."""
    if uri == registered:
        return True
    given, known = urllib.parse.urlsplit(uri), urllib.parse.urlsplit(registered)
    try:
        given.port, known.port  # noqa: B018 - a malformed port raises
    except ValueError:
        return False
    return (
        given.scheme == known.scheme == "http"
        and given.hostname == known.hostname
        and given.hostname in _LOOPBACK_IPS
        and (given.path, given.query) == (known.path, known.query)
    )


def _redirect_allowed(uri: str) -> bool:
    """https anywhere, plain http to a loopback host only."""
    parts = urllib.parse.urlsplit(uri)
    loopback = parts.hostname in (*_LOOPBACK_IPS, "localhost")
    return parts.scheme == "https" or (parts.scheme == "http" and loopback)


def needed(params: dict[str, Any], *names: str) -> None:
    """InvalidRequestException unless every one of ``names`` is given (and not empty)."""
    missing = [name for name in names if not params.get(name)]
    if missing:
        raise ServiceError("InvalidRequestException", f"missing {', '.join(missing)}")


@dataclass
class _Client:
    client_id: str
    secret: str
    secret_expires: datetime
    scopes: tuple[str, ...]
    grants: tuple[str, ...]
    redirect_uris: tuple[str, ...]


@dataclass
class _DeviceCode:
    client_id: str
    user_code: str
    expires: datetime
    approved: bool = False
    used: bool = False


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str
    challenge: str
    expires: datetime
    used: bool = False


@dataclass
class Login:
    """One sign-in: the access tokens issued for it and its refresh token die together."""

    client_id: str
    refresh_token: str | None
    alive: bool = True


class OidcService:
    """Clients, device and authorization codes, sign-ins and their tokens (thread-safe:
    ``self._lock`` guards them all).

    Knobs (attributes): ``access_token_ttl`` (1 h), the lifetime of issued access tokens;
    ``device_expires_in`` (600 s) and ``device_interval`` (1 s), StartDeviceAuthorization's
    expiresIn and interval; ``slow_down_polls`` (0): the next that many device-code polls
    are answered SlowDownException; ``rotate_refresh_tokens`` (False): a refresh answers a
    new refresh token and retires the old one; ``client_secret_ttl`` (90 days);
    ``auth_code_ttl`` (10 min).
    """

    def __init__(self, start_url: str, clock: Callable[[], datetime]) -> None:
        self.start_url, self.clock = start_url, clock
        self.access_token_ttl = timedelta(hours=1)
        self.device_expires_in, self.device_interval, self.slow_down_polls = 600, 1, 0
        self.rotate_refresh_tokens = False
        self.client_secret_ttl, self.auth_code_ttl = timedelta(days=90), timedelta(minutes=10)
        self._lock = threading.RLock()
        self._clients: dict[str, _Client] = {}
        self._devices: dict[str, _DeviceCode] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._refresh: dict[str, Login] = {}
        self._access: dict[str, tuple[Login, datetime]] = {}

    @property
    def url(self) -> str:
        raise NotImplementedError  # the server's: the verification pages are under it

    def signed_in(self, access_token: str) -> Login | None:
        """The live sign-in ``access_token`` was issued for, if it has not expired."""
        with self._lock:
            login, expires = self._access.get(access_token, (None, None))
            if login is None or expires is None or not login.alive:
                return None
            return login if self.clock() < expires else None

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far stops working (InvalidGrantException)."""
        with self._lock:
            self._refresh.clear()

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (UnauthorizedException)."""
        with self._lock:
            now = self.clock()
            self._access = {token: (login, now) for token, (login, _) in self._access.items()}

    def log_out(self, login: Login) -> None:
        """End ``login``: its access tokens and its refresh token stop working."""
        with self._lock:
            login.alive = False
            if login.refresh_token is not None:
                self._refresh.pop(login.refresh_token, None)

    # -- RegisterClient, StartDeviceAuthorization and the device page -----------------------

    def register_client(self, params: dict[str, Any]) -> dict[str, Any]:
        needed(params, "clientName", "clientType")
        if params["clientType"] != "public":
            raise ServiceError("InvalidClientMetadataException", "clientType must be public")
        grants = tuple(params.get("grantTypes") or _DEFAULT_GRANTS)
        if not set(grants) <= _GRANTS:
            raise ServiceError("UnsupportedGrantTypeException", f"grantTypes {grants}")
        redirects = tuple(params.get("redirectUris") or ())
        if not all(_redirect_allowed(uri) for uri in redirects):
            raise ServiceError("InvalidRedirectUriException", f"redirectUris {redirects}")
        if "authorization_code" in grants and not redirects:
            raise ServiceError("InvalidRequestException", "authorization_code needs redirectUris")
        scopes = tuple(params.get("scopes") or ())
        if not all(isinstance(scope, str) and scope for scope in scopes):
            raise ServiceError("InvalidScopeException", f"scopes {scopes}")
        now = self.clock()
        secret_expires = now + self.client_secret_ttl
        client_id, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        with self._lock:
            self._clients[client_id] = _Client(
                client_id, secret, secret_expires, scopes, grants, redirects
            )
        return {
            "clientId": client_id,
            "clientSecret": secret,
            "clientIdIssuedAt": int(now.timestamp()),
            "clientSecretExpiresAt": int(secret_expires.timestamp()),
        }

    def _client_for(self, params: dict[str, Any]) -> _Client:
        client = self._clients.get(str(params.get("clientId", "")))
        secret = str(params.get("clientSecret", ""))
        if client is None or not secrets.compare_digest(client.secret, secret):
            raise ServiceError("InvalidClientException", "Invalid client provided")
        if self.clock() >= client.secret_expires:
            raise ServiceError("InvalidClientException", "Client secret has expired")
        return client

    def start_device_authorization(self, params: dict[str, Any]) -> dict[str, Any]:
        needed(params, "clientId", "clientSecret", "startUrl")
        with self._lock:
            client = self._client_for(params)
            if DEVICE_GRANT not in client.grants:
                raise ServiceError("UnauthorizedClientException", "device_code not registered")
            if params["startUrl"] != self.start_url:
                raise ServiceError("InvalidRequestException", "Invalid start URL")
            taken = {device.user_code for device in self._devices.values()}
            user_code = next(code for code in iter(_user_code, None) if code not in taken)
            device_code = secrets.token_urlsafe(48)
            expires = self.clock() + timedelta(seconds=self.device_expires_in)
            self._devices[device_code] = _DeviceCode(client.client_id, user_code, expires)
        page = f"{self.url}/device"
        return {
            "deviceCode": device_code,
            "userCode": user_code,
            "verificationUri": page,
            "verificationUriComplete": f"{page}?user_code={user_code}",
            "expiresIn": self.device_expires_in,
            "interval": self.device_interval,
        }

    def approve_device(self, user_code: str) -> str | None:
        """Approve ``user_code``'s device authorization (the person in the browser); why
        not, if it cannot be."""
        with self._lock:
            device = next((d for d in self._devices.values() if d.user_code == user_code), None)
            if device is None or device.used:
                return f"no pending authorization has the code {user_code!r}"
            if self.clock() >= device.expires:
                return f"the code {user_code!r} has expired"
            device.approved = True
            return None

    # -- the authorization-code flow's browser step ------------------------------------------

    def authorize(self, params: dict[str, str]) -> str:
        """Where ``/authorize`` redirects the browser: the client's ``redirect_uri`` with a
        one-time ``code`` and the ``state`` it was given; ServiceError if it must not."""
        redirect_uri = params.get("redirect_uri", "")
        with self._lock:
            problem = self._authorize_problem(params)
            if problem:
                raise ServiceError("InvalidRequestException", problem)
            code = secrets.token_urlsafe(32)
            self._codes[code] = _AuthCode(
                params["client_id"],
                redirect_uri,
                params["code_challenge"].rstrip("="),  # the AWS CLI trims the padding
                self.clock() + self.auth_code_ttl,
            )
        answer = {"code": code} | ({"state": params["state"]} if "state" in params else {})
        joiner = "&" if urllib.parse.urlsplit(redirect_uri).query else "?"
        return redirect_uri + joiner + urllib.parse.urlencode(answer)

    def _authorize_problem(self, params: dict[str, str]) -> str | None:
        client = self._clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if params.get("response_type") != "code":
            return "response_type must be code"
        if client is None:
            return "unknown client_id"
        if "authorization_code" not in client.grants:
            return "the client did not register the authorization_code grant"
        if not any(loopback_match(redirect_uri, known) for known in client.redirect_uris):
            return f"redirect_uri {redirect_uri!r} is not one the client registered"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with code_challenge_method S256 is required"
        if not set(params.get("scopes", "").split()) <= set(client.scopes):
            return "scopes the client did not register"
        return None

    # -- CreateToken -------------------------------------------------------------------------

    def create_token(self, params: dict[str, Any]) -> dict[str, Any]:
        needed(params, "clientId", "clientSecret", "grantType")
        grant = params["grantType"]
        with self._lock:
            client = self._client_for(params)
            if grant not in _GRANTS:
                raise ServiceError("UnsupportedGrantTypeException", f"grantType {grant}")
            if grant not in client.grants:
                raise ServiceError("UnauthorizedClientException", f"{grant} not registered")
            if grant == DEVICE_GRANT:
                login = self._device_grant(client, params)
            elif grant == "authorization_code":
                login = self._code_grant(client, params)
            else:
                login = self._refresh_grant(client, params)
            access_token = "aoa" + secrets.token_urlsafe(48)
            self._access[access_token] = (login, self.clock() + self.access_token_ttl)
        answer = {
            "accessToken": access_token,
            "tokenType": "Bearer",
            "expiresIn": int(self.access_token_ttl.total_seconds()),
        }
        if login.refresh_token is not None:
            answer["refreshToken"] = login.refresh_token
        return answer

    def _new_login(self, client: _Client) -> Login:
        # sso-session clients (scope sso:account:access) may refresh; legacy ones may not
        refreshable = ACCOUNT_ACCESS in client.scopes and "refresh_token" in client.grants
        login = Login(client.client_id, _refresh_token() if refreshable else None)
        if login.refresh_token is not None:
            self._refresh[login.refresh_token] = login
        return login

    def _device_grant(self, client: _Client, params: dict[str, Any]) -> Login:
        needed(params, "deviceCode")
        device = self._devices.get(params["deviceCode"])
        if device is None or device.client_id != client.client_id or device.used:
            raise ServiceError("InvalidGrantException", "Invalid device code provided")
        if self.clock() >= device.expires:
            raise ServiceError("ExpiredTokenException", "Device code has expired")
        if self.slow_down_polls > 0:
            self.slow_down_polls -= 1
            raise ServiceError("SlowDownException", "Client is polling too quickly")
        if not device.approved:
            raise ServiceError("AuthorizationPendingException", "Authorization is pending")
        device.used = True
        return self._new_login(client)

    def _code_grant(self, client: _Client, params: dict[str, Any]) -> Login:
        needed(params, "code", "redirectUri", "codeVerifier")
        issued = self._codes.get(params["code"])
        if issued is None or issued.used or issued.client_id != client.client_id:
            raise ServiceError("InvalidGrantException", "Invalid authorization code provided")
        issued.used = True  # one attempt: a wrong verifier spends the code too
        if self.clock() >= issued.expires:
            raise ServiceError("ExpiredTokenException", "Authorization code has expired")
        if params["redirectUri"] != issued.redirect_uri:
            raise ServiceError("InvalidGrantException", "redirectUri does not match")
        if code_challenge(str(params["codeVerifier"])) != issued.challenge:
            raise ServiceError("InvalidGrantException", "codeVerifier does not match")
        return self._new_login(client)

    def _refresh_grant(self, client: _Client, params: dict[str, Any]) -> Login:
        needed(params, "refreshToken")
        login = self._refresh.get(params["refreshToken"])
        if login is None or not login.alive or login.client_id != client.client_id:
            raise ServiceError("InvalidGrantException", "Invalid refresh token provided")
        if self.rotate_refresh_tokens:
            del self._refresh[params["refreshToken"]]
            login.refresh_token = _refresh_token()
            self._refresh[login.refresh_token] = login
        return login


def _user_code() -> str:
    letters = "".join(secrets.choice(_USER_CODE_LETTERS) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def _refresh_token() -> str:
    return "aor" + secrets.token_urlsafe(48)
