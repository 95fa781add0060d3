"""``list`` and ``doctor`` say each problem once, however many profiles it breaks.

A broken source profile (here: a web identity profile with a bad role ARN, and a role
profile with one) fails every profile built on it with its own error; that error is one
warning of ``list`` and one failed check of ``doctor``.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import Sandbox
from tests.support.cli import rolehop_main
from tests.support.stubs import COMPANY_ROLE, JOE_CREDENTIALS

BROKEN = f"""\
    [profile webid]
    role_arn = not-a-role
    web_identity_token_file = /var/run/token

    [profile on-webid]
    role_arn = {COMPANY_ROLE}
    source_profile = webid

    [profile also-on-webid]
    role_arn = {COMPANY_ROLE}
    source_profile = webid

    [profile bad]
    role_arn = nope
    source_profile = joe

    [profile on-bad]
    role_arn = {COMPANY_ROLE}
    source_profile = bad
    """

pytestmark = [
    pytest.mark.usefixtures("restore_logging", "world_files", "state"),
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, aws_config=BROKEN),
]


def errors(sandbox: Sandbox) -> list[str]:
    return [
        f"{sandbox.aws_config}:2: profile 'webid', key 'role_arn': 'not-a-role' is not an IAM "
        "role ARN (arn:aws:iam::123456789012:role/NAME)",
        f"{sandbox.aws_config}:14: profile 'bad', key 'role_arn': 'nope' is not an IAM role "
        "ARN (arn:aws:iam::123456789012:role/NAME)",
    ]


def test_list_warns_of_each_broken_profile_once(sandbox: Sandbox) -> None:
    outcome = rolehop_main("list")

    assert outcome.code == 0
    assert sorted(outcome.stderr.splitlines()) == sorted(
        f"rolehop: warning: {error}" for error in errors(sandbox)
    )


def test_doctor_fails_each_broken_profile_once(sandbox: Sandbox) -> None:
    outcome = rolehop_main("doctor", "--json")

    checks = json.loads(outcome.stdout)["checks"]
    failed = [check["summary"] for check in checks if check["topic"] == "profiles"]
    assert sorted(failed) == sorted(errors(sandbox))
