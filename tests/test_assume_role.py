"""Exactly what rolehop sends to AssumeRole, and with which credentials: a role profile's
parameters (``rolehop.engine.hops.RoleHop``, ``rolehop.engine.providers.assume_role``) and a
chain's hops, each with the previous hop's credentials (``rolehop.engine.chain``).

Real boto3 STS clients with botocore's ``Stubber`` are handed to the context through the
``world`` fixture: every call is checked parameter by parameter, and a call that was not
queued fails (an empty Stubber raises). The clock and the keyring cache are injected too.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest

from rolehop.common.creds import Credentials
from rolehop.engine.resolve import resolve
from tests.support.stubs import (
    CHAIN_CONFIG,
    COMPANY_ROLE,
    JOE_CREDENTIALS,
    JOE_KEY_ID,
    LEGACY_ROLE,
    NOW,
    RESEARCH_ROLE,
    StubWorld,
    issue,
    joe,
    params,
)

# every test's world: joe's keys in ~/.aws/credentials
pytestmark = pytest.mark.world(aws_credentials=JOE_CREDENTIALS)

CLAMP_WARNING = (
    "profile 'research': duration_seconds 7200 lowered to 3600: AWS caps a role assumed "
    "with another role's credentials at 1 hour"
)


# ---------------------------------------------------------------------------------------
# AssumeRole parameters


def test_minimal_profile_sends_only_role_arn_and_default_session_name(world: StubWorld) -> None:
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
    world: StubWorld, user_vars: dict[str, str], session: str
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


def test_explicit_session_name_wins_over_user(world: StubWorld) -> None:
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


def test_every_optional_parameter_is_sent_exactly(world: StubWorld) -> None:
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


def test_aws_config_profile_parameters(world: StubWorld) -> None:
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
def test_configured_duration_is_sent(world: StubWorld, duration: int) -> None:
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


# ---------------------------------------------------------------------------------------
# a chain: each hop assumed with the credentials of the one before


def test_chain_hops_with_previous_credentials_and_clamps_second_duration(world: StubWorld) -> None:
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


def test_the_lowered_duration_is_told_once_per_set_of_credentials(world: StubWorld) -> None:
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
    world: StubWorld, duration_line: str, expected: dict[str, Any]
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


def test_base_profile_session_token_is_used_for_the_first_hop(world: StubWorld) -> None:
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
