"""The Identity Center stand-in (:mod:`rolehop.features.demo.sso_standin`) against real botocore
clients over HTTP: the device and authorization-code flows, refresh, logout, the portal, the
error shapes, botocore's own SSO profile through the environment's endpoints.

Role credentials need a moto server (the ``integration`` tests): rolehop's own
:func:`~rolehop.features.demo.local_aws` starts one for the module. The stand-in's clock is
a :class:`~tests.support.sso_flows.FakeClock` the tests move on.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
import pytest

from rolehop.features.demo import Emulator, local_aws
from rolehop.features.demo.sso_standin import (
    ACCOUNT_ACCESS,
    DEVICE_GRANT,
    IdentityCenter,
    code_challenge,
    reserved_role_arn,
    reserved_role_name,
)
from tests.conftest import Sandbox
from tests.support.sso_flows import (
    CALLBACK,
    COMPANY,
    NO_MOTO,
    RESEARCH,
    START,
    UNSIGNED,
    VERIFIER,
    WAREHOUSE,
    FakeClock,
    auth_code_client,
    authorize_url,
    client,
    device_login,
    fetch_once,
    keys_of,
    query_of,
    register,
    seeded_center,
    sso_user_arn,
    trusting,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def center(clock: FakeClock) -> Iterator[IdentityCenter]:
    with seeded_center(NO_MOTO, clock) as running:
        yield running


@pytest.fixture(scope="module")
def moto_server() -> Iterator[Emulator]:
    with local_aws() as emulator:
        yield emulator


@pytest.fixture
def moto_center(clock: FakeClock, moto_server: Emulator) -> Iterator[IdentityCenter]:
    with seeded_center(moto_server.url, clock) as running:
        yield running


# -- the device flow ------------------------------------------------------------------------


def test_device_flow_pends_until_the_person_approves(center: IdentityCenter) -> None:
    oidc = client("sso-oidc", center)
    keys = register(oidc)
    started = oidc.start_device_authorization(startUrl=center.start_url, **keys)
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", started["userCode"])
    assert started["verificationUri"] == f"{center.url}/device"
    assert (
        started["verificationUriComplete"] == f"{center.url}/device?user_code={started['userCode']}"
    )
    assert (started["expiresIn"], started["interval"]) == (600, 1)
    poll = {"grantType": DEVICE_GRANT, "deviceCode": started["deviceCode"], **keys}
    with pytest.raises(oidc.exceptions.AuthorizationPendingException) as pending:
        oidc.create_token(**poll)
    response = pending.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["error"] == "authorization_pending"
    with urllib.request.urlopen(started["verificationUriComplete"], timeout=10) as page:  # noqa: S310
        assert page.status == 200
    token = oidc.create_token(**poll)
    assert (token["tokenType"], token["expiresIn"]) == ("Bearer", 3600)
    assert "refreshToken" not in token  # a legacy client (no scopes) gets none
    with pytest.raises(oidc.exceptions.InvalidGrantException):
        oidc.create_token(**poll)  # a device code is good for one token
    assert center.count("CreateToken", grant_type=DEVICE_GRANT) == 3
    assert center.calls[-1].params["deviceCode"] == started["deviceCode"]


def test_slow_down_answers_the_next_polls(center: IdentityCenter) -> None:
    oidc = client("sso-oidc", center)
    keys = register(oidc)
    started = oidc.start_device_authorization(startUrl=center.start_url, **keys)
    poll = {"grantType": DEVICE_GRANT, "deviceCode": started["deviceCode"], **keys}
    center.slow_down_polls = 2
    center.approve(started["userCode"])
    for _ in range(2):
        with pytest.raises(oidc.exceptions.SlowDownException) as slow:
            oidc.create_token(**poll)
        assert slow.value.response["error"] == "slow_down"
    assert oidc.create_token(**poll)["accessToken"]


def test_a_device_code_expires(center: IdentityCenter, clock: FakeClock) -> None:
    oidc = client("sso-oidc", center)
    keys = register(oidc)
    started = oidc.start_device_authorization(startUrl=center.start_url, **keys)
    clock.advance(seconds=600)
    with pytest.raises(oidc.exceptions.ExpiredTokenException):
        oidc.create_token(grantType=DEVICE_GRANT, deviceCode=started["deviceCode"], **keys)
    with pytest.raises(LookupError, match="expired"):
        center.approve(started["userCode"])
    assert fetch_once(started["verificationUriComplete"]).status == 400


def test_a_wrong_secret_is_an_invalid_client(center: IdentityCenter) -> None:
    oidc = client("sso-oidc", center)
    keys = register(oidc) | {"clientSecret": "not-it"}
    with pytest.raises(oidc.exceptions.InvalidClientException) as refused:
        oidc.start_device_authorization(startUrl=center.start_url, **keys)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


# -- the authorization-code flow ------------------------------------------------------------


def test_authorize_redirects_to_the_loopback_port_and_the_code_makes_a_token(
    center: IdentityCenter,
) -> None:
    oidc = client("sso-oidc", center)
    keys = auth_code_client(oidc, center)
    redirect = "http://127.0.0.1:49152/oauth/callback"
    answer = fetch_once(authorize_url(center, keys["clientId"], redirect, code_challenge(VERIFIER)))
    assert answer.status == 302
    location = answer.getheader("Location") or ""
    assert location.startswith(redirect + "?")
    sent = query_of(location)
    assert sent["state"] == "4c6f2c1e-7f0b-4d8e-9a55-0d1f4b3c2a10"
    exchange = {"grantType": "authorization_code", "redirectUri": redirect, **keys}
    token = oidc.create_token(code=sent["code"], codeVerifier=VERIFIER, **exchange)
    assert token["accessToken"] and token["refreshToken"]
    with pytest.raises(oidc.exceptions.InvalidGrantException):
        oidc.create_token(code=sent["code"], codeVerifier=VERIFIER, **exchange)


def test_a_wrong_verifier_is_an_invalid_grant(center: IdentityCenter) -> None:
    oidc = client("sso-oidc", center)
    keys = auth_code_client(oidc, center)
    redirect = "http://127.0.0.1:49152/oauth/callback"
    answer = fetch_once(authorize_url(center, keys["clientId"], redirect, code_challenge(VERIFIER)))
    code = query_of(answer.getheader("Location") or "")["code"]
    with pytest.raises(oidc.exceptions.InvalidGrantException) as refused:
        oidc.create_token(
            grantType="authorization_code",
            code=code,
            redirectUri=redirect,
            codeVerifier=VERIFIER[::-1],
            **keys,
        )
    assert refused.value.response["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("change", "redirect"),
    [
        ({}, "http://localhost:49152/oauth/callback"),  # a loopback IP was registered
        ({}, "http://127.0.0.1:49152/elsewhere"),
        ({}, "https://attacker.example/oauth/callback"),
        ({"client_id": "unknown"}, "http://127.0.0.1:1/oauth/callback"),
        ({"code_challenge_method": "plain"}, "http://127.0.0.1:1/oauth/callback"),
        ({"scopes": "sso:account:access codewhisperer:x"}, "http://127.0.0.1:1/oauth/callback"),
    ],
)
def test_authorize_refuses_with_a_page_not_a_redirect(
    center: IdentityCenter, change: dict[str, str], redirect: str
) -> None:
    keys = auth_code_client(client("sso-oidc", center), center)
    url = authorize_url(center, keys["clientId"], redirect, code_challenge(VERIFIER))
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query)) | change
    answer = fetch_once(parts._replace(query=urllib.parse.urlencode(query)).geturl())
    assert (answer.status, answer.getheader("Location")) == (400, None)
    assert answer.getheader("Content-Type", "").startswith("text/html")


def test_a_device_client_may_not_authorize(center: IdentityCenter) -> None:
    keys = register(client("sso-oidc", center), scopes=[ACCOUNT_ACCESS])
    url = authorize_url(center, keys["clientId"], CALLBACK, code_challenge(VERIFIER))
    assert fetch_once(url).status == 400


# -- refresh and logout ---------------------------------------------------------------------


def test_a_refresh_token_makes_new_access_tokens_until_revoked(center: IdentityCenter) -> None:
    oidc, sso = client("sso-oidc", center), client("sso", center)
    signed_in = device_login(center, oidc, scopes=[ACCOUNT_ACCESS])
    refresh = {"grantType": "refresh_token", "refreshToken": signed_in["refreshToken"]}
    token = oidc.create_token(**refresh, **signed_in["keys"])
    assert token["accessToken"] != signed_in["accessToken"]
    assert token["refreshToken"] == signed_in["refreshToken"]
    assert sso.list_accounts(accessToken=token["accessToken"])["accountList"]
    center.revoke_refresh_tokens()
    with pytest.raises(oidc.exceptions.InvalidGrantException):
        oidc.create_token(**refresh, **signed_in["keys"])
    assert center.count("CreateToken", grant_type="refresh_token") == 2


def test_rotated_refresh_tokens_retire_the_old_one(center: IdentityCenter) -> None:
    oidc = client("sso-oidc", center)
    signed_in = device_login(center, oidc, scopes=[ACCOUNT_ACCESS])
    center.rotate_refresh_tokens = True
    refresh = {"grantType": "refresh_token", **signed_in["keys"]}
    token = oidc.create_token(refreshToken=signed_in["refreshToken"], **refresh)
    assert token["refreshToken"] != signed_in["refreshToken"]
    with pytest.raises(oidc.exceptions.InvalidGrantException):
        oidc.create_token(refreshToken=signed_in["refreshToken"], **refresh)
    assert oidc.create_token(refreshToken=token["refreshToken"], **refresh)["accessToken"]


def test_logout_ends_the_access_and_the_refresh_token(center: IdentityCenter) -> None:
    oidc, sso = client("sso-oidc", center), client("sso", center)
    signed_in = device_login(center, oidc, scopes=[ACCOUNT_ACCESS])
    sso.logout(accessToken=signed_in["accessToken"])
    assert center.calls[-1].params == {"accessToken": signed_in["accessToken"]}
    with pytest.raises(sso.exceptions.UnauthorizedException) as refused:
        sso.list_accounts(accessToken=signed_in["accessToken"])
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    with pytest.raises(oidc.exceptions.InvalidGrantException):
        oidc.create_token(
            grantType="refresh_token", refreshToken=signed_in["refreshToken"], **signed_in["keys"]
        )


def test_access_tokens_expire(center: IdentityCenter, clock: FakeClock) -> None:
    oidc, sso = client("sso-oidc", center), client("sso", center)
    first = device_login(center, oidc)["accessToken"]
    clock.advance(hours=1)
    with pytest.raises(sso.exceptions.UnauthorizedException):
        sso.list_accounts(accessToken=first)
    second = device_login(center, oidc)["accessToken"]
    assert sso.list_accounts(accessToken=second)["accountList"]
    center.expire_access_tokens()
    with pytest.raises(sso.exceptions.UnauthorizedException):
        sso.list_accounts(accessToken=second)


# -- the portal -----------------------------------------------------------------------------


def test_listings_come_in_pages(center: IdentityCenter) -> None:
    sso = client("sso", center)
    token = device_login(center, client("sso-oidc", center))["accessToken"]
    accounts = sso.get_paginator("list_accounts").paginate(accessToken=token)
    listed = [account["accountId"] for page in accounts for account in page["accountList"]]
    assert listed == [RESEARCH, COMPANY, WAREHOUSE]
    assert center.count("ListAccounts") == 2  # page_size 2
    roles = sso.get_paginator("list_account_roles").paginate(
        accessToken=token, accountId=WAREHOUSE, PaginationConfig={"PageSize": 1}
    )
    assert [role["roleName"] for page in roles for role in page["roleList"]] == ["A", "B", "C"]
    assert center.count("ListAccountRoles") == 3
    assert center.calls[-1].params["maxResults"] == "1"
    with pytest.raises(sso.exceptions.InvalidRequestException):
        sso.list_accounts(accessToken=token, nextToken="bm90IGEgdG9rZW4=")
    with pytest.raises(sso.exceptions.ResourceNotFoundException):
        sso.list_account_roles(accessToken=token, accountId="000000000000")


def test_errors_come_in_each_services_shape(center: IdentityCenter) -> None:
    request = urllib.request.Request(f"{center.url}/token", data=b"{}", method="POST")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as oidc_error:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback only
    assert oidc_error.value.headers["x-amzn-errortype"].startswith("InvalidRequestException:")
    assert set(json.loads(oidc_error.value.read())) == {"error", "error_description"}
    with pytest.raises(urllib.error.HTTPError) as portal_error:
        urllib.request.urlopen(f"{center.url}/assignment/accounts", timeout=10)  # noqa: S310
    assert portal_error.value.code == 401
    assert set(json.loads(portal_error.value.read())) == {"message"}


def test_fail_next_answers_one_request_and_botocore_retries_past_it(
    center: IdentityCenter,
) -> None:
    center.fail_next("RegisterClient", 500, "InternalServerException", "boom")
    once = client("sso-oidc", center, retries={"total_max_attempts": 1})
    with pytest.raises(once.exceptions.InternalServerException) as failed:
        register(once)
    assert failed.value.response["error_description"] == "boom"
    center.fail_next("RegisterClient", 500, "InternalServerException")
    assert register(client("sso-oidc", center))["clientId"]
    assert center.count("RegisterClient") == 3


def test_parallel_callers_each_get_their_own_sign_in(center: IdentityCenter) -> None:
    center.latency = 0.02  # the benchmarks'

    def sign_in(_: int) -> str:
        token: str = device_login(center, client("sso-oidc", center))["accessToken"]
        assert client("sso", center).list_accounts(accessToken=token)["accountList"]
        return token

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = set(pool.map(sign_in, range(16)))
    assert len(tokens) == 16
    assert center.count("CreateToken", grant_type=DEVICE_GRANT) == 16


def test_botocore_finds_both_services_through_the_environment(
    center: IdentityCenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", center.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", center.url)
    session = botocore.session.get_session()
    oidc = session.create_client("sso-oidc", region_name="eu-west-1", config=UNSIGNED)
    token = device_login(center, oidc)["accessToken"]
    sso: Any = session.create_client("sso", region_name="eu-west-1", config=UNSIGNED)
    assert len(sso.list_accounts(accessToken=token)["accountList"]) == 2
    assert [call.operation for call in center.calls] == [
        "RegisterClient",
        "StartDeviceAuthorization",
        "CreateToken",
        "ListAccounts",
    ]


# -- role credentials, from moto ------------------------------------------------------------


@pytest.mark.integration
def test_role_credentials_are_the_reserved_roles_and_hop_on(
    moto_center: IdentityCenter, moto_server: Emulator
) -> None:
    sso = client("sso", moto_center)
    token = device_login(moto_center, client("sso-oidc", moto_center))["accessToken"]
    answer = sso.get_role_credentials(accessToken=token, accountId=RESEARCH, roleName="Admin")
    issued = answer["roleCredentials"]
    assert issued["expiration"] == int((START + timedelta(hours=1)).timestamp()) * 1000
    reserved = reserved_role_name(RESEARCH, "Admin")
    assert re.fullmatch(r"AWSReservedSSO_Admin_[0-9a-f]{16}", reserved)
    sts = moto_server.client("sts", **keys_of(issued))
    assert sts.get_caller_identity()["Arn"] == sso_user_arn(RESEARCH, "Admin")
    iam = moto_server.client("iam", **moto_server.admin_of(RESEARCH))
    assert iam.get_role(RoleName=reserved)["Role"]["Arn"] == reserved_role_arn(RESEARCH, "Admin")
    target = f"Warehouse-Reader-{secrets.token_hex(4)}"  # the moto server lives on
    moto_server.client("iam", **moto_server.admin_of(WAREHOUSE)).create_role(
        RoleName=target, AssumeRolePolicyDocument=trusting(reserved_role_arn(RESEARCH, "Admin"))
    )
    hop = sts.assume_role(RoleArn=f"arn:aws:iam::{WAREHOUSE}:role/{target}", RoleSessionName="hop")[
        "Credentials"
    ]
    assert moto_server.client("sts", **keys_of(hop)).get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{WAREHOUSE}:assumed-role/{target}/hop"
    )


@pytest.mark.integration
def test_parallel_callers_share_one_reserved_role_and_others_are_forbidden(
    moto_center: IdentityCenter, moto_server: Emulator
) -> None:
    token = device_login(moto_center, client("sso-oidc", moto_center))["accessToken"]
    sso = client("sso", moto_center)

    def fetch(_: int) -> str:
        answer = sso.get_role_credentials(accessToken=token, accountId=COMPANY, roleName="ReadOnly")
        sts = moto_server.client("sts", **keys_of(answer["roleCredentials"]))
        arn: str = sts.get_caller_identity()["Arn"]
        return arn

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(fetch, range(8))) == {sso_user_arn(COMPANY, "ReadOnly")}
    with pytest.raises(botocore.exceptions.ClientError) as refused:  # not in the model
        sso.get_role_credentials(accessToken=token, accountId=COMPANY, roleName="Admin")
    error = refused.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ForbiddenException",
        403,
    )


@pytest.mark.integration
def test_a_botocore_sso_profile_refreshes_its_token_and_gets_credentials(
    moto_center: IdentityCenter,
    moto_server: Emulator,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed_in = device_login(moto_center, client("sso-oidc", moto_center), scopes=[ACCOUNT_ACCESS])
    sandbox.write_aws_config(
        f"""\
        [profile research]
        sso_session = corp
        sso_account_id = {RESEARCH}
        sso_role_name = ReadOnly

        [sso-session corp]
        sso_start_url = {moto_center.start_url}
        sso_region = us-east-1
        """
    )
    cache = sandbox.home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    cached = cache / (hashlib.sha1(b"corp", usedforsecurity=False).hexdigest() + ".json")
    token = {
        "startUrl": moto_center.start_url,
        "region": "us-east-1",
        "accessToken": signed_in["accessToken"],
        "expiresAt": "2000-01-01T00:00:00Z",  # long past: botocore refreshes it first
        "refreshToken": signed_in["refreshToken"],
        "registrationExpiresAt": "2999-01-01T00:00:00Z",
        **signed_in["keys"],
    }
    cached.write_text(json.dumps(token))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", moto_center.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", moto_center.url)
    session: Any = boto3.session.Session(profile_name="research")
    sts = session.client("sts", endpoint_url=moto_server.url, region_name="us-east-1")
    assert sts.get_caller_identity()["Arn"] == sso_user_arn(RESEARCH, "ReadOnly")
    assert moto_center.count("CreateToken", grant_type="refresh_token") == 1
    fetched = [call for call in moto_center.calls if call.operation == "GetRoleCredentials"]
    refreshed = json.loads(cached.read_text())["accessToken"]
    assert [call.params["accessToken"] for call in fetched] == [refreshed]
