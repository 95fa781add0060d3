"""``rolehop login``'s parts: the federation endpoint, SessionDuration rules, the login URL,
the ``federation_url`` setting and the one-time redirect that keeps the URL out of argv.

The federation endpoint is :mod:`tests.support.federation`'s fake, over real HTTP; STS is
stubbed (:class:`tests.support.stubs.StubSts`).
"""

from __future__ import annotations

import http.client
import os
import socket
import textwrap
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from rolehop.common import redact
from rolehop.common.creds import Credentials
from rolehop.config import files as configs
from rolehop.engine import chain as chains
from rolehop.engine.context import Context
from rolehop.errors import (
    ConfigError,
    FederationError,
    NetworkError,
    ProfileNotFoundError,
    RolehopError,
    UsageError,
)
from rolehop.features.login import federation
from rolehop.features.login.browser import OneTimeRedirect, open_in_browser
from rolehop.features.login.federation import FederationEndpoint, SigninRefusedError
from rolehop.loopback import Link
from rolehop.loopback.peers import FromTables, OwnerLookup, SameUser
from tests.conftest import Sandbox
from tests.support.cli import CONFIG
from tests.support.federation import SESSION_KEYS, FakeFederation, fake_federation
from tests.support.leaks import Secrets
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_CREDENTIALS,
    NOW,
    RESEARCH_ROLE,
    StubWorld,
    issue,
    params,
)

# login's tests, through the core (the world fixture): joe's keys in ~/.aws/credentials
pytestmark = pytest.mark.world(aws_credentials=JOE_CREDENTIALS)

CN_ROLE = "arn:aws-cn:iam::111111111111:role/company-admin"
GOV_ROLE = "arn:aws-us-gov:iam::111111111111:role/company-admin"
CREDENTIALS = Credentials(
    "ASIAFEDERATION000001",
    "federation-secret-access-key/0123456789abcdef",
    "federation-session-token+FwoGZXIvYXdzEJr//////////wEaDA==",
    NOW + timedelta(hours=1),
)
SUBJECT = "profile 'company'"


@pytest.fixture
def fake() -> Iterator[FakeFederation]:
    with fake_federation() as running:
        yield running


def secrets_of(credentials: Credentials, *more: str) -> Secrets:
    found = Secrets()
    found.add("SecretAccessKey", credentials.secret_access_key)
    found.add("SessionToken", credentials.session_token)
    for number, value in enumerate(more):
        found.add(f"secret {number}", value)
    return found


# -- partitions, destinations, the login URL ---------------------------------------------


@pytest.mark.parametrize(
    ("role_arn", "federation_url", "console"),
    [
        (COMPANY_ROLE, "https://signin.aws.amazon.com/federation", "console.aws.amazon.com"),
        (CN_ROLE, "https://signin.amazonaws.cn/federation", "console.amazonaws.cn"),
        (
            GOV_ROLE,
            "https://signin.amazonaws-us-gov.com/federation",
            "console.amazonaws-us-gov.com",
        ),
    ],
)
def test_the_role_arn_picks_the_partition(role_arn: str, federation_url: str, console: str) -> None:
    assert federation.partition(role_arn, SUBJECT) == federation.Partition(federation_url, console)


def test_an_unknown_partition_is_refused() -> None:
    with pytest.raises(UsageError) as refused:
        federation.partition("arn:aws-iso:iam::111111111111:role/x", SUBJECT)
    assert str(refused.value).startswith("profile 'company': no console sign-in is known for ")
    assert "'aws-iso'" in str(refused.value)


@pytest.mark.parametrize(
    ("console", "region", "expected"),
    [
        (
            "console.aws.amazon.com",
            "eu-west-1",
            "https://console.aws.amazon.com/console/home?region=eu-west-1",
        ),
        ("console.aws.amazon.com", None, "https://console.aws.amazon.com/console/home"),
        (
            "console.amazonaws.cn",
            "cn-north-1",
            "https://console.amazonaws.cn/console/home?region=cn-north-1",
        ),
    ],
)
def test_the_default_destination_is_the_console_home_in_the_region(
    console: str, region: str | None, expected: str
) -> None:
    assert federation.destination_url(console, region) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/s3/home?region=eu-west-1", "https://console.aws.amazon.com/s3/home?region=eu-west-1"),
        (
            "https://eu-west-1.console.aws.amazon.com/ec2/",
            "https://eu-west-1.console.aws.amazon.com/ec2/",
        ),
    ],
)
def test_a_destination_is_a_url_or_a_path_on_the_console(given: str, expected: str) -> None:
    assert federation.destination_url("console.aws.amazon.com", "us-east-1", given) == expected


