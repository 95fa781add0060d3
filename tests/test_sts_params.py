"""Exactly what rolehop sends to STS, with which credentials, and what it makes of the answers.

Real boto3 STS clients with botocore's ``Stubber`` are handed to :class:`Rolehop` through its
``sts_factory``: every AssumeRole call is checked parameter by parameter, and a call that was
not queued fails (an empty Stubber raises). The clock and the keyring cache are injected too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from rolehop.aws.sts import Boto3StsClientFactory
from rolehop.common.creds import Credentials
from rolehop.engine import admin, views
from rolehop.engine.context import Context
from rolehop.engine.resolve import chain_of, resolve
from rolehop.engine.rows import ProfileSummary
from rolehop.errors import (
    AccessDeniedError,
    ProfileNotFoundError,
    RolehopError,
    SourceCredentialsError,
    StsError,
)
from rolehop.stores.cache import SERVICE
from tests.conftest import Sandbox
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_ARN,
    JOE_CREDENTIALS,
    JOE_KEY_ID,
    JOE_SECRET,
    LEGACY_ROLE,
    NOW,
    RESEARCH_ROLE,
    StubWorld,
    issue,
    params,
)

STS_URL = "https://sts.us-east-1.amazonaws.com"  # the stubbed clients' endpoint
MARGIN = timedelta(minutes=20)  # rolehop's default refresh_margin

CHAIN_CONFIG = f"""\
    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"
    duration_seconds = 7200

    [profiles.research]
    role_arn = "{RESEARCH_ROLE}"
    source_profile = "company"
    duration_seconds = 7200
    """

CLAMP_WARNING = (
    "profile 'research': duration_seconds 7200 lowered to 3600: AWS caps a role assumed "
    "with another role's credentials at 1 hour"
)


def joe() -> Credentials:
    return Credentials(JOE_KEY_ID, JOE_SECRET)


# ---------------------------------------------------------------------------------------
# fixtures


@dataclass
class World(StubWorld):
    def app(self, environ: Mapping[str, str] | None = None) -> Context:
        return self.context(environ)


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    sandbox.write_aws_credentials(JOE_CREDENTIALS)
    return World(sandbox)


# ---------------------------------------------------------------------------------------
# AssumeRole parameters


def test_minimal_profile_sends_only_role_arn_and_default_session_name(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)

    resolution = resolve(world.app(), "company")

    world.sts.verify()
    assert resolution.credentials == company.credentials
    assert world.sts.calls == [(joe(), None)]
    assert [(hop.name, hop.role_arn, hop.status) for hop in resolution.hops] == [
        ("company", COMPANY_ROLE, "miss")
    ]
    assert resolution.sts_calls == 1
    assert resolution.from_cache is False
    assert resolution.region is None
    assert world.warnings == []


@pytest.mark.parametrize(
    ("user_vars", "session"),
    [
        ({"USER": "joe"}, "rolehop-joe"),
        ({"USER": "joe.doe@corp"}, "rolehop-joe.doe@corp"),
        ({"USER": "Joe Doe/ä"}, "rolehop-Joe-Doe--"),
        ({"USER": "", "LOGNAME": "logname"}, "rolehop-logname"),
        ({"USER": "", "LOGNAME": "", "USERNAME": "winuser"}, "rolehop-winuser"),
        ({"USER": "u" * 80}, "rolehop-" + "u" * 56),
    ],
)
def test_default_session_name_is_rolehop_user(
    world: World, user_vars: dict[str, str], session: str
) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("USER", "LOGNAME", "USERNAME")
    }
    environ.update(user_vars)
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1), session=session)
    world.sts.expect_assume_role(params(COMPANY_ROLE, session), company.response)

    assert resolve(world.app(environ), "company").credentials == company.credentials
    world.sts.verify()


def test_explicit_session_name_wins_over_user(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        role_session_name = "audit.session@joe"
        """
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1), "audit.session@joe")
    world.sts.expect_assume_role(params(COMPANY_ROLE, "audit.session@joe"), company.response)

    resolve(world.app(), "company")

    world.sts.verify()


