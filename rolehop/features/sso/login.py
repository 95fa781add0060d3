"""``rolehop sso login``: sign in to an IAM Identity Center session, as the AWS CLI v2 does.

By default the OAuth 2.0 authorization-code grant with PKCE (S256): the browser goes to the
sso-oidc endpoint's ``/authorize`` and comes back to a one-time loopback redirect,
``http://127.0.0.1:<port>/oauth/callback``, whose ``state`` must be the one sent; the code
and the PKCE verifier then make the token. ``device_code``: the device authorization grant
(SSH, WSL, containers): a URL and a code for the user, polled at the server's interval
(slower when told ``slow_down``), until ``expiresIn``. The client registration is kept in
the keyring and registered anew only once it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from rolehop.aws import identity_center as oidc_api
from rolehop.common.redact import register
from rolehop.common.sign_in import Registration, SignIn
from rolehop.config.model import SsoSession
from rolehop.engine import access_tokens as tokens
from rolehop.engine.context import Context
from rolehop.errors import CacheError, SsoError
from rolehop.features.login.browser import OneTimeRedirect, default_browser
from rolehop.loopback import Limits, LoopbackServer, Request, Response
from rolehop.loopback.peers import same_user
from rolehop.stores import sign_ins

CALLBACK = "/oauth/callback"
REDIRECT_URI = "http://127.0.0.1" + CALLBACK  # registered without a port (RFC 8252)
DEFAULT_SCOPES = ("sso:account:access",)
CODE_TIMEOUT = 300.0  # seconds the person has to approve in the browser
SLOW_DOWN = 5  # seconds added to the polling interval on each slow_down (RFC 8628)
LIMITS = Limits(connections=32, workers=1, queued=0)

Tell = Callable[[str], None]
Browser = Callable[[str], bool]


@dataclass(frozen=True)
class Options:
    """How to sign in: the flow, whether to open a browser, and what to tell the user."""

    device_code: bool = False
    open_browser: bool = True
    export_token: bool = False
    tell: Tell = lambda message: None
    browser: Browser = default_browser
    sleep: Callable[[float], None] = time.sleep
    timeout: float = CODE_TIMEOUT


def login(ctx: Context, session: SsoSession, options: Options) -> SignIn:
    """Sign in to ``session``; the sign-in is kept in the keyring (and exported when asked)."""
    oidc = ctx.sso_clients("sso-oidc", session.region)
    # the legacy form (no sso-session) knows the device grant only, as in the AWS CLI
    device = options.device_code or session.legacy
    grant = oidc_api.DEVICE_GRANT if device else "authorization_code"
    registration = _registration(ctx, session, oidc, grant)
    if device:
        issued = _device(ctx, session, oidc, registration, options)
    else:
        issued = _authorization_code(ctx, session, oidc, registration, options)
    sign_in = SignIn(
        start_url=session.start_url,
        region=session.region,
        access_token=issued.access_token,
        expires_at=issued.expires_at,
        refresh_token=issued.refresh_token,
        client_id=registration.client_id,
        client_secret=registration.client_secret,
        registration_expires_at=registration.expires_at,
    )
    tokens.keep(ctx, session, sign_in)
    if options.export_token and not ctx.config.settings.sso_export_token:
        sign_ins.write_aws_cli(ctx.environ, session.name, sign_in)
    return sign_in


def _scopes(session: SsoSession) -> tuple[str, ...]:
    if session.legacy:
        return ()
    return session.scopes or DEFAULT_SCOPES


def _registration(ctx: Context, session: SsoSession, oidc: object, grant: str) -> Registration:
    """The client registered for this session, reused while it lasts; else a new one."""
    scopes = _scopes(session)
    try:
        kept = ctx.sign_ins.registration(session.name)
    except CacheError:
        kept = None
    if kept is not None and kept.usable(ctx.clock(), scopes, grant):
        return kept
    if session.legacy:
        grants: tuple[str, ...] = ()
    elif grant == oidc_api.DEVICE_GRANT:
        grants = (oidc_api.DEVICE_GRANT, "refresh_token")
    else:
        grants = oidc_api.CODE_GRANTS
    registration = oidc_api.register_client(
        oidc,
        scopes=scopes,
        grant_types=grants,
        issuer_url=session.start_url,
        redirect_uris=(REDIRECT_URI,) if grant == "authorization_code" else (),
    )
    ctx.sign_ins.put_registration(session.name, registration)
    return registration


def _device(
    ctx: Context,
    session: SsoSession,
    oidc: object,
    registration: Registration,
    options: Options,
) -> oidc_api.Tokens:
    """The device authorization grant: tell the user where to approve, then poll."""
    started = oidc_api.start_device_authorization(oidc, registration, session.start_url)
    options.tell(
        f"To sign in to IAM Identity Center session {session.name!r}, open "
        f"{started.verification_uri} and enter the code {started.user_code}"
    )
    if options.open_browser and not options.browser(started.verification_uri_complete):
        options.tell(f"(no browser could be started: open {started.verification_uri_complete})")
    deadline = ctx.clock().timestamp() + started.expires_in
    interval = float(max(started.interval, 1))
    while True:
        options.sleep(interval)
        try:
            return oidc_api.create_token(
                oidc,
                registration,
                oidc_api.DEVICE_GRANT,
                now=ctx.clock(),
                deviceCode=started.device_code,
            )
        except oidc_api.OidcError as error:
            if error.code == "slow_down":
                interval += SLOW_DOWN
            elif error.code != "authorization_pending":
                raise _failed(session, error) from None
        if ctx.clock().timestamp() >= deadline:
            raise SsoError(
                f"IAM Identity Center session {session.name!r}: the code was not approved "
                f"within {started.expires_in} seconds: run rolehop sso login again"
            )


def _failed(session: SsoSession, error: oidc_api.OidcError) -> SsoError:
    why = {
        "expired_token": "the code expired before it was approved",
        "access_denied": "the sign-in was denied in the browser",
    }.get(error.code, str(error))
    return SsoError(f"IAM Identity Center session {session.name!r}: {why}: sign-in failed")


def _pkce() -> tuple[str, str]:
    """A PKCE verifier (43-128 characters) and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    register(verifier)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _authorization_code(
    ctx: Context,
    session: SsoSession,
    oidc: object,
    registration: Registration,
    options: Options,
) -> oidc_api.Tokens:
    """The authorization-code grant with PKCE and a one-time loopback redirect."""
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(32)
    with Callback(state) as callback:
        redirect_uri = callback.redirect_uri
        url = oidc_api.authorize_url(
            oidc,
            registration,
            redirect_uri=redirect_uri,
            state=state,
            challenge=challenge,
            scopes=_scopes(session),
        )
        _show(session, url, options)
        code = callback.wait(options.timeout)
    return oidc_api.create_token(
        oidc,
        registration,
        "authorization_code",
        now=ctx.clock(),
        code=code,
        redirectUri=redirect_uri,
        codeVerifier=verifier,
    )


