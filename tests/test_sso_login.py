"""``rolehop sso login``'s two flows against a stubbed sso-oidc (botocore's ``Stubber``):
the authorization code with PKCE and its one-time loopback redirect (a fake browser that
comes back like a person approving, or with the wrong state), and the device code polled
at the server's interval, slower on ``slow_down``, until ``expiresIn``. The clock is fake:
the device flow's sleeps move it."""

from __future__ import annotations

import base64
import hashlib
import http.client
import urllib.parse
from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import ANY

from rolehop.common.sign_in import Registration
from rolehop.errors import SsoError, UsageError
from rolehop.features.sso import login as flows
from rolehop.features.sso.sessions import pick
from rolehop.stores.sign_ins import KeyringSignIns
from tests.support.sso_stubs import SSO_CONFIG, START_URL, StubSso
from tests.support.stubs import NOW, StubWorld

pytestmark = pytest.mark.world(aws_config=SSO_CONFIG)

REGISTERED = {
    "clientId": "client-1",
    "clientSecret": "client-secret-1",
    "clientIdIssuedAt": int(NOW.timestamp()),
    "clientSecretExpiresAt": int((NOW + timedelta(days=90)).timestamp()),
}
TOKENS = {
    "accessToken": "access-1",
    "tokenType": "Bearer",
    "expiresIn": 28800,
    "refreshToken": "refresh-1",
}


def _get(url: str) -> tuple[int, str | None]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        answer = connection.getresponse()
        return answer.status, answer.getheader("Location")
    finally:
        connection.close()


class Person:
    """A browser and the person at it: takes the one-time redirect, reads the authorize
    URL it leads to, and comes back to the redirect URI with a code (and the state, or
    ``state`` instead when told)."""

    def __init__(self, state: str | None = None) -> None:
        self.authorize: dict[str, str] = {}
        self.state = state
        self.callback: tuple[int, str | None] | None = None

    def __call__(self, url: str) -> bool:
        status, location = _get(url)
        assert status == 302 and location is not None
        self.authorize = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        self.authorize["_url"] = location
        back = urllib.parse.urlencode(
            {"code": "the-code", "state": self.state or self.authorize["state"]}
        )
        self.callback = _get(f"{self.authorize['redirect_uri']}?{back}")
        return True


def _setup(world: StubWorld) -> tuple[Any, StubSso]:
    sso = StubSso()
    ctx = world.context(sign_ins=KeyringSignIns(world.keyring), sso_clients=sso)
    return ctx, sso


def test_authorization_code_with_pkce(world: StubWorld) -> None:
    ctx, sso = _setup(world)
    sso.expect(
        "sso-oidc",
        "register_client",
        REGISTERED,
        {
            "clientName": "rolehop",
            "clientType": "public",
            "scopes": ["sso:account:access"],
            "grantTypes": ["authorization_code", "refresh_token"],
            "issuerUrl": START_URL,
            "redirectUris": ["http://127.0.0.1/oauth/callback"],
        },
    )
    sso.expect(
        "sso-oidc",
        "create_token",
        TOKENS,
        {
            "clientId": "client-1",
            "clientSecret": "client-secret-1",
            "grantType": "authorization_code",
            "code": "the-code",
            "redirectUri": ANY,
            "codeVerifier": ANY,
        },
    )
    person = Person()
    told: list[str] = []
    signed = flows.login(
        ctx, pick(ctx.config, "corp"), flows.Options(browser=person, tell=told.append)
    )
    sso.done()
    assert (signed.access_token, signed.refresh_token) == ("access-1", "refresh-1")
    assert signed.expires_at == NOW + timedelta(hours=8)
    query = person.authorize
    assert query["_url"].startswith("https://oidc.us-east-1.amazonaws.com/authorize?")
    assert query["response_type"] == "code" and query["client_id"] == "client-1"
    assert query["code_challenge_method"] == "S256" and query["scopes"] == "sso:account:access"
    assert urllib.parse.urlsplit(query["redirect_uri"]).hostname == "127.0.0.1"
    assert urllib.parse.urlsplit(query["redirect_uri"]).path == "/oauth/callback"
    assert person.callback is not None and person.callback[0] == 200
    kept = KeyringSignIns(world.keyring).get("corp")
    assert kept is not None and kept.access_token == "access-1" and kept.client_id == "client-1"


