"""rolehop against a moto server over HTTP: real boto3, real HTTP, real cache."""

from __future__ import annotations

import json

import pytest

from rolehop.features.demo import COMPANY, RESEARCH, ROLE_NAME, Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML, caller_arn


@pytest.mark.usefixtures("joe")
def test_one_hop_then_cache_hit(sandbox: Sandbox, moto: Emulator, run_rolehop: RunRolehop) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    before = moto.assume_role_calls()
    first = run_rolehop("credential-process", "research-ro")
    assert first.returncode == 0, first.stderr
    assert moto.assume_role_calls() == before + 1
    second = run_rolehop("credential-process", "research-ro")
    assert second.returncode == 0, second.stderr
    assert moto.assume_role_calls() == before + 1
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one == two
    assert (
        caller_arn(moto, one) == f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"
    )
    assert COMPANY != RESEARCH