@pytest.mark.parametrize(
    "given", ["s3/home", "http://console.aws.amazon.com/", "javascript:alert(1)", "https://[x"]
)
def test_a_bad_destination_is_refused(given: str) -> None:
    with pytest.raises(UsageError, match="is neither an https URL nor a path on the console"):
        federation.destination_url("console.aws.amazon.com", None, given)


def test_the_login_url_carries_the_token_and_the_destination() -> None:
    token = "a+b/c=d&e f"  # what form encoding must survive
    url = federation.login_url(
        "https://signin.aws.amazon.com/federation", token, "https://console.aws.amazon.com/a?b=c"
    )
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "signin.aws.amazon.com",
        "/federation",
    )
    assert urllib.parse.parse_qsl(parts.query) == [
        ("Action", "login"),
        ("Issuer", "rolehop"),
        ("Destination", "https://console.aws.amazon.com/a?b=c"),
        ("SigninToken", token),
    ]


# -- SessionDuration ---------------------------------------------------------------------

CHAINS = f"""\
    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"

    [profiles.research]
    role_arn = "{RESEARCH_ROLE}"
    source_profile = "company"

    [profiles.with-mfa]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe-mfa"

    [profiles.joe-mfa]
    mfa_serial = "arn:aws:iam::111111111111:mfa/joe"

    [profiles.from-env]
    role_arn = "{COMPANY_ROLE}"
    credential_source = "Environment"

    [profiles.from-sso]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "sso"

    [profiles.from-keyring]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "vault"

    [profiles.vault]
    """


@pytest.mark.parametrize(
    ("name", "long_term"),
    [
        ("company", True),  # joe's static keys in ~/.aws/credentials
        ("from-keyring", True),  # keys stored with `rolehop keys add vault`
        ("research", False),  # role chaining
        ("with-mfa", False),  # from an MFA session: GetSessionToken's credentials
        ("from-env", False),  # credential_source: unknown, perhaps temporary
        ("from-sso", False),  # SSO: a role session already
    ],
)
def test_which_credentials_come_straight_from_long_term_keys(
    sandbox: Sandbox, name: str, long_term: bool
) -> None:
    sandbox.write_aws_credentials(JOE_CREDENTIALS)
    with sandbox.aws_credentials.open("a") as credentials:  # long-term keys: the MFA decides
        credentials.write(
            "[joe-mfa]\naws_access_key_id = AKIAJOEMFA0000000001\n"
            "aws_secret_access_key = joe-mfa-secret-access-key-00000000001\n"
        )
    sandbox.write_aws_config(
        "[profile sso]\nsso_start_url = https://example.awsapps.com/start\n"
        "sso_region = eu-west-1\nsso_account_id = 111111111111\nsso_role_name = admin\n"
    )
    sandbox.write_rolehop(CHAINS)
    config = configs.load(os.environ)
    stored = {"vault"}
    chain = chains.build(config, name, os.environ, lambda: stored)
    assert federation.from_long_term_keys(chain, lambda: stored) is long_term


