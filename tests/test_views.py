"""``list``'s rows (``rolehop.engine.views.profiles``): every profile of both files, with
its chain, region, where its keys are, or the error that breaks it. No STS call.
"""

from __future__ import annotations

import pytest

from rolehop.engine import views
from rolehop.engine.rows import ProfileSummary
from tests.support.stubs import COMPANY_ROLE, JOE_CREDENTIALS, LEGACY_ROLE, RESEARCH_ROLE, StubWorld

# every test's world: joe's keys in ~/.aws/credentials
pytestmark = pytest.mark.world(aws_credentials=JOE_CREDENTIALS)


def test_profiles_summarises_every_profile(world: StubWorld) -> None:
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


def test_profiles_of_an_empty_configuration(world: StubWorld) -> None:
    world.sandbox.aws_credentials.unlink()

    assert views.profiles(world.app()) == []


def test_profiles_without_roles_are_the_bases(world: StubWorld) -> None:
    [joe] = views.profiles(world.app())

    assert (joe.name, joe.kind, joe.chain, joe.role_arn) == ("joe", "base", ("joe",), None)
