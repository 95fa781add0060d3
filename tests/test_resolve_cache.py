"""Resolving through the cache (``rolehop.engine.resolve``,
``rolehop.engine.providers.cached``): a hit within the refresh margin, shared by every
context on the same keyring, a new AssumeRole when the margin is reached or on --refresh,
and only the hops that are due.

Real boto3 STS clients with botocore's ``Stubber`` are handed to the context through the
``world`` fixture: every call is checked parameter by parameter, and a call that was not
queued fails (an empty Stubber raises). The clock and the keyring cache are injected too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from rolehop.engine.resolve import resolve
from tests.support.stubs import (
    CHAIN_CONFIG,
    COMPANY_ROLE,
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

MARGIN = timedelta(minutes=20)  # rolehop's default refresh_margin


# ---------------------------------------------------------------------------------------
# the cache


def _company_profile(world: StubWorld) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )


def test_second_resolve_within_margin_makes_no_sts_call(world: StubWorld) -> None:
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


def test_cache_is_shared_by_a_new_rolehop_on_the_same_keyring(world: StubWorld) -> None:
    _company_profile(world)
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    resolve(world.app(), "company")

    again = resolve(world.app(), "company")

    assert len(world.sts.calls) == 1
    assert again.credentials == company.credentials
    assert again.credentials.arn == company.credentials.arn


def test_at_expiry_minus_margin_calls_sts_again(world: StubWorld) -> None:
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


def test_configured_refresh_margin_is_honoured(world: StubWorld) -> None:
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


def test_short_lifetime_warns_and_is_never_served_from_cache(world: StubWorld) -> None:
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


def test_stale_last_hop_reuses_cached_first_hop(world: StubWorld) -> None:
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


def test_refresh_calls_every_hop_again(world: StubWorld) -> None:
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
