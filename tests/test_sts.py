"""What rolehop makes of STS's answers (``rolehop.aws.sts``, the only module that talks to
STS): one clear error each, naming profile, role and caller, with its exit code
(``rolehop.errors``); role chaining found out from STS's answer and retried at 1 hour; and
the STS client factory.

Real boto3 STS clients with botocore's ``Stubber`` are handed to the context through the
``world`` fixture: every call is checked parameter by parameter, and a call that was not
queued fails (an empty Stubber raises). The clock and the keyring cache are injected too.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from rolehop.aws.sts import Boto3StsClientFactory
from rolehop.common.creds import Credentials
from rolehop.engine.resolve import resolve
from rolehop.errors import (
    AccessDeniedError,
    ProfileNotFoundError,
    RolehopError,
    SourceCredentialsError,
    StsError,
)
from rolehop.stores.cache import NullCache
from tests.support.stubs import (
    CHAIN_CONFIG,
    COMPANY_ROLE,
    JOE_ARN,
    JOE_CREDENTIALS,
    NOW,
    RESEARCH_ROLE,
    StubWorld,
    issue,
    joe,
    params,
)

# every test's world: joe's keys in ~/.aws/credentials
pytestmark = pytest.mark.world(aws_credentials=JOE_CREDENTIALS)

STS_URL = "https://sts.us-east-1.amazonaws.com"  # the stubbed clients' endpoint


# ---------------------------------------------------------------------------------------
# errors


def _deny(stubber: Stubber, message: str = "not authorized to perform sts:AssumeRole") -> None:
    stubber.add_client_error(
        "assume_role",
        service_error_code="AccessDenied",
        service_message=message,
        http_status_code=403,
    )


def _denied_message(subject: str, role: str, caller: str, said: str) -> str:
    target = subject.split("'")[1]  # "profile 'NAME' (hop ...)": explain the whole profile
    return (
        f"{subject}: AccessDenied assuming {role} as {caller}. Both sides must agree: the "
        f"role's trust policy must trust {caller}, and that caller's own policy must allow "
        f"sts:AssumeRole on {role}. (STS said: {said}); run: rolehop explain {target}"
    )


def test_access_denied_names_profile_role_and_caller(world: StubWorld) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )

    def plan(stubber: Stubber) -> None:
        _deny(stubber, "User: joe is not authorized")
        stubber.add_response(
            "get_caller_identity",
            {"UserId": "AIDAJOE", "Account": "111111111111", "Arn": JOE_ARN},
            {},
        )

    world.sts.expect(plan)

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert str(caught.value) == _denied_message(
        "profile 'company'", COMPANY_ROLE, JOE_ARN, "User: joe is not authorized"
    )
    assert caught.value.exit_code == 5
    assert world.keyring.items == {}


def test_access_denied_without_caller_identity_says_the_source_credentials(
    world: StubWorld,
) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )

    def plan(stubber: Stubber) -> None:
        _deny(stubber, "denied")
        stubber.add_client_error("get_caller_identity", "AccessDenied", "no", 403)

    world.sts.expect(plan)

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert str(caught.value) == _denied_message(
        "profile 'company'", COMPANY_ROLE, "the source credentials", "denied"
    )


def test_access_denied_on_second_hop_names_first_hop_role_session(world: StubWorld) -> None:
    """The caller is the first hop's assumed role, known without GetCallerIdentity."""
    world.sandbox.write_rolehop(CHAIN_CONFIG)
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=2))
    world.sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=7200), company.response)
    world.sts.expect(_deny)

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "research")

    world.sts.verify()
    caller = "arn:aws:sts::111111111111:assumed-role/company-admin/rolehop-tester"
    assert str(caught.value) == _denied_message(
        "profile 'research'",
        RESEARCH_ROLE,
        caller,
        "not authorized to perform sts:AssumeRole",
    )