def test_every_optional_parameter_is_sent_exactly(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        external_id = "ext-123:abc/def"
        source_identity = "joe@example.com"
        duration_seconds = 7200
        region = "eu-west-1"
        policy_arns = [
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::111111111111:policy/deny-writes",
        ]

        [profiles.company.session_tags]
        team = "research"
        Cost-Center = "42"
        env = "prod"
        """
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=2))
    world.sts.expect_assume_role(
        params(
            COMPANY_ROLE,
            DurationSeconds=7200,
            ExternalId="ext-123:abc/def",
            SourceIdentity="joe@example.com",
            Tags=[
                {"Key": "Cost-Center", "Value": "42"},
                {"Key": "env", "Value": "prod"},
                {"Key": "team", "Value": "research"},
            ],
            PolicyArns=[
                {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                {"arn": "arn:aws:iam::111111111111:policy/deny-writes"},
            ],
        ),
        company.response,
    )

    resolution = resolve(world.app(), "company")

    world.sts.verify()
    assert world.sts.calls == [(joe(), "eu-west-1")]
    assert resolution.region == "eu-west-1"
    assert resolution.credentials == company.credentials


def test_aws_config_profile_parameters(world: World) -> None:
    """A role profile of ~/.aws/config: comma-separated policy_arns, string duration."""
    world.sandbox.write_aws_config(
        f"""\
        [profile legacy]
        role_arn = {LEGACY_ROLE}
        source_profile = joe
        external_id = legacy-ext
        duration_seconds = 1800
        policy_arns = arn:aws:iam::aws:policy/ReadOnlyAccess, arn:aws:iam::aws:policy/Billing
        """
    )
    legacy = issue("legacy", LEGACY_ROLE, NOW + timedelta(minutes=30))
    world.sts.expect_assume_role(
        params(
            LEGACY_ROLE,
            DurationSeconds=1800,
            ExternalId="legacy-ext",
            PolicyArns=[
                {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                {"arn": "arn:aws:iam::aws:policy/Billing"},
            ],
        ),
        legacy.response,
    )

    assert resolve(world.app(), "legacy").credentials == legacy.credentials
    world.sts.verify()


@pytest.mark.parametrize("duration", [900, 3600, 43200])
def test_configured_duration_is_sent(world: World, duration: int) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        duration_seconds = {duration}
        """
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(seconds=duration))
    world.sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=duration), company.response)

    resolve(world.app(), "company")

    world.sts.verify()


def test_chain_hops_with_previous_credentials_and_clamps_second_duration(world: World) -> None:
    world.sandbox.write_rolehop(CHAIN_CONFIG)
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=2))
    research = issue("research", RESEARCH_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=7200), company.response)
    world.sts.expect_assume_role(params(RESEARCH_ROLE, DurationSeconds=3600), research.response)

    resolution = resolve(world.app(), "research")

    world.sts.verify()
    assert world.sts.calls == [(joe(), None), (company.credentials, None)]
    assert world.sts.calls[0][0].access_key_id == JOE_KEY_ID
    assert world.sts.calls[1][0].access_key_id == company.credentials.access_key_id
    assert resolution.credentials == research.credentials
    assert resolution.chain.names == ("joe", "company", "research")
    assert [(hop.name, hop.status) for hop in resolution.hops] == [
        ("company", "miss"),
        ("research", "miss"),
    ]
    assert resolution.sts_calls == 2
    assert world.warnings == [CLAMP_WARNING]


def test_the_lowered_duration_is_told_once_per_set_of_credentials(world: World) -> None:
    world.sandbox.write_rolehop(CHAIN_CONFIG)

    def expect_both() -> None:
        company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=2))
        research = issue("research", RESEARCH_ROLE, NOW + timedelta(hours=1))
        world.sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=7200), company.response)
        world.sts.expect_assume_role(params(RESEARCH_ROLE, DurationSeconds=3600), research.response)

    expect_both()
    resolve(world.app(), "research")
    assert world.warnings == [CLAMP_WARNING]  # made with the lowered duration: told

    hit = resolve(world.app(), "research")
    assert hit.from_cache and world.warnings == [CLAMP_WARNING]  # nothing made, nothing told

    expect_both()
    resolve(world.app(), "research", refresh=True)
    world.sts.verify()
    assert world.warnings == [CLAMP_WARNING, CLAMP_WARNING]  # made anew: told again


