"""MFA on a role, not its base: the code goes with that role's AssumeRole
(``rolehop.engine.providers.assume_role``), unless the base's MFA session satisfies it.

STS is stubbed as in tests/test_mfa_sessions.py; the MFA code source is a recorder.
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from rolehop.engine.resolve import chain_of, resolve
from rolehop.errors import AccessDeniedError
from tests.support.mfa import ROLE_SERIAL, SERIAL, World, deny, whoami
from tests.support.stubs import COMPANY_ROLE, JOE_ARN, JOE_CREDENTIALS, LEGACY_ROLE, joe

pytestmark = pytest.mark.world(kind=World, aws_credentials=JOE_CREDENTIALS)


# ---------------------------------------------------------------------------------------
# MFA on the role, not the base


def test_role_mfa_serial_on_a_base_without_mfa_goes_with_the_assume_role(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        mfa_serial = "{ROLE_SERIAL}"
        mfa_process = "pass otp aws/company"
        """
    )
    company = world.expect_role("company", SerialNumber=ROLE_SERIAL, TokenCode="123456")
    app = world.app()

    first = resolve(app, "company")

    world.sts.verify()
    assert first.credentials == company.credentials
    assert first.chain.mfa is None
    assert world.sts.calls == [(joe(), None)]
    assert world.codes.asked == [(ROLE_SERIAL, "company", "pass otp aws/company")]

    # the role's credentials are cached: no code, no call
    second = resolve(app, "company")

    assert second.credentials == company.credentials
    assert [hop.status for hop in second.hops] == ["hit"]
    assert len(world.codes.asked) == 1
    assert len(world.sts.calls) == 1


def test_role_mfa_serial_under_an_mfa_base_needs_no_second_code(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "{SERIAL}"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        mfa_serial = "{ROLE_SERIAL}"
        """
    )
    world.expect_session()
    world.expect_role("company")  # no SerialNumber, no TokenCode: the session satisfies MFA

    resolve(world.app(), "company")

    world.sts.verify()
    assert world.codes.asked == [(SERIAL, "company", None)]


# ---------------------------------------------------------------------------------------
# AccessDenied with a code


def test_access_denied_on_assume_role_with_a_code_names_the_code_and_serial(
    world: World,
) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        mfa_serial = "{ROLE_SERIAL}"
        """
    )

    def plan(stubber: Stubber) -> None:
        deny(stubber, "assume_role", "MultiFactorAuthentication failed")
        whoami(stubber)

    world.sts.expect(plan)

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert str(caught.value) == (
        f"profile 'company': AccessDenied assuming {COMPANY_ROLE} as {JOE_ARN}. Both sides "
        f"must agree: the role's trust policy must trust {JOE_ARN}, and that caller's own "
        f"policy must allow sts:AssumeRole on {COMPANY_ROLE}. The MFA code may also be wrong "
        f"or expired (serial {ROLE_SERIAL}). (STS said: MultiFactorAuthentication failed); "
        "run: rolehop explain company"
    )
    assert world.codes.asked == [(ROLE_SERIAL, "company", None)]


# ---------------------------------------------------------------------------------------
# the AWS config's own conventions


def test_mfa_serial_beside_role_arn_in_aws_config_is_the_roles(world: World) -> None:
    world.sandbox.write_aws_config(
        f"""\
        [profile legacy]
        role_arn = {LEGACY_ROLE}
        source_profile = joe
        mfa_serial = {ROLE_SERIAL}
        """
    )
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    legacy = world.expect_role("legacy", SerialNumber=ROLE_SERIAL, TokenCode="123456")
    company = world.expect_role("company")  # joe has no MFA: no code, no SerialNumber
    app = world.app()

    assert resolve(app, "legacy").credentials == legacy.credentials
    assert resolve(app, "company").credentials == company.credentials

    world.sts.verify()
    assert chain_of(app, "legacy").mfa is None
    assert chain_of(app, "company").mfa is None
    assert world.codes.asked == [(ROLE_SERIAL, "legacy", None)]
    assert world.sts.calls == [(joe(), None), (joe(), None)]