def test_the_keyring_is_asked_only_when_it_decides(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials(JOE_CREDENTIALS)
    sandbox.write_rolehop(CHAINS)
    chain = chains.build(configs.load(os.environ), "research", os.environ)
    assert not federation.from_long_term_keys(chain, lambda: pytest.fail("keyring asked"))


def test_session_duration_is_sent_only_for_long_term_keys() -> None:
    warnings: list[str] = []

    def never() -> bool:
        raise AssertionError("not asked when no duration is requested")

    assert federation.session_duration(None, SUBJECT, long_term=never, warn=warnings.append) is None
    assert (
        federation.session_duration(3600, SUBJECT, long_term=lambda: True, warn=warnings.append)
        == 3600
    )
    assert warnings == []
    chained = federation.session_duration(
        3600, SUBJECT, long_term=lambda: False, warn=warnings.append
    )
    assert chained is None
    assert len(warnings) == 1
    assert warnings[0].startswith("profile 'company': --duration 3600 left out: ")
    assert "role chaining" in warnings[0]


@pytest.mark.parametrize("duration", [899, 43201, 0])
def test_session_duration_has_the_console_limits(duration: int) -> None:
    with pytest.raises(UsageError, match="outside 900-43200 seconds"):
        federation.session_duration(duration, SUBJECT, long_term=lambda: True, warn=print)


# -- the federation endpoint ---------------------------------------------------------------


def endpoint(url: str, timeout: float = 5) -> FederationEndpoint:
    return FederationEndpoint(url, timeout)


def test_the_session_is_posted_never_put_in_a_url(fake: FakeFederation) -> None:
    token = endpoint(fake.url).signin_token(CREDENTIALS, SUBJECT, None)
    assert token == fake.token
    [request] = fake.requests
    assert (request.method, request.path, request.query) == ("POST", "/federation", {})
    assert sorted(request.form) == ["Action", "Session"]
    assert request.form["Action"] == "getSigninToken"
    assert request.session == {
        "sessionId": CREDENTIALS.access_key_id,
        "sessionKey": CREDENTIALS.secret_access_key,
        "sessionToken": CREDENTIALS.session_token,
    }
    assert set(request.session) == SESSION_KEYS
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert redact.redact(f"token {token}") == "token ****"  # the token is a known secret now


def test_session_duration_goes_with_the_session(fake: FakeFederation) -> None:
    endpoint(fake.url).signin_token(CREDENTIALS, SUBJECT, 7200)
    assert fake.requests[0].session_duration == "7200"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, "<html>Invalid credentials parameter</html>", "refused getSigninToken: HTTP 400"),
        (403, "", "refused getSigninToken: HTTP 403"),
        (500, "Internal error", "refused getSigninToken: HTTP 500"),
        (200, "<html>Sign in</html>", "answered getSigninToken without a SigninToken"),
        (200, '{"Something": "else"}', "answered getSigninToken without a SigninToken"),
        (200, '{"SigninToken": ""}', "answered getSigninToken without a SigninToken"),
        (200, '["SigninToken"]', "answered getSigninToken without a SigninToken"),
    ],
)
def test_a_failing_endpoint_is_one_clear_error_without_secrets(
    fake: FakeFederation, status: int, body: str, expected: str
) -> None:
    fake.fail_next(status, body + CREDENTIALS.secret_access_key)  # an echo is not repeated
    with pytest.raises(FederationError) as failed:
        endpoint(fake.url).signin_token(CREDENTIALS, SUBJECT, None)
    message = str(failed.value)
    assert failed.value.exit_code == 11
    assert message.startswith(f"profile 'company': the federation endpoint {fake.url} ")
    assert expected in message
    assert "\n" not in message
    assert secrets_of(CREDENTIALS).found_in(message) == []
    assert "sessionKey" not in message
    if status != 200:
        assert isinstance(failed.value, SigninRefusedError)
        assert failed.value.status == status


