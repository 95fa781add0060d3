"""A web identity base against moto: AssumeRoleWithWebIdentity (unsigned) with the token
of a file, then AssumeRole signed with what it returned; cached after that, and never a
trace of the token or of a secret on stderr, even with ``--debug``.

moto accepts any token (it verifies none): what is checked is what rolehop sends, seen by
moto's request recorder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolehop.features.demo import Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import WAREHOUSE_ARN, caller_arn
from tests.support.local_endpoints import StsRecording

CI_ROLE = "arn:aws:iam::444455556666:role/ci"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnMDAwMDAx"


@pytest.fixture
def webid(sandbox: Sandbox, moto: Emulator) -> Path:
    token = sandbox.root / "token"
    token.write_text(TOKEN)
    sandbox.write_aws_config(
        f"""\
        [profile webid]
        role_arn = {CI_ROLE}
        web_identity_token_file = {token}
        role_session_name = irsa

        [profile warehouse]
        role_arn = {WAREHOUSE_ARN}
        source_profile = webid
        """
    )
    return token


def _run(run_rolehop: RunRolehop, moto: Emulator, *args: str) -> dict[str, Any]:
    result = run_rolehop(*args, env={"AWS_ENDPOINT_URL": moto.url})
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_web_identity_base_cold_then_cached(
    webid: Path, moto: Emulator, recording: StsRecording, run_rolehop: RunRolehop
) -> None:
    first = _run(run_rolehop, moto, "credential-process", "warehouse")

    [traded] = recording.unsigned("AssumeRoleWithWebIdentity")
    assert traded == {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "RoleArn": CI_ROLE,
        "RoleSessionName": "irsa",
        "WebIdentityToken": TOKEN,
    }
    [assumed] = recording.calls("AssumeRole")
    assert assumed.params["RoleArn"] == WAREHOUSE_ARN
    assert assumed.key_id.startswith("ASIA")  # signed with the web identity credentials
    assert caller_arn(moto, first).startswith(
        "arn:aws:sts::777788889999:assumed-role/Warehouse-Reader/"
    )

    again = _run(run_rolehop, moto, "credential-process", "warehouse")

    assert again == first
    assert len(recording.unsigned("AssumeRoleWithWebIdentity")) == 1
    assert len(recording.calls("AssumeRole")) == 1


def test_debug_never_shows_the_token_or_a_secret(
    webid: Path, moto: Emulator, recording: StsRecording, run_rolehop: RunRolehop
) -> None:
    result = run_rolehop(
        "--debug", "credential-process", "warehouse", env={"AWS_ENDPOINT_URL": moto.url}
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "AssumeRoleWithWebIdentity" in result.stderr  # botocore's request log is there
    document = json.loads(result.stdout)
    for secret in (TOKEN, document["SecretAccessKey"], document["SessionToken"]):
        assert secret not in result.stderr