def test_the_verifier_matches_the_challenge(world: StubWorld) -> None:
    ctx, sso = _setup(world)
    sso.expect_registration(REGISTERED)
    seen: dict[str, Any] = {}

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.update(params)

    sso.client("sso-oidc").meta.events.register(
        "provide-client-params.sso-oidc.CreateToken", record
    )
    sso.expect(
        "sso-oidc",
        "create_token",
        TOKENS,
        {
            "clientId": ANY,
            "clientSecret": ANY,
            "grantType": ANY,
            "code": ANY,
            "redirectUri": ANY,
            "codeVerifier": ANY,
        },
    )
    person = Person()
    flows.login(ctx, pick(ctx.config, "corp"), flows.Options(browser=person))
    verifier = seen["codeVerifier"]
    assert 43 <= len(verifier) <= 128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert challenge.decode() == person.authorize["code_challenge"]
    assert seen["redirectUri"] == person.authorize["redirect_uri"]


def test_a_wrong_state_is_refused(world: StubWorld) -> None:
    ctx, sso = _setup(world)
    sso.expect_registration(REGISTERED)
    person = Person(state="forged")
    with pytest.raises(SsoError, match="the redirect's state is not the one sent: refused"):
        flows.login(ctx, pick(ctx.config, "corp"), flows.Options(browser=person))
    assert person.callback is not None and person.callback[0] == 400
    assert KeyringSignIns(world.keyring).get("corp") is None  # no token asked for


def test_the_registration_is_reused_until_it_expires(world: StubWorld) -> None:
    ctx, sso = _setup(world)
    KeyringSignIns(world.keyring).put_registration(
        "corp",
        Registration(
            "kept-client",
            "kept-secret",
            NOW + timedelta(days=30),
            ("sso:account:access",),
            ("authorization_code", "refresh_token"),
        ),
    )
    sso.expect(
        "sso-oidc",
        "create_token",
        TOKENS,
        {
            "clientId": "kept-client",
            "clientSecret": "kept-secret",
            "grantType": "authorization_code",
            "code": "the-code",
            "redirectUri": ANY,
            "codeVerifier": ANY,
        },
    )
    flows.login(ctx, pick(ctx.config, "corp"), flows.Options(browser=Person()))
    sso.done()  # no RegisterClient


class Sleeps:
    """``time.sleep`` for the device flow: moves the world's clock instead."""

    def __init__(self, world: StubWorld) -> None:
        self.world = world
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.world.clock.now += timedelta(seconds=seconds)


DEVICE: dict[str, Any] = {
    "deviceCode": "device-1",
    "userCode": "ABCD-EFGH",
    "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
    "verificationUriComplete": "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
    "expiresIn": 60,
    "interval": 2,
}


def _device_setup(world: StubWorld) -> tuple[Any, StubSso]:
    ctx, sso = _setup(world)
    sso.expect(
        "sso-oidc",
        "register_client",
        REGISTERED,
        {
            "clientName": "rolehop",
            "clientType": "public",
            "scopes": ["sso:account:access"],
            "grantTypes": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            "issuerUrl": START_URL,
        },
    )
    sso.expect(
        "sso-oidc",
        "start_device_authorization",
        DEVICE,
        {
            "clientId": "client-1",
            "clientSecret": "client-secret-1",
            "startUrl": START_URL,
        },
    )
    return ctx, sso