def test_a_redirect_is_not_followed(fake: FakeFederation) -> None:
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("Location", fake.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/federation"
        with pytest.raises(FederationError, match="refused getSigninToken: HTTP 302"):
            endpoint(url).signin_token(CREDENTIALS, SUBJECT, None)
    finally:
        server.shutdown()
        server.server_close()
    assert fake.requests == []  # neither the session nor a bare GET went there


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_endpoint_is_a_network_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/federation"
    with pytest.raises(NetworkError) as failed:
        endpoint(url).signin_token(CREDENTIALS, SUBJECT, None)
    assert failed.value.exit_code == 7
    assert str(failed.value).startswith(
        f"profile 'company': cannot reach the federation endpoint {url} to get a console "
        "sign-in token: "
    )
    assert secrets_of(CREDENTIALS).found_in(str(failed.value)) == []


def test_a_silent_endpoint_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/federation"
        started = time.monotonic()
        with pytest.raises(NetworkError, match="timed out"):
            endpoint(url, timeout=0.3).signin_token(CREDENTIALS, SUBJECT, None)
    assert time.monotonic() - started < 5


def test_long_term_keys_are_not_sent(fake: FakeFederation) -> None:
    keys = Credentials("AKIAJOE0000000000001", "joe-secret-access-key-0000000000000001")
    with pytest.raises(FederationError, match="takes temporary credentials only"):
        endpoint(fake.url).signin_token(keys, SUBJECT, None)
    assert fake.requests == []


# -- login: through the core -----------------------------------------------------------


def login_context(world: StubWorld) -> Context:
    """The world's context over os.environ, with rolehop's own cache (as ``login`` has it)."""
    return world.context(os.environ, cache=None)


def federated(world: StubWorld, fake: FakeFederation) -> Context:
    """joe -> company (eu-west-1) -> research, and china; login's endpoint is the fake."""
    china = f'[profiles.china]\nrole_arn = "{CN_ROLE}"\nsource_profile = "joe"\n'
    world.sandbox.write_rolehop(
        f'[settings]\nfederation_url = "{fake.url}"\n\n'
        + textwrap.dedent(CONFIG)
        + f'\n{china}region = "cn-north-1"\n'
    )
    return login_context(world)


def test_login_signs_in_with_the_credentials_the_core_resolves(
    world: StubWorld, fake: FakeFederation
) -> None:
    app, sts = federated(world, fake), world.sts
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    sts.expect_assume_role(params(COMPANY_ROLE), company.response)

    signed = federation.login(app, "company")

    sts.verify()
    [request] = fake.requests
    assert request.session == {
        "sessionId": company.credentials.access_key_id,
        "sessionKey": company.credentials.secret_access_key,
        "sessionToken": company.credentials.session_token,
    }
    assert request.session_duration is None
    destination = "https://console.aws.amazon.com/console/home?region=eu-west-1"
    assert signed == federation.Login(
        profile="company",
        url=federation.login_url(fake.url, fake.token, destination),
        destination=destination,
        federation_url=fake.url,
        session_duration=None,
        expiration=NOW + timedelta(hours=1),
    )
    assert fake.token not in repr(signed)
    # a second login is a cache hit: no STS call (the stub has nothing queued)
    assert federation.login(app, "company").url == signed.url
    assert len(sts.calls) == 1
    assert fake.requests[1].session == request.session


def test_login_with_a_duration_from_long_term_keys(world: StubWorld, fake: FakeFederation) -> None:
    app, sts = federated(world, fake), world.sts
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    signed = federation.login(app, "company", duration=43200, destination="/s3/home")
    assert fake.requests[0].session_duration == "43200"
    assert signed.session_duration == 43200
    assert signed.destination == "https://console.aws.amazon.com/s3/home"
    assert world.warnings == []


def test_login_leaves_the_duration_out_for_role_chaining(
    world: StubWorld, fake: FakeFederation
) -> None:
    app, sts = federated(world, fake), world.sts
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    research = issue("research", RESEARCH_ROLE, NOW + timedelta(hours=1))
    sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    sts.expect_assume_role(params(RESEARCH_ROLE), research.response)
    fake.refuse_session_duration = True  # what the real endpoint does with these

    signed = federation.login(app, "research", duration=7200)

    [request] = fake.requests
    assert request.session is not None
    assert request.session["sessionId"] == research.credentials.access_key_id
    assert request.session_duration is None
    assert signed.session_duration is None
    assert signed.destination == "https://console.aws.amazon.com/console/home"  # no region
    [warning] = world.warnings
    assert warning.startswith("profile 'research': --duration 7200 left out")


def test_a_refused_duration_is_retried_without_it(world: StubWorld, fake: FakeFederation) -> None:
    app, sts = federated(world, fake), world.sts
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    fake.refuse_session_duration = True  # e.g. joe's "keys" held a session token after all

    signed = federation.login(app, "company", duration=3600)

    assert [request.session_duration for request in fake.requests] == ["3600", None]
    assert signed.session_duration is None
    assert signed.url.endswith("&SigninToken=" + urllib.parse.quote_plus(fake.token))
    [warning] = world.warnings
    assert "refused SessionDuration 3600; signing in without it" in warning


def test_other_refusals_are_not_retried(world: StubWorld, fake: FakeFederation) -> None:
    app, sts = federated(world, fake), world.sts
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    fake.fail_next(500, "busy")
    with pytest.raises(FederationError, match="HTTP 500"):
        federation.login(app, "company", duration=3600)
    assert len(fake.requests) == 1


def test_login_in_another_partition(world: StubWorld, fake: FakeFederation) -> None:
    app, sts = federated(world, fake), world.sts
    china = issue("china", CN_ROLE, NOW + timedelta(hours=1))
    sts.expect_assume_role(params(CN_ROLE), china.response)
    signed = federation.login(app, "china")
    assert signed.destination == "https://console.amazonaws.cn/console/home?region=cn-north-1"
    assert signed.federation_url == fake.url  # federation_url wins over the partition's


def test_the_partitions_own_endpoint_without_federation_url(world: StubWorld) -> None:
    world.sandbox.write_rolehop(
        f'[profiles.china]\nrole_arn = "{CN_ROLE}"\nsource_profile = "joe"\nregion = "cn-north-1"\n'
    )
    sts = world.sts
    china = issue("china", CN_ROLE, NOW + timedelta(hours=1))
    sts.expect_assume_role(params(CN_ROLE), china.response)
    sent: list[str] = []

    def send(request: Any, timeout: float) -> bytes:
        sent.append(request.full_url)
        return b'{"SigninToken": "china-signin-token-0123456789"}'

    app = login_context(world)
    signed = federation.login(app, "china", send=send)
    assert sent == ["https://signin.amazonaws.cn/federation"]
    assert signed.url.startswith("https://signin.amazonaws.cn/federation?Action=login&")


@pytest.mark.parametrize(
    ("name", "options", "error"),
    [
        ("company", {"destination": "s3"}, UsageError),
        ("company", {"duration": 60}, UsageError),
        ("nobody", {}, ProfileNotFoundError),
    ],
)
def test_mistakes_are_found_before_any_aws_call(
    world: StubWorld, fake: FakeFederation, name: str, options: dict[str, Any], error: type
) -> None:
    app, sts = federated(world, fake), world.sts
    with pytest.raises(error):
        federation.login(app, name, **options)
    assert sts.calls == []
    assert fake.requests == []


# -- the federation_url setting ------------------------------------------------------------


AWS_SIGNIN = [
    ("https://signin.aws.amazon.com/federation", "aws"),
    ("https://SIGNIN.aws.amazon.com:443/federation", "aws"),
    ("https://us-east-2.signin.aws.amazon.com/federation", "aws"),
    ("https://ap-southeast-5.signin.aws.amazon.com/federation", "aws"),
    ("https://signin.amazonaws-us-gov.com/federation", "aws-us-gov"),
    ("https://signin.amazonaws.cn/federation", "aws-cn"),
]
LOOPBACK_STAND_INS = [
    "http://127.0.0.1:8080/federation",
    "http://127.1.2.3/federation",
    "http://[::1]:8080/federation",
    "http://localhost:8080/federation",
]
# Not AWS's console sign-in, however much they look like it: only with the setting.
CUSTOM = [
    "https://proxy.example.com:8443/aws/federation",
    "https://signin.aws.amazon.com.evil.example/federation",
    "https://evil.example/signin.aws.amazon.com",
    "https://evil.example/signin.aws.amazon.com/federation",
    "https://signin.aws.amazon.com:8443/federation",
    "https://signin.aws.amazon.com./federation",
    "https://xsignin.aws.amazon.com/federation",
    "https://evil.example.signin.aws.amazon.com/federation",
    "https://us-east-1.signin.amazonaws.cn/federation",
    "https://signin.aws.amazon.com%2eevil.example/federation",
    "https://signin.aws.amazon.com\\.evil.example/federation",
    "https://127.0.0.1/federation",
]


@pytest.mark.parametrize("url", [url for url, _ in AWS_SIGNIN] + LOOPBACK_STAND_INS)
def test_federation_url_is_read(sandbox: Sandbox, url: str) -> None:
    sandbox.write_rolehop(f"[settings]\nfederation_url = '{url}'\n")
    settings = configs.load(os.environ).settings
    assert settings.federation_url == url
    assert settings.allow_custom_federation_url is False


@pytest.mark.parametrize(("url", "partition"), AWS_SIGNIN)
def test_the_console_sign_in_hosts_of_each_partition(url: str, partition: str) -> None:
    assert configs.signin_partition(url) == partition


def test_the_partitions_own_endpoints_are_console_sign_ins() -> None:
    for name, where in federation.PARTITIONS.items():
        assert configs.signin_partition(where.federation_url) == name


@pytest.mark.parametrize("url", CUSTOM + LOOPBACK_STAND_INS)
def test_no_other_host_is_a_console_sign_in(url: str) -> None:
    assert configs.signin_partition(url) is None


@pytest.mark.parametrize("url", CUSTOM)
def test_another_host_needs_allow_custom_federation_url(sandbox: Sandbox, url: str) -> None:
    path = sandbox.write_rolehop(f"[settings]\ncache = true\nfederation_url = '{url}'\n")
    with pytest.raises(ConfigError) as failed:
        configs.load(os.environ)
    error = failed.value
    assert (error.path, error.line, error.key) == (path, 3, "settings.federation_url")
    assert error.problem.startswith(f"{url!r} is not AWS's console sign-in")
    assert error.problem.endswith("set allow_custom_federation_url = true if that is meant")
    assert str(error).startswith(f"{path}:3: key 'settings.federation_url': ")

    # the setting may come before or after federation_url
    sandbox.write_rolehop(
        f"[settings]\nfederation_url = '{url}'\nallow_custom_federation_url = true\n"
    )
    assert configs.load(os.environ).settings.federation_url == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://signin.aws.amazon.com@evil.example/federation", "user name or password"),
        ("https://evil.example@signin.aws.amazon.com/federation", "user name or password"),
        ("https://user:pw@evil.example/federation", "user name or password"),
        ("http://evil.example/federation", "plain http only to a loopback host"),
        ("http://signin.aws.amazon.com/federation", "plain http only to a loopback host"),
    ],
)
def test_the_custom_setting_allows_no_userinfo_nor_plain_http_afar(
    sandbox: Sandbox, url: str, problem: str
) -> None:
    sandbox.write_rolehop(
        f"[settings]\nallow_custom_federation_url = true\nfederation_url = '{url}'\n"
    )
    with pytest.raises(ConfigError) as failed:
        configs.load(os.environ)
    assert (failed.value.line, failed.value.key) == (3, "settings.federation_url")
    assert problem in failed.value.problem
    assert "pw" not in str(failed.value)


