"""An MFA base: one GetSessionToken for any number of roles, cached and shared, renewed
when it ends, and the waits it makes announced, never over an MFA prompt
(``rolehop.engine.compose``, ``rolehop.engine.providers.session_token``).

STS is real boto3 clients with botocore's ``Stubber`` behind the ``world`` fixture's
contexts: every GetSessionToken and AssumeRole is checked parameter by parameter, a call
that was not queued fails, and ``StubSts.calls`` records the credentials each client signs
with. The MFA code source is a recorder (``tests.support.mfa.Codes``), so how often a code
is asked for is counted exactly. MFA on a role: tests/test_mfa_roles.py; where the codes
come from: tests/test_mfa_codes.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.stub import Stubber

from rolehop.common.creds import Credentials
from rolehop.engine import admin
from rolehop.engine.compose import MFA_SESSION_MARGIN
from rolehop.engine.resolve import chain_of, resolve
from rolehop.errors import AccessDeniedError
from rolehop.stores.locks import FileLocks
from tests.support.held import held_for
from tests.support.mfa import SERIAL, SESSION_HOURS, THREE_ROLES, Codes, World, deny, whoami
from tests.support.stubs import COMPANY_ROLE, JOE_ARN, JOE_CREDENTIALS, NOW, RESEARCH_ROLE, joe

pytestmark = pytest.mark.world(kind=World, aws_credentials=JOE_CREDENTIALS)

MARGIN = timedelta(minutes=20)  # rolehop's default refresh_margin


# ---------------------------------------------------------------------------------------
# an MFA base: one GetSessionToken, every role assumed with the session


def test_get_session_token_carries_exactly_serial_code_and_default_duration(
    world: World,
) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    company = world.expect_role("company")

    resolution = resolve(world.app(), "company")

    world.sts.verify()
    assert resolution.credentials == company.credentials
    assert world.sts.calls == [(joe(), None), (session.credentials, None)]
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert [(hop.name, hop.status) for hop in resolution.hops] == [("company", "miss")]
    assert resolution.chain.names == ("joe", "company")
    assert world.warnings == []


def test_session_duration_and_mfa_process_of_the_base_are_used(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "{SERIAL}"
        session_duration = 3600
        mfa_process = "ykman oath accounts code --single 'AWS joe'"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    world.expect_session(duration=3600, hours=1)
    world.expect_role("company")

    resolve(world.app(), "company")

    world.sts.verify()
    assert world.codes.asked == [(SERIAL, "company", "ykman oath accounts code --single 'AWS joe'")]


def test_three_roles_one_session_token_one_code(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    issued = {name: world.expect_role(name) for name in ("company", "research", "legacy")}
    app = world.app()

    resolved = {name: resolve(app, name) for name in ("company", "research", "legacy")}

    world.sts.verify()  # exactly one GetSessionToken, then three AssumeRole, in that order
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert world.sts.calls == [
        (joe(), None),
        (session.credentials, None),
        (session.credentials, None),
        (session.credentials, None),
    ]
    for name, resolution in resolved.items():
        assert resolution.credentials == issued[name].credentials
        assert [hop.status for hop in resolution.hops] == ["miss"]
    mfa = chain_of(app, "company").mfa
    assert mfa is not None
    assert {chain_of(app, name).mfa for name in issued} == {mfa}
    # the MFA session and the three roles are cached; nothing for joe's long-term keys
    assert world.cached_keys() == {mfa.key, *(chain_of(app, name).keys[-1] for name in issued)}


def test_the_mfa_session_is_shared_by_a_new_rolehop_on_the_same_keyring(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    world.expect_role("company")
    research = world.expect_role("research")
    resolve(world.app(), "company")

    again = resolve(world.app(), "research")

    world.sts.verify()
    assert again.credentials == research.credentials
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert world.sts.calls[-1] == (session.credentials, None)


def test_roles_from_an_mfa_session_are_not_role_chained(world: World) -> None:
    """The 1 hour cap applies to a role assumed with a role's credentials, not a session's."""
    world.sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "{SERIAL}"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        duration_seconds = 7200
        """
    )
    world.expect_session()
    world.expect_role("company", DurationSeconds=7200)

    resolution = resolve(world.app(), "company")

    world.sts.verify()
    assert [hop.chained for hop in resolution.chain.hops] == [False]
    assert world.warnings == []


