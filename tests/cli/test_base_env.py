"""Base profiles through the commands that hand out credentials: env, credential-process,
exec, whoami. A session by default, never the long-term keys; the keys with --no-session.

The base is Joe: long-term keys in ~/.aws/credentials (an AWS profile), or a base profile
of rolehop's TOML (which `env` refused as "a base profile, which has no role to become",
and an AWS one as "not found in ~/.aws/config").
"""

from __future__ import annotations

import json
import os
import shlex
from datetime import timedelta

import pytest
from botocore.stub import Stubber

from tests.conftest import RunRolehop, Sandbox
from tests.support.cli import StubbedState, rolehop_main
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_ARN,
    JOE_CREDENTIALS,
    JOE_KEY_ID,
    JOE_SECRET,
    NOW,
)

pytestmark = [
    pytest.mark.usefixtures("restore_logging", "world_files"),
    pytest.mark.world(
        aws_credentials=JOE_CREDENTIALS,
        aws_config="[profile joe]\nregion = eu-west-1\n",
        rolehop=f'[profiles.company]\nrole_arn = "{COMPANY_ROLE}"\nsource_profile = "joe"\n',
    ),
]

EXPIRES = NOW + timedelta(hours=1)
SESSION = {
    "AccessKeyId": "ASIAJOESESSION000001",
    "SecretAccessKey": "joeSessionSecretAccessKey/00000000001",
    "SessionToken": "joeSessionToken//////////////00000001",
    "Expiration": EXPIRES,
}


def exports(stdout: str) -> dict[str, str]:
    """What ``env --shell bash`` exports."""
    found = {}
    for line in stdout.splitlines():
        words = shlex.split(line)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            found[name] = value
    return found


def expect_session(state: StubbedState) -> None:
    state.sts.expect(
        lambda stubber: stubber.add_response(
            "get_session_token", {"Credentials": SESSION}, {"DurationSeconds": 3600}
        )
    )