def test_federation_url_is_unset_by_default(sandbox: Sandbox) -> None:
    sandbox.write_rolehop("[settings]\ncache = true\n")
    assert configs.load(os.environ).settings.federation_url is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"http://signin.example.com/federation"', "plain http only to a loopback host"),
        ('"http://10.0.0.1/federation"', "plain http only to a loopback host"),
        ('"ftp://127.0.0.1/federation"', "is not an https URL"),
        ('"signin.aws.amazon.com/federation"', "is not an https URL"),
        ('"https:///federation"', "is not an https URL"),
        ('"https://user:pw@signin.aws.amazon.com/"', "must not hold a user name or password"),
        ('"https://signin.aws.amazon.com/federation?x=1"', "must have no query or fragment"),
        ('"https://signin.aws.amazon.com:http/"', "is not a URL"),
        ("443", "must be a string, not int"),
        ('"https://signin.aws.amazon.com/x\\r\\nSet-Cookie: a=b"', "control characters"),
        ('"https://signin.aws.amazon.com/a b"', "has spaces"),
    ],
)
def test_a_bad_federation_url_names_file_line_and_key(
    sandbox: Sandbox, value: str, problem: str
) -> None:
    path = sandbox.write_rolehop(f"[settings]\ncache = true\nfederation_url = {value}\n")
    with pytest.raises(ConfigError) as failed:
        configs.load(os.environ)
    error = failed.value
    assert (error.path, error.line, error.key) == (path, 3, "settings.federation_url")
    assert problem in error.problem
    assert "pw" not in str(error)


