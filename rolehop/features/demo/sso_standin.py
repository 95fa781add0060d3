"""A local stand-in for AWS IAM Identity Center: the ``sso-oidc`` and ``sso`` (portal) services.

moto has no Identity Center. :func:`identity_center` runs an :class:`IdentityCenter` on
127.0.0.1 (a free port, threaded) for as long as its block runs; both services share its
``url``, and a real botocore client pointed at it (``endpoint_url``, or the environment's
``AWS_ENDPOINT_URL_SSO_OIDC`` and ``AWS_ENDPOINT_URL_SSO``) works unchanged: the wire format
is that of botocore's service models (rest-json; an error names its exception in
``x-amzn-errortype``, with an ``error``/``error_description`` body from sso-oidc and a
``message`` from the portal).

- sso-oidc (:mod:`rolehop.features.demo.sso_oidc`): ``POST /client/register``,
  ``/device_authorization`` and ``/token``, and two browser pages: ``GET /device?user_code=``
  approves a device code (the person in the browser), ``GET /authorize`` redirects to the
  client's loopback ``redirect_uri`` (any port, RFC 8252) with a one-time code.
- sso portal: ``GET /assignment/accounts`` and ``/assignment/roles`` (pages of
  ``page_size``), ``GET /federation/credentials``, ``POST /logout``. Role credentials are
  real ones of the moto server at ``moto_url``: those of ``AWSReservedSSO_<role>_<hex>``
  under ``/aws-reserved/sso.amazonaws.com/``, made there on first use, assumed with the
  user's name as the session name.

Times come from the injected ``clock``; every request is recorded (:class:`Call`), secrets
included. Standard library and boto3 only (with :mod:`rolehop.features.demo.sso_oidc` and
:mod:`rolehop.features.demo.sso_roles`): ``rolehop demo --sso`` runs it, and so do the tests.
"""

from __future__ import annotations

import base64
import html
import json
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rolehop.features.demo.sso_oidc import (
    ACCOUNT_ACCESS,
    DEVICE_GRANT,
    Login,
    OidcService,
    ServiceError,
    code_challenge,
    needed,
)
from rolehop.features.demo.sso_roles import MotoRoles, reserved_role_arn, reserved_role_name

__all__ = [
    "ACCOUNT_ACCESS",
    "DEVICE_GRANT",
    "Call",
    "IdentityCenter",
    "ServiceError",
    "code_challenge",
    "identity_center",
    "reserved_role_arn",
    "reserved_role_name",
]