def test_the_second_hop_after_an_mfa_session_is_role_chained(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "{SERIAL}"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"

        [profiles.research]
        role_arn = "{RESEARCH_ROLE}"
        source_profile = "company"
        """
    )
    session = world.expect_session()
    company = world.expect_role("company")
    research = world.expect_role("research")

    resolution = resolve(world.app(), "research")

    world.sts.verify()
    assert resolution.credentials == research.credentials
    assert world.sts.calls == [
        (joe(), None),
        (session.credentials, None),
        (company.credentials, None),
    ]
    assert [hop.chained for hop in resolution.chain.hops] == [False, True]
    assert world.codes.asked == [(SERIAL, "research", None)]


# ---------------------------------------------------------------------------------------
# expiry and --refresh


def test_roles_expire_before_the_session_no_new_code(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    world.expect_role("company")
    app = world.app()
    resolve(app, "company")

    # the role (1 h) is stale, the session (12 h) still good for a second more than the margin
    world.clock.now = NOW + timedelta(hours=SESSION_HOURS) - MARGIN - timedelta(seconds=1)
    company2 = world.expect_role("company", "company2")
    again = resolve(app, "company")

    world.sts.verify()
    assert again.credentials == company2.credentials
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert world.sts.calls[-1] == (session.credentials, None)
    assert len(world.sts.calls) == 3


def test_an_expired_mfa_session_asks_for_a_code_and_calls_get_session_token_again(
    world: World,
) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.expect_session()
    world.expect_role("company")
    app = world.app()
    resolve(app, "company")

    # the session is used until 5 minutes before it ends (not refresh_margin: its
    # credentials go straight into AssumeRole calls, never to an SDK)
    world.clock.now = NOW + timedelta(hours=SESSION_HOURS) - MFA_SESSION_MARGIN
    session2 = world.expect_session("session2", code="234567")
    company2 = world.expect_role("company", "company2")
    again = resolve(app, "company")

    world.sts.verify()
    assert again.credentials == company2.credentials
    assert world.codes.asked == [(SERIAL, "company", None), (SERIAL, "company", None)]
    assert world.sts.calls[2:] == [(joe(), None), (session2.credentials, None)]
    # the new session is the one cached: another role needs no third code
    research = world.expect_role("research")
    assert resolve(app, "research").credentials == research.credentials
    assert len(world.codes.asked) == 2
    assert world.sts.calls[-1] == (session2.credentials, None)


def test_refresh_renews_the_roles_but_not_the_mfa_session(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    world.expect_role("company")
    app = world.app()
    resolve(app, "company")

    company2 = world.expect_role("company", "company2")
    again = resolve(app, "company", refresh=True)

    world.sts.verify()
    assert again.credentials == company2.credentials
    assert [hop.status for hop in again.hops] == ["refreshed"]
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert world.sts.calls == [
        (joe(), None),
        (session.credentials, None),
        (session.credentials, None),
    ]


def test_mfa_token_is_the_code_sent_and_the_code_source_is_not_asked(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.expect_session(code="654321")
    company = world.expect_role("company")

    resolution = resolve(world.app(), "company", mfa_token="654321")

    world.sts.verify()
    assert resolution.credentials == company.credentials
    assert world.codes.asked == []


def test_stored_keys_with_an_mfa_base_profile(world: World) -> None:
    """Keys in the keyring, MFA in the TOML, no AWS shared files at all."""
    world.sandbox.aws_credentials.unlink()
    world.sandbox.write_rolehop(THREE_ROLES)
    stored = Credentials("AKIASTORED0000000009", "storedSecretAccessKey/00000000000000009")
    app = world.app()
    admin.add_keys(app, "joe", stored)
    session = world.expect_session()
    world.expect_role("company")

    resolve(app, "company")

    world.sts.verify()
    assert world.sts.calls == [(stored, None), (session.credentials, None)]
    assert world.codes.asked == [(SERIAL, "company", None)]


# ---------------------------------------------------------------------------------------
# AccessDenied starting the session, or from it


def test_access_denied_on_get_session_token_names_the_serial_and_the_code(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    said = "MultiFactorAuthentication failed with invalid MFA one time pass code."

    def plan(stubber: Stubber) -> None:
        deny(stubber, "get_session_token", said)
        whoami(stubber)

    world.sts.expect(plan)

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert str(caught.value) == (
        f"profile 'company' (hop 'joe'): AccessDenied starting an MFA session as {JOE_ARN} "
        f"with MFA device {SERIAL}: the MFA code may be wrong or expired, or {SERIAL} is not "
        f"this user's device. (STS said: {said}); run: rolehop explain company"
    )
    assert caught.value.exit_code == 5
    assert world.keyring.items == {}  # nothing cached: the next run asks again


def test_access_denied_on_assume_role_from_an_mfa_session_does_not_blame_a_code(
    world: World,
) -> None:
    """No code went with that AssumeRole: the session was fine, the role refused."""
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    world.sts.expect(lambda stubber: deny(stubber, "assume_role", "not authorized"))

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    # the session's credentials carry no ARN, so GetCallerIdentity was tried (unstubbed here)
    assert str(caught.value) == (
        f"profile 'company': AccessDenied assuming {COMPANY_ROLE} as the source credentials. "
        "Both sides must agree: the role's trust policy must trust the source credentials, "
        "and that caller's own policy must allow sts:AssumeRole on "
        f"{COMPANY_ROLE}. (STS said: not authorized); run: rolehop explain company"
    )
    assert world.sts.calls == [(joe(), None), (session.credentials, None)]


# ---------------------------------------------------------------------------------------
# the AWS config's own conventions


def test_aws_config_base_with_mfa_serial_works_the_same(world: World) -> None:
    """aws-vault's convention: mfa_serial on the profile that holds the keys."""
    world.sandbox.write_aws_config(
        f"""\
        [profile joe]
        mfa_serial = {SERIAL}
        mfa_process = ykman oath accounts code --single joe
        region = eu-west-1
        """
    )
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"

        [profiles.research]
        role_arn = "{RESEARCH_ROLE}"
        source_profile = "joe"
        """
    )
    session = world.expect_session()
    company = world.expect_role("company")
    research = world.expect_role("research")
    app = world.app()

    assert resolve(app, "company").credentials == company.credentials
    assert resolve(app, "research").credentials == research.credentials

    world.sts.verify()
    assert world.codes.asked == [(SERIAL, "company", "ykman oath accounts code --single joe")]
    assert world.sts.calls == [
        (joe(), None),
        (session.credentials, None),
        (session.credentials, None),
    ]


# ---------------------------------------------------------------------------------------
# long waits are announced (a spinner on a terminal), never over an MFA prompt


class Announced:
    """A ``busy`` recording each message with how many MFA codes had been asked by then."""

    def __init__(self, codes: Codes) -> None:
        self.codes = codes
        self.events: list[tuple[str, int]] = []

    @contextmanager
    def __call__(self, message: str) -> Iterator[None]:
        self.events.append((message, len(self.codes.asked)))
        yield


def test_sts_calls_are_announced_after_the_code_is_asked(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.expect_session()
    world.expect_role("company")
    busy = Announced(world.codes)

    resolve(world.app(busy=busy), "company")

    assert busy.events == [
        ("starting the MFA session of 'joe' for profile 'company'", 1),
        (f"assuming {COMPANY_ROLE} for profile 'company'", 1),
    ]


def _resolve_while_locked(world: World, profile: str, busy: Announced, tmp: Path) -> None:
    """Resolve ``profile`` while another thread holds its target hop's lock for 0.3 s."""
    locks = FileLocks(tmp)
    app = world.app(busy=busy, locks=locks)
    with held_for(locks, chain_of(app, profile).keys[-1], 0.3):
        resolve(app, profile)


def test_waiting_for_another_process_is_announced(world: World, tmp_path: Path) -> None:
    world.sandbox.write_rolehop(
        f'[profiles.company]\nrole_arn = "{COMPANY_ROLE}"\nsource_profile = "joe"\n'
    )
    world.expect_role("company")
    busy = Announced(world.codes)

    _resolve_while_locked(world, "company", busy, tmp_path)

    assert [message for message, _ in busy.events] == [
        "waiting for another rolehop process refreshing profile 'company'",
        f"assuming {COMPANY_ROLE} for profile 'company'",
    ]


def test_waiting_behind_a_possible_mfa_prompt_is_quiet(world: World, tmp_path: Path) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.expect_session()
    world.expect_role("company")
    busy = Announced(world.codes)

    _resolve_while_locked(world, "company", busy, tmp_path)

    assert not [message for message, _ in busy.events if message.startswith("waiting")]
    assert len(busy.events) == 2  # the STS calls still are
