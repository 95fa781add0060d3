"""``cache clear`` (``rolehop.engine.admin.clear_cache``): a profile's whole chain, or
everything, found through the cache's index even when the profile is gone.

Real boto3 STS clients with botocore's ``Stubber`` are handed to the context through the
``world`` fixture: every call is checked parameter by parameter, and a call that was not
queued fails (an empty Stubber raises). The clock and the keyring cache are injected too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rolehop.engine import admin
from rolehop.engine.resolve import chain_of, resolve
from rolehop.errors import ProfileNotFoundError
from tests.support.stubs import (
    CHAIN_CONFIG,
    COMPANY_ROLE,
    JOE_CREDENTIALS,
    LEGACY_ROLE,
    NOW,
    RESEARCH_ROLE,
    StubWorld,
    issue,
    params,
)

# every test's world: joe's keys in ~/.aws/credentials
pytestmark = pytest.mark.world(aws_credentials=JOE_CREDENTIALS)


_ISSUES: dict[str, tuple[str, timedelta, dict[str, Any]]] = {
    "company": (COMPANY_ROLE, timedelta(hours=2), {"DurationSeconds": 7200}),
    "research": (RESEARCH_ROLE, timedelta(hours=1), {"DurationSeconds": 3600}),
    "legacy": (LEGACY_ROLE, timedelta(hours=1), {}),
}


def _legacy_and_chain(world: StubWorld, *calls: str) -> None:
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


def test_clear_cache_of_one_profile_removes_its_chain_only(world: StubWorld) -> None:
    _legacy_and_chain(world, "company", "research", "legacy")
    app = world.app()
    resolve(app, "research")
    resolve(app, "legacy")
    research_keys = set(chain_of(app, "research").keys[1:])
    legacy_keys = set(chain_of(app, "legacy").keys[1:])
    assert world.cached_keys() == research_keys | legacy_keys

    assert admin.clear_cache(app, "research") == 2

    assert world.cached_keys() == legacy_keys
    assert set(app.cache.index()) == legacy_keys
    assert admin.clear_cache(app, "research") == 0


def test_clear_cache_of_everything(world: StubWorld) -> None:
    _legacy_and_chain(world, "company", "research", "legacy")
    app = world.app()
    resolve(app, "research")
    resolve(app, "legacy")

    assert admin.clear_cache(app) == 3

    assert world.cached_keys() == set()
    assert app.cache.index() == {}
    assert admin.clear_cache(app) == 0


def test_clear_cache_finds_entries_of_a_deleted_profile_through_the_index(
    world: StubWorld,
) -> None:
    _legacy_and_chain(world, "legacy")
    app = world.app()
    resolve(app, "legacy")
    world.sandbox.aws_config.write_text("")

    fresh = world.app()
    assert admin.clear_cache(fresh) == 1

    assert world.cached_keys() == set()


def test_clear_cache_of_an_unknown_profile(world: StubWorld) -> None:
    with pytest.raises(ProfileNotFoundError) as caught:
        admin.clear_cache(world.app(), "nope")
    assert str(caught.value) == (
        f"profile 'nope' not found in {world.sandbox.rolehop_config} or {world.sandbox.aws_config}"
    )