@pytest.mark.parametrize("base", ["aws", "rolehop"])
def test_env_of_a_base_exports_a_session(state: StubbedState, sandbox: Sandbox, base: str) -> None:
    if base == "rolehop":  # a base profile of rolehop's TOML, over the same AWS keys
        sandbox.write_rolehop('[profiles.joe]\nregion = "eu-west-1"\n')
    expect_session(state)

    outcome = rolehop_main("env", "joe", "--shell", "bash")

    state.sts.verify()
    assert (outcome.code, outcome.stderr) == (0, "")
    assert exports(outcome.stdout) == {
        "AWS_ACCESS_KEY_ID": SESSION["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": SESSION["SecretAccessKey"],
        "AWS_SESSION_TOKEN": SESSION["SessionToken"],
        "AWS_CREDENTIAL_EXPIRATION": "2030-01-01T13:00:00Z",
        "ROLEHOP_EXPIRATION": "1893502800",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "ROLEHOP_PROFILE": "joe",
    }
    assert JOE_SECRET not in outcome.stdout


def test_env_no_session_exports_the_keys_themselves(state: StubbedState) -> None:
    outcome = rolehop_main("env", "joe", "--no-session", "--shell", "bash")

    assert (outcome.code, outcome.stderr, state.sts.calls) == (0, "", [])
    # a session token left by a previous `use` must not stay beside long-term keys
    assert outcome.stdout.splitlines()[0] == (
        "unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SECURITY_TOKEN AWS_SESSION_TOKEN "
        "AWS_CREDENTIAL_EXPIRATION ROLEHOP_EXPIRATION ROLEHOP_TARGET"
    )
    assert exports(outcome.stdout) == {
        "AWS_ACCESS_KEY_ID": JOE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": JOE_SECRET,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "ROLEHOP_PROFILE": "joe",
    }


def test_credential_process_of_a_base(state: StubbedState) -> None:
    expect_session(state)

    session = rolehop_main("credential-process", "joe")
    keys = rolehop_main("credential-process", "--no-session", "joe")

    state.sts.verify()
    assert json.loads(session.stdout) == {
        "Version": 1,
        **{key: SESSION[key] for key in ("AccessKeyId", "SecretAccessKey", "SessionToken")},
        "Expiration": "2030-01-01T13:00:00Z",
    }
    assert json.loads(keys.stdout) == {
        "Version": 1,
        "AccessKeyId": JOE_KEY_ID,
        "SecretAccessKey": JOE_SECRET,
    }


@pytest.mark.parametrize(
    ("words", "key_id"),
    [
        (["joe", "--", "aws"], SESSION["AccessKeyId"]),
        (["joe", "--no-session", "--", "aws"], JOE_KEY_ID),
        (["--no-session", "joe", "aws"], JOE_KEY_ID),
    ],
    ids=" ".join,
)
def test_exec_of_a_base(
    state: StubbedState, monkeypatch: pytest.MonkeyPatch, words: list[str], key_id: str
) -> None:
    if key_id != JOE_KEY_ID:
        expect_session(state)
    ran: list[dict[str, str]] = []
    monkeypatch.setattr(os, "execvpe", lambda file, args, env: ran.append(env))
    monkeypatch.setenv("AWS_SESSION_TOKEN", "left-by-a-previous-use")

    outcome = rolehop_main("exec", *words)

    assert outcome.code == 0, outcome.stderr
    [env] = ran
    assert env["AWS_ACCESS_KEY_ID"] == key_id
    assert ("AWS_SESSION_TOKEN" in env) == (key_id != JOE_KEY_ID)


def test_whoami_of_a_base_asks_with_the_session(state: StubbedState) -> None:
    expect_session(state)

    def whoami(stubber: Stubber) -> None:
        answer = {"UserId": "AIDAJOE", "Account": "111111111111", "Arn": JOE_ARN}
        stubber.add_response("get_caller_identity", answer, {})

    state.sts.expect(whoami)

    outcome = rolehop_main("whoami", "joe", "--json")

    state.sts.verify()
    assert json.loads(outcome.stdout)["arn"] == JOE_ARN
    assert state.sts.calls[1] == (state.sts.calls[1][0], "eu-west-1")
    assert state.sts.calls[1][0].access_key_id == SESSION["AccessKeyId"]


@pytest.mark.parametrize("command", ["env", "credential-process", "whoami"])
def test_no_session_on_a_role_profile_is_a_usage_error(state: StubbedState, command: str) -> None:
    outcome = rolehop_main(command, "company", "--no-session")

    assert (outcome.code, outcome.stdout, state.sts.calls) == (2, "", [])
    assert outcome.stderr == (
        "rolehop: error: --no-session: profile 'company' is a role profile; only a base "
        "profile's long-term keys can be handed out without a session\n"
    )


@pytest.mark.world()  # its own files, for the subprocess
def test_a_base_in_a_subprocess_then_cached(
    sandbox: Sandbox, run_rolehop: RunRolehop, tmp_path: object
) -> None:
    """The real program: ``rolehop env joe`` hands out a session, cached in the keyring;
    over HTTP, the STS stub answers GetSessionToken once."""
    from tests.support.stubs import StsHttpStub

    sandbox.write_aws_credentials(JOE_CREDENTIALS)
    stub = StsHttpStub()
    try:
        expires = "2099-01-01T00:00:00Z"
        stub.answer(
            '<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<GetSessionTokenResult><Credentials>"
            f"<AccessKeyId>{SESSION['AccessKeyId']}</AccessKeyId>"
            f"<SecretAccessKey>{SESSION['SecretAccessKey']}</SecretAccessKey>"
            f"<SessionToken>{SESSION['SessionToken']}</SessionToken>"
            f"<Expiration>{expires}</Expiration>"
            "</Credentials></GetSessionTokenResult></GetSessionTokenResponse>"
        )
        env = {"AWS_ENDPOINT_URL": stub.url}
        first = run_rolehop("credential-process", "joe", env=env)
        second = run_rolehop("credential-process", "joe", env=env)
    finally:
        stub.close()

    assert (first.returncode, first.stderr) == (0, ""), first.stderr
    assert first.stdout == second.stdout
    assert json.loads(first.stdout)["AccessKeyId"] == SESSION["AccessKeyId"]
    assert [request.form.get("Action") for request in stub.requests] == ["GetSessionToken"]
    assert stub.requests[0].form["DurationSeconds"] == "3600"