@pytest.mark.parametrize(
    ("duration_line", "expected"),
    [("", {}), ("duration_seconds = 3600", {"DurationSeconds": 3600})],
)
def test_second_hop_within_limit_is_not_clamped(
    world: World, duration_line: str, expected: dict[str, Any]
) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"

        [profiles.research]
        role_arn = "{RESEARCH_ROLE}"
        source_profile = "company"
        {duration_line}
        """
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    research = issue("research", RESEARCH_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    world.sts.expect_assume_role(params(RESEARCH_ROLE, **expected), research.response)

    resolve(world.app(), "research")

    world.sts.verify()
    assert world.warnings == []


def test_base_profile_session_token_is_used_for_the_first_hop(world: World) -> None:
    world.sandbox.write_aws_credentials(
        """\
        [joe]
        aws_access_key_id = ASIAJOE0000000000002
        aws_secret_access_key = joeTemporarySecret/000000000000000000002
        aws_session_token = joeSessionToken//////////0000000002
        """
    )
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        region = "ap-southeast-2"
        """
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)

    resolve(world.app(), "company")

    world.sts.verify()
    assert world.sts.calls == [
        (
            Credentials(
                "ASIAJOE0000000000002",
                "joeTemporarySecret/000000000000000000002",
                "joeSessionToken//////////0000000002",
            ),
            "ap-southeast-2",
        )
    ]