def test_access_denied_on_first_hop_of_chain_names_the_hop(world: StubWorld) -> None:
    world.sandbox.write_rolehop(CHAIN_CONFIG)

    def plan(stubber: Stubber) -> None:
        _deny(stubber)
        stubber.add_response(
            "get_caller_identity",
            {"UserId": "AIDAJOE", "Account": "111111111111", "Arn": JOE_ARN},
            {},
        )

    world.sts.expect(plan)

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "research")

    world.sts.verify()
    assert len(world.sts.calls) == 1
    assert str(caught.value) == _denied_message(
        "profile 'research' (hop 'company')",
        COMPANY_ROLE,
        JOE_ARN,
        "not authorized to perform sts:AssumeRole",
    )


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidClientTokenId", "SignatureDoesNotMatch"])
def test_rejected_source_credentials(world: StubWorld, code: str) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    world.sts.expect(
        lambda stubber: stubber.add_client_error("assume_role", code, "the token is bad", 403)
    )

    with pytest.raises(SourceCredentialsError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert str(caught.value) == (
        "profile 'company': STS (https://sts.us-east-1.amazonaws.com) rejected the source "
        f"credentials to assume {COMPANY_ROLE} "
        f"({code}: the token is bad)"
    )
    assert caught.value.exit_code == 6


def test_validation_error_is_an_sts_error_naming_the_role(world: StubWorld) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    world.sts.expect(
        lambda stubber: stubber.add_client_error(
            "assume_role", "ValidationError", "1 validation error detected", 400
        )
    )

    with pytest.raises(StsError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert type(caught.value) is StsError
    assert str(caught.value) == (
        f"profile 'company': AssumeRole {COMPANY_ROLE} via {STS_URL} failed: ValidationError: "
        "1 validation error detected"
    )
    assert caught.value.exit_code == 4


def test_naive_expiration_is_refused(world: StubWorld) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    company.response["Credentials"]["Expiration"] = datetime(2030, 1, 1, 13, 0)
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)

    with pytest.raises(StsError) as caught:
        resolve(world.app(), "company")

    assert str(caught.value) == ("profile 'company': STS returned an expiration without a timezone")


def test_exit_codes() -> None:
    assert RolehopError("x").exit_code == 1
    assert StsError("x").exit_code == 4
    assert AccessDeniedError("x").exit_code == 5
    assert SourceCredentialsError("x").exit_code == 6
    assert ProfileNotFoundError("x").exit_code == 3
    assert issubclass(AccessDeniedError, StsError)


# ---------------------------------------------------------------------------------------
# role chaining, found out from STS's answer: retried at 1 hour


CHAINING_MESSAGE = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
    "role chaining."
)


def test_first_hop_is_retried_at_one_hour_when_sts_calls_it_role_chaining(world: StubWorld) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        duration_seconds = 7200
        """
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))

    def plan(stubber: Stubber) -> None:
        stubber.add_client_error(
            "assume_role",
            "ValidationError",
            CHAINING_MESSAGE,
            400,
            expected_params=params(COMPANY_ROLE, DurationSeconds=7200),
        )
        stubber.add_response(
            "assume_role", company.response, params(COMPANY_ROLE, DurationSeconds=3600)
        )

    world.sts.expect(plan)

    resolution = resolve(world.app(), "company")

    world.sts.verify()
    assert len(world.sts.calls) == 1
    assert resolution.credentials == company.credentials
    assert world.warnings == [
        "profile 'company': duration_seconds 7200 lowered to 3600: the source credentials are "
        "a role session, and AWS caps a role assumed from one at 1 hour"
    ]


@pytest.mark.parametrize(
    ("duration_line", "sent", "message"),
    [
        ("", {}, CHAINING_MESSAGE),
        ("duration_seconds = 3600", {"DurationSeconds": 3600}, CHAINING_MESSAGE),
        ("duration_seconds = 7200", {"DurationSeconds": 7200}, "DurationSeconds is too long"),
    ],
)
def test_validation_errors_that_are_not_retried(
    world: StubWorld, duration_line: str, sent: dict[str, Any], message: str
) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        {duration_line}
        """
    )
    world.sts.expect(
        lambda stubber: stubber.add_client_error(
            "assume_role",
            "ValidationError",
            message,
            400,
            expected_params=params(COMPANY_ROLE, **sent),
        )
    )

    with pytest.raises(StsError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert str(caught.value) == (
        f"profile 'company': AssumeRole {COMPANY_ROLE} via {STS_URL} failed: "
        f"ValidationError: {message}"
    )
    assert caught.value.exit_code == 4
    assert world.warnings == []


# a first hop from a role session (SSO...) is role chaining too


LONG_ROLE = "arn:aws:iam::111122223333:role/long"
SSO_NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SSO_ROLE_RESPONSE = {
    "Credentials": {
        "AccessKeyId": "ASIAROLEEXAMPLE1",
        "SecretAccessKey": "role-secret-access-key",
        "SessionToken": "role-session-token",
        "Expiration": SSO_NOW + timedelta(hours=1),
    },
    "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn:aws:sts::111122223333:x"},
}