# -- which endpoint login uses --------------------------------------------------------------


def _login_context(world: StubWorld, settings: str) -> Context:
    """joe -> company (aws) and china (aws-cn), with ``settings`` as [settings]."""
    china = f'[profiles.china]\nrole_arn = "{CN_ROLE}"\nsource_profile = "joe"\n'
    world.sandbox.write_rolehop(f"[settings]\n{settings}\n" + textwrap.dedent(CONFIG) + china)
    return login_context(world)


def _forwarding_to(fake: FakeFederation, sent: list[str]) -> federation.Send:
    """A :data:`federation.Send` that notes the URL asked for and asks ``fake`` instead."""

    def send(request: urllib.request.Request, timeout: float) -> bytes:
        sent.append(request.full_url)
        request.full_url = fake.url
        return federation.post(request, timeout)

    return send


def test_a_regional_console_sign_in_of_the_partition_is_used_without_a_warning(
    world: StubWorld, fake: FakeFederation
) -> None:
    url = "https://eu-west-1.signin.aws.amazon.com/federation"
    app = _login_context(world, f'federation_url = "{url}"')
    world.sts.expect_assume_role(
        params(COMPANY_ROLE), issue("company", COMPANY_ROLE, NOW + timedelta(hours=1)).response
    )
    sent: list[str] = []
    signed = federation.login(app, "company", send=_forwarding_to(fake, sent))
    assert sent == [url]
    assert signed.url.startswith(url + "?Action=login&")
    assert world.warnings == []


