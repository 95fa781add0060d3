"""rolehop against a moto server over HTTP: real boto3, real HTTP, real cache."""

from __future__ import annotations

import json

from rolehop.demo import COMPANY, RESEARCH, ROLE_ARN, ROLE_NAME, Emulator
from tests.conftest import RunRolehop, Sandbox


def _joe(sandbox: Sandbox, moto: Emulator) -> None:
    key = moto.seed()
    sandbox.write_aws_credentials(
        f"""\
        [joe]
        aws_access_key_id = {key["id"]}
        aws_secret_access_key = {key["secret"]}
        """
    )


def test_one_hop_then_cache_hit(sandbox: Sandbox, moto: Emulator, run_rolehop: RunRolehop) -> None:
    _joe(sandbox, moto)
    sandbox.write_rolehop(
        f"""\
        [profiles.research-ro]
        role_arn = "{ROLE_ARN}"
        source_profile = "joe"
        """
    )
    before = moto.assume_role_calls()
    first = run_rolehop("credential-process", "research-ro")
    assert first.returncode == 0, first.stderr
    assert moto.assume_role_calls() == before + 1
    second = run_rolehop("credential-process", "research-ro")
    assert second.returncode == 0, second.stderr
    assert moto.assume_role_calls() == before + 1
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one == two
    caller = moto.client(
        "sts",
        aws_access_key_id=one["AccessKeyId"],
        aws_secret_access_key=one["SecretAccessKey"],
        aws_session_token=one["SessionToken"],
    ).get_caller_identity()
    assert caller["Arn"] == f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"
    assert COMPANY != RESEARCH