def _setup_sso(world: StubWorld, duration: int) -> None:
    """A role profile whose source is a role session (as SSO's): its hop is role chaining."""
    world.sandbox.write_aws_credentials(
        "[sso]\naws_access_key_id = ASIASSOEXAMPLE\naws_secret_access_key = sso-secret\n"
        "aws_session_token = sso-token\n"
    )
    world.sandbox.write_rolehop(
        f'[profiles.long]\nrole_arn = "{LONG_ROLE}"\nsource_profile = "sso"\n'
        f"duration_seconds = {duration}\n"
    )


def _resolve_long(world: StubWorld) -> Credentials:
    app = world.context(os.environ, clock=lambda: SSO_NOW, cache=NullCache())
    credentials = resolve(app, "long").credentials
    world.sts.verify()
    return credentials


def test_chaining_limit_is_retried_with_one_hour(world: StubWorld) -> None:
    _setup_sso(world, 43200)
    base = {"RoleArn": LONG_ROLE, "RoleSessionName": "rolehop-tester"}

    def plan(stubber: Stubber) -> None:
        stubber.add_client_error(
            "assume_role",
            service_error_code="ValidationError",
            service_message=CHAINING_MESSAGE,
            http_status_code=400,
            expected_params={**base, "DurationSeconds": 43200},
        )
        stubber.add_response("assume_role", SSO_ROLE_RESPONSE, {**base, "DurationSeconds": 3600})

    world.sts.expect(plan)

    credentials = _resolve_long(world)

    assert credentials.access_key_id == "ASIAROLEEXAMPLE1"
    assert world.warnings == [
        "profile 'long': duration_seconds 43200 lowered to 3600: the source credentials are "
        "a role session, and AWS caps a role assumed from one at 1 hour"
    ]


def test_chaining_limit_at_one_hour_is_not_retried(world: StubWorld) -> None:
    _setup_sso(world, 3600)
    world.sts.expect(
        lambda stubber: stubber.add_client_error(
            "assume_role",
            service_error_code="ValidationError",
            service_message=CHAINING_MESSAGE,
            http_status_code=400,
        )
    )
    with pytest.raises(
        StsError,
        match=f"profile 'long': AssumeRole {LONG_ROLE} via https://sts.us-east-1.amazonaws.com "
        "failed: ValidationError",
    ):
        _resolve_long(world)


# ---------------------------------------------------------------------------------------
# the STS client factory


@pytest.mark.parametrize("variable", ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])
def test_default_factory_does_not_depend_on_aws_profile(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """The clients sign with explicit keys: a profile name in the environment (perhaps a
    rolehop-only one, unknown to botocore) must not break them."""
    monkeypatch.setenv(variable, "research")

    client = Boto3StsClientFactory()(joe(), "eu-west-1")

    assert client.meta.region_name == "eu-west-1"


def test_default_factory_signs_with_the_given_credentials() -> None:
    client: Any = Boto3StsClientFactory()(
        Credentials("ASIAFACTORY000000001", "factorySecret/0000000001", "factoryToken//01"),
        None,
    )

    frozen = client._request_signer._credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "ASIAFACTORY000000001",
        "factorySecret/0000000001",
        "factoryToken//01",
    )
    assert client.meta.region_name == "us-east-1"
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (3, 5)
    assert client.meta.config.retries["mode"] == "standard"