def test_a_custom_endpoint_is_warned_about_at_every_login(
    world: StubWorld, sandbox: Sandbox, fake: FakeFederation
) -> None:
    url = "https://signin.example.net/federation"
    app = _login_context(world, f'federation_url = "{url}"\nallow_custom_federation_url = true')
    world.sts.expect_assume_role(
        params(COMPANY_ROLE), issue("company", COMPANY_ROLE, NOW + timedelta(hours=1)).response
    )
    sent: list[str] = []
    send = _forwarding_to(fake, sent)

    for number in (1, 2):
        federation.login(app, "company", send=send)
        assert len(world.warnings) == number  # the second login (a cache hit) warns again
    assert sent == [url, url]
    assert len(fake.requests) == 2
    warning = (
        "profile 'company': sending its credentials to signin.example.net, which is not "
        f"AWS's console sign-in for partition aws (allow_custom_federation_url in "
        f"{sandbox.rolehop_config})"
    )
    assert world.warnings == [warning, warning]


def test_the_console_sign_in_of_another_partition_is_refused_before_any_call(
    world: StubWorld, sandbox: Sandbox, fake: FakeFederation
) -> None:
    app = _login_context(
        world, 'cache = true\nfederation_url = "https://signin.aws.amazon.com/federation"'
    )
    with pytest.raises(ConfigError) as failed:
        federation.login(app, "china", send=_forwarding_to(fake, []))
    error = failed.value
    assert (error.path, error.line, error.key) == (
        sandbox.rolehop_config,
        3,
        "settings.federation_url",
    )
    assert error.problem == (
        "'https://signin.aws.amazon.com/federation' is the console sign-in of partition aws, "
        "and profile 'china' is a role in partition aws-cn: set allow_custom_federation_url "
        "= true to send its credentials there all the same"
    )
    assert world.sts.calls == []
    assert fake.requests == []


def test_the_console_sign_in_of_another_partition_with_the_setting_is_warned_about(
    world: StubWorld, fake: FakeFederation
) -> None:
    url = "https://signin.aws.amazon.com/federation"
    app = _login_context(world, f'federation_url = "{url}"\nallow_custom_federation_url = true')
    world.sts.expect_assume_role(
        params(CN_ROLE), issue("china", CN_ROLE, NOW + timedelta(hours=1)).response
    )
    sent: list[str] = []
    federation.login(app, "china", send=_forwarding_to(fake, sent))
    assert sent == [url]
    [warning] = world.warnings
    assert warning.startswith("profile 'china': sending its credentials to signin.aws.amazon.com,")
    assert "for partition aws-cn" in warning


# -- the one-time redirect -------------------------------------------------------------------

LOCATION = "https://signin.aws.amazon.com/federation?Action=login&SigninToken=secret-token"