def test_device_code_polls_slower_on_slow_down(world: StubWorld) -> None:
    ctx, sso = _device_setup(world)
    sso.refuse("sso-oidc", "create_token", "AuthorizationPendingException")
    sso.refuse("sso-oidc", "create_token", "SlowDownException")
    sso.refuse("sso-oidc", "create_token", "AuthorizationPendingException")
    sso.expect(
        "sso-oidc",
        "create_token",
        TOKENS,
        {
            "clientId": "client-1",
            "clientSecret": "client-secret-1",
            "grantType": "urn:ietf:params:oauth:grant-type:device_code",
            "deviceCode": "device-1",
        },
    )
    opened: list[str] = []
    told: list[str] = []
    sleeps = Sleeps(world)

    def browser(url: str) -> bool:
        opened.append(url)
        return True

    options = flows.Options(
        device_code=True,
        browser=browser,
        tell=told.append,
        sleep=sleeps,
    )
    signed = flows.login(ctx, pick(ctx.config, "corp"), options)
    sso.done()
    assert signed.access_token == "access-1"
    assert sleeps.slept == [2, 2, 7, 7]
    assert opened == [DEVICE["verificationUriComplete"]]
    assert "ABCD-EFGH" in told[0] and str(DEVICE["verificationUri"]) in told[0]


def test_device_code_stops_at_expires_in(world: StubWorld) -> None:
    ctx, sso = _device_setup(world)
    for _ in range(30):
        sso.refuse("sso-oidc", "create_token", "AuthorizationPendingException")
    sleeps = Sleeps(world)
    options = flows.Options(device_code=True, open_browser=False, sleep=sleeps)
    with pytest.raises(SsoError, match="the code was not approved within 60 seconds"):
        flows.login(ctx, pick(ctx.config, "corp"), options)
    assert sum(sleeps.slept) == 60


def test_device_code_expired_token(world: StubWorld) -> None:
    ctx, sso = _device_setup(world)
    sso.refuse("sso-oidc", "create_token", "ExpiredTokenException")
    options = flows.Options(device_code=True, open_browser=False, sleep=Sleeps(world))
    with pytest.raises(SsoError, match="the code expired before it was approved"):
        flows.login(ctx, pick(ctx.config, "corp"), options)


def test_a_legacy_session_signs_in_with_the_device_code(world: StubWorld) -> None:
    ctx, sso = _setup(world)
    sso.expect(
        "sso-oidc", "register_client", REGISTERED, {"clientName": "rolehop", "clientType": "public"}
    )
    sso.expect(
        "sso-oidc",
        "start_device_authorization",
        DEVICE,
        {
            "clientId": "client-1",
            "clientSecret": "client-secret-1",
            "startUrl": START_URL,
        },
    )
    sso.expect(
        "sso-oidc",
        "create_token",
        {"accessToken": "a", "expiresIn": 3600},
        {
            "clientId": ANY,
            "clientSecret": ANY,
            "grantType": ANY,
            "deviceCode": "device-1",
        },
    )
    signed = flows.login(
        ctx, pick(ctx.config, START_URL), flows.Options(open_browser=False, sleep=Sleeps(world))
    )
    assert signed.refresh_token is None
    sso.done()


def test_pick_the_only_session_or_name_one(world: StubWorld) -> None:
    ctx, _ = _setup(world)
    with pytest.raises(
        UsageError,
        match=r"2 IAM Identity Center sessions are configured: name one \(corp, https://",
    ):
        pick(ctx.config, None)
    with pytest.raises(UsageError, match="did you mean 'corp'"):
        pick(ctx.config, "crop")


def test_no_browser_prints_the_url_and_waits_for_the_redirect(world: StubWorld) -> None:
    ctx, sso = _setup(world)
    sso.expect_registration(REGISTERED)
    sso.expect(
        "sso-oidc",
        "create_token",
        TOKENS,
        {
            "clientId": ANY,
            "clientSecret": ANY,
            "grantType": "authorization_code",
            "code": "the-code",
            "redirectUri": ANY,
            "codeVerifier": ANY,
        },
    )
    told: list[str] = []

    def person_reads(message: str) -> None:  # the person opens what is printed
        told.append(message)
        url = message.rsplit("\n", 1)[-1]
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        back = urllib.parse.urlencode({"code": "the-code", "state": query["state"]})
        assert _get(f"{query['redirect_uri']}?{back}")[0] == 200

    def no_browser(url: str) -> bool:
        raise AssertionError("no browser may be started")

    options = flows.Options(open_browser=False, tell=person_reads, browser=no_browser)
    flows.login(ctx, pick(ctx.config, "corp"), options)
    sso.done()
    assert told[0].split("\n")[1].startswith("https://oidc.us-east-1.amazonaws.com/authorize?")