_ROUTES = {
    ("POST", "/client/register"): "RegisterClient",
    ("POST", "/device_authorization"): "StartDeviceAuthorization",
    ("POST", "/token"): "CreateToken",
    ("GET", "/device"): "Device",
    ("GET", "/authorize"): "Authorize",
    ("GET", "/federation/credentials"): "GetRoleCredentials",
    ("GET", "/assignment/accounts"): "ListAccounts",
    ("GET", "/assignment/roles"): "ListAccountRoles",
    ("POST", "/logout"): "Logout",
}
_PAGES = {"Device", "Authorize"}
_PORTAL = {"GetRoleCredentials", "ListAccounts", "ListAccountRoles", "Logout"}
# the portal's query parameters by the model's member names
_PORTAL_QUERY = {
    "role_name": "roleName",
    "account_id": "accountId",
    "next_token": "nextToken",
    "max_result": "maxResults",
}
_BEARER = "x-amz-sso_bearer_token"
# the OAuth error code an sso-oidc exception carries in its body's "error"
_OAUTH_CODES = {
    "AuthorizationPendingException": "authorization_pending",
    "SlowDownException": "slow_down",
    "ExpiredTokenException": "expired_token",
    "InvalidGrantException": "invalid_grant",
    "InvalidClientException": "invalid_client",
    "InvalidRequestException": "invalid_request",
    "InvalidScopeException": "invalid_scope",
    "UnauthorizedClientException": "unauthorized_client",
    "UnsupportedGrantTypeException": "unsupported_grant_type",
    "InvalidClientMetadataException": "invalid_client_metadata",
    "InvalidRedirectUriException": "invalid_redirect_uri",
    "AccessDeniedException": "access_denied",
    "InternalServerException": "server_error",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Call:
    """One request: its operation (``Device`` and ``Authorize`` for the browser pages), its
    parameters by the model's member names (the pages': their query), secrets included,
    and the stand-in's time when it came."""

    operation: str
    params: dict[str, Any]
    time: datetime


@dataclass(frozen=True)
class _Answer:
    status: int
    body: str
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _page(status: int, title: str, text: str, location: str | None = None) -> _Answer:
    body = f"<!doctype html><title>{html.escape(title)}</title><p>{html.escape(text)}</p>\n"
    headers = (("Location", location),) if location else ()
    return _Answer(status, body, "text/html; charset=utf-8", headers)


@dataclass(frozen=True)
class _Account:
    name: str
    email: str
    roles: tuple[str, ...]


class IdentityCenter(OidcService):
    """The stand-in's state (thread-safe) and what it answers; ``url`` once serving.

    Knobs: those of :class:`~rolehop.features.demo.sso_oidc.OidcService` (``access_token_ttl``,
    ``device_expires_in``, ``device_interval``, ``slow_down_polls``,
    ``rotate_refresh_tokens``, ``client_secret_ttl``, ``auth_code_ttl``), ``latency`` (a
    sleep per request, seconds), ``page_size`` (the portal's pages; a smaller max_result
    wins) and ``role_credentials_ttl`` (1 h): the expiration GetRoleCredentials reports,
    by ``clock``, and the DurationSeconds it asks moto for.
    """

    def __init__(
        self,
        moto_url: str,
        *,
        region: str = "us-east-1",
        start_url: str = "https://corp.awsapps.com/start",
        clock: Callable[[], datetime] = _utc_now,
        latency: float = 0.0,
        page_size: int = 2,
        user: str = "joe",
        make_roles: bool = True,
    ) -> None:
        super().__init__(start_url, clock)
        self.region, self.latency, self.page_size, self.user = region, latency, page_size, user
        self.role_credentials_ttl = timedelta(hours=1)
        self.calls: list[Call] = []
        self._failures: dict[str, deque[ServiceError]] = {}
        self._accounts: dict[str, _Account] = {}
        self._moto = MotoRoles(moto_url, region, make=make_roles)
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint of both services."""
        assert self._url is not None, "not serving"
        return self._url

    def add_account(self, account_id: str, name: str, email: str, roles: Sequence[str]) -> None:
        """Assign the user the permission sets ``roles`` in the account ``account_id``."""
        if not (len(account_id) == 12 and account_id.isdigit()):
            raise ValueError(f"an account ID is 12 digits: {account_id!r}")
        with self._lock:
            self._accounts[account_id] = _Account(name, email, tuple(roles))

    def count(self, operation: str, *, grant_type: str | None = None) -> int:
        """How many ``operation`` requests came (CreateToken ones of ``grant_type`` only)."""
        with self._lock:
            return sum(
                call.operation == operation
                and (grant_type is None or call.params.get("grantType") == grant_type)
                for call in self.calls
            )

    def approve(self, user_code: str) -> None:
        """Approve a device authorization, as the person does in the browser."""
        problem = self.approve_device(user_code)
        if problem:
            raise LookupError(problem)

    def fail_next(self, operation: str, status: int, error: str, description: str = "") -> None:
        """Answer the next ``operation`` request with the exception ``error`` (its name,
        such as ``InternalServerException``) and HTTP ``status``, whatever it asks. Queued."""
        with self._lock:
            failure = ServiceError(error, description or error, status)
            self._failures.setdefault(operation, deque()).append(failure)

    # -- the wire --------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: str) -> _Answer:
        """Answer one HTTP request (``headers`` by lower-case name)."""
        path, _, query = target.partition("?")
        operation = _ROUTES.get((method, path))
        if operation is None:
            return _refusal("", ServiceError("UnknownOperationException", path, 404))
        try:
            params = _params(operation, query, headers, body)
        except ValueError:
            return _refusal(operation, ServiceError("SerializationException", "bad JSON"))
        with self._lock:
            self.calls.append(Call(operation, params, self.clock()))
            queued = self._failures.get(operation)
            failure = queued.popleft() if queued else None
        if self.latency:
            time.sleep(self.latency)
        try:
            if failure is not None:
                raise failure
            return self._answer(operation, params)
        except ServiceError as error:
            return _refusal(operation, error)

    def _answer(self, operation: str, params: dict[str, Any]) -> _Answer:
        if operation == "Device":
            problem = self.approve_device(params.get("user_code", ""))
            if problem:
                return _page(400, "Invalid code", problem)
            return _page(200, "Request approved", "You can close this window.")
        if operation == "Authorize":
            location = self.authorize(params)
            return _page(302, "Redirecting", location, location)
        operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "RegisterClient": self.register_client,
            "StartDeviceAuthorization": self.start_device_authorization,
            "CreateToken": self.create_token,
            "GetRoleCredentials": self._get_role_credentials,
            "ListAccounts": self._list_accounts,
            "ListAccountRoles": self._list_account_roles,
            "Logout": self._logout,
        }
        document = operations[operation](params)
        return _Answer(200, json.dumps(document) if document else "")

    # -- the portal ------------------------------------------------------------------------

    def _signed_in(self, params: dict[str, Any]) -> Login:
        login = self.signed_in(str(params.get("accessToken", "")))
        if login is None:
            raise ServiceError("UnauthorizedException", "Session token not found or invalid", 401)
        return login

    def _list_accounts(self, params: dict[str, Any]) -> dict[str, Any]:
        self._signed_in(params)
        with self._lock:
            accounts = [
                {"accountId": key, "accountName": account.name, "emailAddress": account.email}
                for key, account in self._accounts.items()
            ]
        items, next_token = self._paginate("accounts", accounts, params)
        return {"accountList": items} | next_token

    def _list_account_roles(self, params: dict[str, Any]) -> dict[str, Any]:
        needed(params, "accountId")
        self._signed_in(params)
        account_id = params["accountId"]
        with self._lock:
            account = self._accounts.get(account_id)
        if account is None:
            raise ServiceError("ResourceNotFoundException", "Account not found", 404)
        roles = [{"roleName": role, "accountId": account_id} for role in account.roles]
        items, next_token = self._paginate(f"roles/{account_id}", roles, params)
        return {"roleList": items} | next_token

    def _paginate(
        self, listing: str, items: list[dict[str, str]], params: dict[str, Any]
    ) -> tuple[list[dict[str, str]], dict[str, str]]:
        """This request's page of ``items``, and the nextToken of the rest (if any)."""
        size = self.page_size
        if "maxResults" in params:
            wanted = str(params["maxResults"])
            if not wanted.isdigit() or not 1 <= int(wanted) <= 100:
                raise ServiceError("InvalidRequestException", "max_result must be 1-100")
            size = min(size, int(wanted))
        start = 0
        if params.get("nextToken"):
            try:
                decoded = base64.urlsafe_b64decode(str(params["nextToken"])).decode()
                token_listing, offset = decoded.rsplit("|", 1)
                start = int(offset)
            except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
                raise ServiceError("InvalidRequestException", "Invalid next token") from None
            if token_listing != listing:
                raise ServiceError("InvalidRequestException", "Invalid next token")
        if start + size >= len(items):
            return items[start:], {}
        token = base64.urlsafe_b64encode(f"{listing}|{start + size}".encode()).decode()
        return items[start : start + size], {"nextToken": token}

    def _get_role_credentials(self, params: dict[str, Any]) -> dict[str, Any]:
        needed(params, "roleName", "accountId")
        self._signed_in(params)
        account_id, role = params["accountId"], params["roleName"]
        with self._lock:
            account = self._accounts.get(account_id)
        if account is None or role not in account.roles:
            # not in the model, yet what the real portal answers for a role not assigned
            raise ServiceError("ForbiddenException", "No access", 403)
        expiration = self.clock() + self.role_credentials_ttl
        seconds = min(max(int(self.role_credentials_ttl.total_seconds()), 900), 43200)
        issued = self._moto.assume(account_id, role, self.user, seconds)
        credentials = {
            "accessKeyId": issued["AccessKeyId"],
            "secretAccessKey": issued["SecretAccessKey"],
            "sessionToken": issued["SessionToken"],
            "expiration": int(expiration.timestamp() * 1000),  # epoch milliseconds
        }
        return {"roleCredentials": credentials}

    def _logout(self, params: dict[str, Any]) -> dict[str, Any]:
        self.log_out(self._signed_in(params))
        return {}


def _params(operation: str, query: str, headers: dict[str, str], body: str) -> dict[str, Any]:
    """A request's parameters, by the model's member names where it has them."""
    fields = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if operation in _PAGES:
        return dict(fields)
    if operation in _PORTAL:
        params: dict[str, Any] = {_PORTAL_QUERY.get(k, k): v for k, v in fields.items()}
        if _BEARER in headers:
            params["accessToken"] = headers[_BEARER]
        return params
    document = json.loads(body or "{}")
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def _refusal(operation: str, error: ServiceError) -> _Answer:
    """``error`` in its service's shape (a page's: a page, never a redirect)."""
    if operation in _PAGES:
        return _page(error.status, error.kind, error.description)
    if operation in _ROUTES.values() and operation not in _PORTAL:
        code = _OAUTH_CODES.get(error.kind, error.kind)
        document = {"error": code, "error_description": error.description}
    else:
        document = {"message": error.description}
    # the real services name a namespace after ":"; botocore keeps what precedes it
    kind = f"{error.kind}:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"
    return _Answer(error.status, json.dumps(document), headers=(("x-amzn-ErrorType", kind),))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.center.handle(self.command, self.path, headers, body)
        data = answer.body.encode("utf-8")
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def date_time_string(self, timestamp: float | None = None) -> str:
        return super().date_time_string(self.server.center.clock().timestamp())

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, center: IdentityCenter) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.center = center


@contextmanager
def identity_center(
    moto_url: str,
    *,
    region: str = "us-east-1",
    start_url: str = "https://corp.awsapps.com/start",
    clock: Callable[[], datetime] = _utc_now,
    latency: float = 0.0,
    page_size: int = 2,
    user: str = "joe",
    make_roles: bool = True,
) -> Iterator[IdentityCenter]:
    """An :class:`IdentityCenter` serving on 127.0.0.1 while the block runs; its role
    credentials come from the moto server at ``moto_url`` (``make_roles``: where the
    AWSReservedSSO roles are made first; an STS that needs none says false)."""
    center = IdentityCenter(
        moto_url,
        region=region,
        start_url=start_url,
        clock=clock,
        latency=latency,
        page_size=page_size,
        user=user,
        make_roles=make_roles,
    )
    server = _Server(center)
    center._url = f"http://127.0.0.1:{server.server_port}"
    # a short poll interval: stopping the server takes that long
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield center
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