def get(url: str) -> http.client.HTTPResponse:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=5)
    connection.request("GET", parts.path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_redirect_is_served_once_at_its_own_path() -> None:
    with OneTimeRedirect(LOCATION) as redirect:
        parts = urllib.parse.urlsplit(redirect.url)
        assert parts.hostname == "127.0.0.1"
        assert len(parts.path) > 40  # 32 random bytes
        assert LOCATION not in redirect.url and "secret-token" not in redirect.url
        elsewhere = f"http://{parts.netloc}/favicon.ico"
        assert get(elsewhere).status == 404
        assert get(redirect.url + "x").status == 404
        assert not redirect.wait(0)  # wrong paths used nothing up

        first = get(redirect.url)
        assert first.status == 302
        assert first.getheader("Location") == LOCATION
        assert first.getheader("Cache-Control") == "no-store"
        assert first.getheader("Referrer-Policy") == "no-referrer"
        assert redirect.wait(5)  # set by the server once the answer went out: just after

        again = get(redirect.url)
        assert again.status == 404
        assert again.getheader("Location") is None
        assert again.getheader("Cache-Control") == "no-store"


def test_each_redirect_has_a_new_path() -> None:
    with OneTimeRedirect(LOCATION) as one, OneTimeRedirect(LOCATION) as other:
        assert urllib.parse.urlsplit(one.url).path != urllib.parse.urlsplit(other.url).path


def test_another_users_connection_gets_no_redirect() -> None:
    asked: list[Link] = []

    def stranger(links: Sequence[Link]) -> list[bool]:
        asked.extend(links)
        return [False] * len(links)

    with OneTimeRedirect(LOCATION, allow=stranger) as redirect:
        with pytest.raises(OSError):  # closed at accept, before a byte was read
            get(redirect.url)
        assert not redirect.wait(0)
    [((peer_host, peer_port), (host, port))] = asked
    assert (host, port) == ("127.0.0.1", urllib.parse.urlsplit(redirect.url).port)
    assert peer_host == "127.0.0.1" and peer_port != port


def test_a_refused_connection_does_not_use_the_redirect_up() -> None:
    verdicts = iter([False, True])

    def first_refused(links: Sequence[Link]) -> list[bool]:
        return [next(verdicts) for _ in links]

    with OneTimeRedirect(LOCATION, allow=first_refused) as redirect:
        with pytest.raises(OSError):
            get(redirect.url)
        assert not redirect.wait(0)
        answer = get(redirect.url)
        assert (answer.status, answer.getheader("Location")) == (302, LOCATION)
        assert redirect.wait(5)


@pytest.mark.parametrize(
    "owners",
    [
        lambda links: [None] * len(links),  # sock_diag found no such socket
        FromTables(lambda: []),  # no TCP table could be read
        FromTables(lambda: ["  sl  local_address rem_address   st tx_queue rx_queue\n"]),
    ],
    ids=["sock_diag", "no table", "not in the table"],
)
def test_a_connection_whose_owner_is_unknown_is_refused(owners: OwnerLookup) -> None:
    """On Linux a connection whose owner cannot be found fails closed."""
    with OneTimeRedirect(LOCATION, allow=SameUser(owners)) as redirect:
        with pytest.raises(OSError):
            get(redirect.url)
        assert not redirect.wait(0)


def test_without_a_tcp_table_the_owner_is_not_checked() -> None:
    """macOS has no /proc/net/tcp: there the one-time address alone protects the URL."""
    with OneTimeRedirect(LOCATION, allow=SameUser(lambda links: None)) as redirect:
        assert get(redirect.url).getheader("Location") == LOCATION
        assert redirect.wait(5)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="Linux only")
def test_this_users_browser_gets_the_redirect_through_the_uid_check() -> None:
    with OneTimeRedirect(LOCATION) as redirect:  # the real check: /proc/net/tcp(6)
        started = time.monotonic()
        answer = get(redirect.url)
        assert (answer.status, answer.getheader("Location")) == (302, LOCATION)
        assert time.monotonic() - started < 1
        assert redirect.wait(5)


def test_the_server_stops_with_its_block() -> None:
    with OneTimeRedirect(LOCATION) as redirect:
        url = redirect.url
    with pytest.raises(OSError):
        get(url)


def test_open_in_browser_hands_over_the_one_time_address_only() -> None:
    given: list[str] = []
    locations: list[str | None] = []
    fetches: list[threading.Thread] = []

    def browser(url: str) -> bool:
        given.append(url)
        # a real browser comes a moment later, from another process: a thread here
        fetch = threading.Thread(target=lambda: locations.append(get(url).getheader("Location")))
        fetch.start()
        fetches.append(fetch)
        return True

    open_in_browser(LOCATION, browser=browser, timeout=5)
    for fetch in fetches:
        fetch.join(timeout=5)
    assert locations == [LOCATION]
    assert len(given) == 1 and "secret-token" not in given[0]


def test_no_browser_is_one_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(RolehopError, match=r"no browser could be started .*use --print"):
        open_in_browser(LOCATION, browser=lambda url: False, timeout=30)
    assert time.monotonic() - started < 5


def test_a_browser_that_never_comes_times_out() -> None:
    with pytest.raises(RolehopError) as failed:
        open_in_browser(LOCATION, browser=lambda url: True, timeout=0.2)
    assert str(failed.value) == (
        "no browser came for the sign-in URL within 0.2 seconds: use --print to print it instead"
    )
    assert "secret-token" not in str(failed.value)