def test_short_lifetime_warns_and_is_never_served_from_cache(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        duration_seconds = 900
        """
    )
    first = issue("first", COMPANY_ROLE, NOW + timedelta(minutes=15))
    second = issue("second", COMPANY_ROLE, NOW + timedelta(minutes=15))
    world.sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=900), first.response)
    world.sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=900), second.response)
    app = world.app()

    assert resolve(app, "company").credentials == first.credentials
    assert resolve(app, "company").credentials == second.credentials

    world.sts.verify()
    warning = (
        "profile 'company': credentials last 0:15:00, not more than refresh_margin 0:20:00, "
        "so they are never served from the cache"
    )
    assert world.warnings == [warning, warning]


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


def test_access_denied_names_profile_role_and_caller(world: World) -> None:
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
    world: World,
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


def test_access_denied_on_second_hop_names_first_hop_role_session(world: World) -> None:
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


def test_access_denied_on_first_hop_of_chain_names_the_hop(world: World) -> None:
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
def test_rejected_source_credentials(world: World, code: str) -> None:
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


def test_validation_error_is_an_sts_error_naming_the_role(world: World) -> None:
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


def test_naive_expiration_is_refused(world: World) -> None:
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


CHAINING_MESSAGE = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
    "role chaining."
)


def test_first_hop_is_retried_at_one_hour_when_sts_calls_it_role_chaining(world: World) -> None:
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
    world: World, duration_line: str, sent: dict[str, Any], message: str
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


def test_exit_codes() -> None:
    assert RolehopError("x").exit_code == 1
    assert StsError("x").exit_code == 4
    assert AccessDeniedError("x").exit_code == 5
    assert SourceCredentialsError("x").exit_code == 6
    assert ProfileNotFoundError("x").exit_code == 3
    assert issubclass(AccessDeniedError, StsError)


# ---------------------------------------------------------------------------------------
# the cache


def _company_profile(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )


def test_second_resolve_within_margin_makes_no_sts_call(world: World) -> None:
    _company_profile(world)
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    app = world.app()
    resolve(app, "company")

    world.clock.now = NOW + timedelta(hours=1) - MARGIN - timedelta(seconds=1)
    again = resolve(app, "company")

    world.sts.verify()
    assert len(world.sts.calls) == 1
    assert again.credentials == company.credentials
    assert again.from_cache is True
    assert again.sts_calls == 0
    assert [hop.status for hop in again.hops] == ["hit"]


def test_cache_is_shared_by_a_new_rolehop_on_the_same_keyring(world: World) -> None:
    _company_profile(world)
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    resolve(world.app(), "company")

    again = resolve(world.app(), "company")

    assert len(world.sts.calls) == 1
    assert again.credentials == company.credentials
    assert again.credentials.arn == company.credentials.arn


def test_at_expiry_minus_margin_calls_sts_again(world: World) -> None:
    _company_profile(world)
    first = issue("first", COMPANY_ROLE, NOW + timedelta(hours=1))
    second = issue("second", COMPANY_ROLE, NOW + timedelta(hours=2))
    world.sts.expect_assume_role(params(COMPANY_ROLE), first.response)
    world.sts.expect_assume_role(params(COMPANY_ROLE), second.response)
    app = world.app()
    resolve(app, "company")

    world.clock.now = NOW + timedelta(hours=1) - MARGIN
    again = resolve(app, "company")

    world.sts.verify()
    assert len(world.sts.calls) == 2
    assert again.credentials == second.credentials
    assert [hop.status for hop in again.hops] == ["miss"]
    # and the new entry is what the next resolve is served
    assert resolve(app, "company").credentials == second.credentials
    assert len(world.sts.calls) == 2


def test_configured_refresh_margin_is_honoured(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [settings]
        refresh_margin = "30m"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    first = issue("first", COMPANY_ROLE, NOW + timedelta(hours=1))
    second = issue("second", COMPANY_ROLE, NOW + timedelta(hours=2))
    world.sts.expect_assume_role(params(COMPANY_ROLE), first.response)
    world.sts.expect_assume_role(params(COMPANY_ROLE), second.response)
    app = world.app()
    resolve(app, "company")

    world.clock.now = NOW + timedelta(minutes=29, seconds=59)
    assert resolve(app, "company").credentials == first.credentials
    world.clock.now = NOW + timedelta(minutes=30)
    assert resolve(app, "company").credentials == second.credentials
    world.sts.verify()


def test_stale_last_hop_reuses_cached_first_hop(world: World) -> None:
    world.sandbox.write_rolehop(CHAIN_CONFIG)
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=2))
    research = issue("research", RESEARCH_ROLE, NOW + timedelta(hours=1))
    research2 = issue("research2", RESEARCH_ROLE, NOW + timedelta(hours=2))
    world.sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=7200), company.response)
    world.sts.expect_assume_role(params(RESEARCH_ROLE, DurationSeconds=3600), research.response)
    world.sts.expect_assume_role(params(RESEARCH_ROLE, DurationSeconds=3600), research2.response)
    app = world.app()
    resolve(app, "research")

    world.clock.now = NOW + timedelta(minutes=41)
    again = resolve(app, "research")

    world.sts.verify()
    assert world.sts.calls == [
        (joe(), None),
        (company.credentials, None),
        (company.credentials, None),
    ]
    assert again.credentials == research2.credentials
    assert [hop.status for hop in again.hops] == ["hit", "miss"]
    assert again.sts_calls == 1


def test_refresh_calls_every_hop_again(world: World) -> None:
    world.sandbox.write_rolehop(CHAIN_CONFIG)
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=2))
    research = issue("research", RESEARCH_ROLE, NOW + timedelta(hours=1))
    company2 = issue("company2", COMPANY_ROLE, NOW + timedelta(hours=2))
    research2 = issue("research2", RESEARCH_ROLE, NOW + timedelta(hours=1))
    for issued, role, duration in (
        (company, COMPANY_ROLE, 7200),
        (research, RESEARCH_ROLE, 3600),
        (company2, COMPANY_ROLE, 7200),
        (research2, RESEARCH_ROLE, 3600),
    ):
        world.sts.expect_assume_role(params(role, DurationSeconds=duration), issued.response)
    app = world.app()
    resolve(app, "research")

    again = resolve(app, "research", refresh=True)

    world.sts.verify()
    assert [credentials for credentials, _ in world.sts.calls] == [
        joe(),
        company.credentials,
        joe(),
        company2.credentials,
    ]
    assert again.credentials == research2.credentials
    assert [hop.status for hop in again.hops] == ["refreshed", "refreshed"]
    assert again.sts_calls == 2
    # the refreshed credentials replaced the cached ones
    assert resolve(app, "research").credentials == research2.credentials
    assert len(world.sts.calls) == 4


# ---------------------------------------------------------------------------------------
# profiles() and clear_cache()


def test_profiles_summarises_every_profile(world: World) -> None:
    sandbox = world.sandbox
    sandbox.write_rolehop(
        f"""\
        [settings]
        default_region = "eu-west-1"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"

        [profiles.research]
        role_arn = "{RESEARCH_ROLE}"
        source_profile = "company"
        region = "us-west-2"

        [profiles.orphan]
        role_arn = "arn:aws:iam::444444444444:role/orphan"
        source_profile = "nobody"
        region = "ap-south-1"
        """
    )
    sandbox.write_aws_config(
        f"""\
        [profile legacy]
        role_arn = {LEGACY_ROLE}
        source_profile = joe

        [profile bad]
        role_arn = not-an-arn
        source_profile = joe
        """
    )
    rolehop_path, aws_path = str(sandbox.rolehop_config), str(sandbox.aws_config)
    keys = f"keys in {sandbox.aws_credentials}"

    assert views.profiles(world.app()) == [
        ProfileSummary(
            name="bad",
            origin="aws",
            path=aws_path,
            role_arn=None,
            source=None,
            chain=(),
            region=None,
            error=f"{aws_path}:6: profile 'bad', key 'role_arn': 'not-an-arn' is not an IAM "
            "role ARN (arn:aws:iam::123456789012:role/NAME)",
        ),
        ProfileSummary(
            "company",
            "rolehop",
            rolehop_path,
            COMPANY_ROLE,
            "joe",
            ("joe", "company"),
            "eu-west-1",
            None,
            keys,
        ),
        ProfileSummary(  # the base itself: env joe hands out a session made from its keys
            name="joe",
            origin="aws",
            path=str(sandbox.aws_credentials),
            role_arn=None,
            source=None,
            chain=("joe",),
            region="eu-west-1",
            error=None,
            credentials=keys,
            kind="base",
        ),
        ProfileSummary(
            "legacy",
            "aws",
            aws_path,
            LEGACY_ROLE,
            "joe",
            ("joe", "legacy"),
            "eu-west-1",
            None,
            keys,
        ),
        ProfileSummary(
            name="orphan",
            origin="rolehop",
            path=rolehop_path,
            role_arn="arn:aws:iam::444444444444:role/orphan",
            source="nobody",
            chain=(),
            region="ap-south-1",
            error=f"{rolehop_path}:15: profile 'orphan', key 'source_profile': source profile "
            f"'nobody' not found in {rolehop_path}, {aws_path} or {sandbox.aws_credentials}, "
            "and no keys are stored as 'nobody' (rolehop keys add nobody)",
        ),
        ProfileSummary(
            "research",
            "rolehop",
            rolehop_path,
            RESEARCH_ROLE,
            "company",
            ("joe", "company", "research"),
            "us-west-2",
            None,
            keys,
        ),
    ]
    assert world.sts.calls == []


def test_profiles_of_an_empty_configuration(world: World) -> None:
    world.sandbox.aws_credentials.unlink()

    assert views.profiles(world.app()) == []


def test_profiles_without_roles_are_the_bases(world: World) -> None:
    [joe] = views.profiles(world.app())

    assert (joe.name, joe.kind, joe.chain, joe.role_arn) == ("joe", "base", ("joe",), None)


_ISSUES: dict[str, tuple[str, timedelta, dict[str, Any]]] = {
    "company": (COMPANY_ROLE, timedelta(hours=2), {"DurationSeconds": 7200}),
    "research": (RESEARCH_ROLE, timedelta(hours=1), {"DurationSeconds": 3600}),
    "legacy": (LEGACY_ROLE, timedelta(hours=1), {}),
}


def _legacy_and_chain(world: World, *calls: str) -> None:
    """CHAIN_CONFIG plus an AWS-file profile; queue AssumeRole answers for ``calls``."""
    world.sandbox.write_rolehop(CHAIN_CONFIG)
    world.sandbox.write_aws_config(
        f"""\
        [profile legacy]
        role_arn = {LEGACY_ROLE}
        source_profile = joe
        """
    )
    for name in calls:
        role, lifetime, extra = _ISSUES[name]
        issued = issue(name, role, NOW + lifetime)
        world.sts.expect_assume_role(params(role, **extra), issued.response)


def _cached_keys(world: World) -> set[str]:
    return {name for service, name in world.keyring.items if service == SERVICE} - {"index"}


def test_clear_cache_of_one_profile_removes_its_chain_only(world: World) -> None:
    _legacy_and_chain(world, "company", "research", "legacy")
    app = world.app()
    resolve(app, "research")
    resolve(app, "legacy")
    research_keys = set(chain_of(app, "research").keys[1:])
    legacy_keys = set(chain_of(app, "legacy").keys[1:])
    assert _cached_keys(world) == research_keys | legacy_keys

    assert admin.clear_cache(app, "research") == 2

    assert _cached_keys(world) == legacy_keys
    assert set(app.cache.index()) == legacy_keys
    assert admin.clear_cache(app, "research") == 0


def test_clear_cache_of_everything(world: World) -> None:
    _legacy_and_chain(world, "company", "research", "legacy")
    app = world.app()
    resolve(app, "research")
    resolve(app, "legacy")

    assert admin.clear_cache(app) == 3

    assert _cached_keys(world) == set()
    assert app.cache.index() == {}
    assert admin.clear_cache(app) == 0


def test_clear_cache_finds_entries_of_a_deleted_profile_through_the_index(
    world: World,
) -> None:
    _legacy_and_chain(world, "legacy")
    app = world.app()
    resolve(app, "legacy")
    world.sandbox.aws_config.write_text("")

    fresh = world.app()
    assert admin.clear_cache(fresh) == 1

    assert _cached_keys(world) == set()


def test_clear_cache_of_an_unknown_profile(world: World) -> None:
    with pytest.raises(ProfileNotFoundError) as caught:
        admin.clear_cache(world.app(), "nope")
    assert str(caught.value) == (
        f"profile 'nope' not found in {world.sandbox.rolehop_config} or {world.sandbox.aws_config}"
    )