def _show(session: SsoSession, url: str, options: Options) -> None:
    """Open the authorize URL in the browser through a one-time address (its ``state`` and
    challenge stay off the browser's argv), or print it."""
    if options.open_browser:
        with OneTimeRedirect(url) as redirect:
            if options.browser(redirect.url) or redirect.wait(0):
                options.tell(
                    f"Signing in to IAM Identity Center session {session.name!r} in the browser..."
                )
                redirect.wait(options.timeout)
                return
        options.tell("(no browser could be started)")
    options.tell(
        f"To sign in to IAM Identity Center session {session.name!r}, open this URL on this "
        f"machine:\n{url}"
    )


class Callback:
    """The one-time loopback redirect: ``GET /oauth/callback?code=...&state=...``, from a
    process of this user only, with the state sent; the first such request decides."""

    def __init__(self, state: str) -> None:
        self._state = state
        self._done = threading.Event()
        self._code: str | None = None
        self._error: str | None = None
        self._server = LoopbackServer(
            self._respond, admit=same_user, limits=LIMITS, name="sso sign-in redirect"
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{CALLBACK}"

    def _respond(self, request: Request) -> Response:
        if request.method != "GET" or request.path != CALLBACK or self._done.is_set():
            return _page(404, "Not found.")
        query = dict(urllib.parse.parse_qsl(request.target.partition("?")[2]))
        if not hmac.compare_digest(query.get("state", "").encode(), self._state.encode()):
            self._error = "the redirect's state is not the one sent: refused"
        elif query.get("error"):
            self._error = f"IAM Identity Center said {query['error']}"
        elif not query.get("code"):
            self._error = "the redirect holds no authorization code"
        else:
            self._code = query["code"]
            register(self._code)
        self._done.set()
        if self._error is not None:
            return _page(400, "Sign-in failed: return to the terminal.")
        return _page(200, "Signed in to IAM Identity Center: you may close this window.")

    def wait(self, timeout: float) -> str:
        """The authorization code, once the browser came back with it."""
        if not self._done.wait(timeout):
            raise SsoError(f"no sign-in came back from the browser within {timeout:g} seconds")
        if self._code is None:
            raise SsoError(f"sign-in failed: {self._error}")
        return self._code

    def __enter__(self) -> Callback:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.server_close()
        self._thread.join(timeout=5)


def _page(status: int, text: str) -> Response:
    body = f"<!doctype html><title>rolehop</title><p>{text}</p>\n".encode()
    headers = (
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
    )
    return Response(status, headers, body)
