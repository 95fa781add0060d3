"""``credential_source`` against moto: Joe's keys in the environment, from a fake ECS
container credentials endpoint, and from a fake EC2 instance metadata service (IMDSv2).

Each base's credentials are Joe's key (with a made-up session token for the container and
the instance: moto accepts one beside an IAM user's key), so moto's recorder shows that the
research role was assumed with exactly what the source handed out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from rolehop.features.demo import RESEARCH, ROLE_ARN, ROLE_NAME, Emulator
from tests.conftest import REPO, RunRolehop, Sandbox
from tests.support.emulator import caller_arn
from tests.support.local_endpoints import (
    FakeEndpoint,
    Seen,
    StsRecording,
    serving,
)
from tests.support.tools import run_captured

ROLE_CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"
CONTAINER_TOKEN = "container-session-token"
INSTANCE_TOKEN = "instance-session-token"
IMDS_TOKEN = "imds-v2-token"
INSTANCE_ROLE = "research-instance"


def _profile(source: str) -> str:
    return f"""\
[profiles.hop]
role_arn = "{ROLE_ARN}"
credential_source = "{source}"
"""


def _expiration() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def key(moto: Emulator, sandbox: Sandbox) -> dict[str, str]:
    """Joe, seeded, with no AWS profile anywhere: the credential source is all there is."""
    assert not sandbox.aws_credentials.exists()
    return moto.seed()


def _run(
    subprocess_env: dict[str, str], moto: Emulator, changes: Mapping[str, str | None], *args: str
) -> subprocess.CompletedProcess[str]:
    """rolehop against moto, with variables of the sandbox environment set (or unset: None)."""
    env = {**subprocess_env, "AWS_ENDPOINT_URL": moto.url}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return run_captured([sys.executable, "-m", "rolehop", *args], env, cwd=REPO)


def _hop(
    subprocess_env: dict[str, str], moto: Emulator, changes: Mapping[str, str | None]
) -> tuple[dict[str, str], str]:
    """``credential-process hop``: the credentials and whom STS says they are."""
    result = _run(subprocess_env, moto, changes, "credential-process", "hop")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document: dict[str, str] = json.loads(result.stdout)
    return document, caller_arn(moto, document)


def _assumed_with(recording: StsRecording, key_id: str, token: str | None) -> None:
    (call,) = recording.calls("AssumeRole")
    assert call.params["RoleArn"] == ROLE_ARN
    assert (call.key_id, call.session_token) == (key_id, token)


@pytest.mark.parametrize("token", [None, "lambda-session-token"], ids=["keys", "lambda"])
def test_environment(
    sandbox: Sandbox,
    moto: Emulator,
    key: dict[str, str],
    subprocess_env: dict[str, str],
    recording: StsRecording,
    token: str | None,
) -> None:
    """Keys in the environment, with a session token too in Lambda."""
    sandbox.write_rolehop(_profile("Environment"))
    joe = {"AWS_ACCESS_KEY_ID": key["id"], "AWS_SECRET_ACCESS_KEY": key["secret"]}
    if token is not None:
        joe["AWS_SESSION_TOKEN"] = token

    document, caller = _hop(subprocess_env, moto, joe)

    assert caller == ROLE_CALLER
    _assumed_with(recording, key["id"], token)
    again, _ = _hop(subprocess_env, moto, joe)
    assert again == document  # cached
    assert len(recording.calls("AssumeRole")) == 1


def test_environment_without_keys(
    sandbox: Sandbox, moto: Emulator, subprocess_env: dict[str, str], recording: StsRecording
) -> None:
    sandbox.write_rolehop(_profile("Environment"))
    result = _run(subprocess_env, moto, {}, "credential-process", "hop")
    assert result.returncode == 6, result.stderr
    assert "credential_source Environment found no credentials" in result.stderr
    assert recording.calls() == []


def test_source_profile_and_credential_source_together_is_a_config_error(
    sandbox: Sandbox, run_rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(_profile("Environment") + 'source_profile = "joe"\n')
    result = run_rolehop("credential-process", "hop")
    assert result.returncode == 3, result.stderr
    assert "set either source_profile or credential_source, not both" in result.stderr


def test_ecs_container(
    sandbox: Sandbox,
    moto: Emulator,
    key: dict[str, str],
    subprocess_env: dict[str, str],
    recording: StsRecording,
) -> None:
    sandbox.write_rolehop(_profile("EcsContainer"))
    expiration = _expiration()

    def container(seen: Seen) -> tuple[int, str]:
        if seen.path != "/creds" or seen.header("Authorization") != "task-auth":
            return 404, "not here"
        document = {
            "AccessKeyId": key["id"],
            "SecretAccessKey": key["secret"],
            "Token": CONTAINER_TOKEN,
            "Expiration": expiration,
        }
        return 200, json.dumps(document)

    with serving(container) as endpoint:
        task = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{endpoint.url}/creds",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "task-auth",
        }
        document, caller = _hop(subprocess_env, moto, task)
        asked = list(endpoint.seen)
        again, _ = _hop(subprocess_env, moto, task)
        listed = _run(subprocess_env, moto, task, "list", "--json")

    assert caller == ROLE_CALLER
    assert [(seen.method, seen.path) for seen in asked] == [("GET", "/creds")]
    _assumed_with(recording, key["id"], CONTAINER_TOKEN)
    assert document["AccessKeyId"] != key["id"]  # the role's, not the task's
    # the role's credentials are cached: neither the container nor STS is asked again
    assert again == document
    assert len(endpoint.seen) == 1
    assert len(recording.calls("AssumeRole")) == 1
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)["profiles"]
    assert (row["chain"], row["credentials"]) == (
        ["EcsContainer", "hop"],
        "credential_source EcsContainer",
    )


class FakeInstance:
    """IMDSv2: a token from PUT /latest/api/token, required by every GET."""

    def __init__(self, key: dict[str, str]) -> None:
        self.key = key
        self.expiration = _expiration()

    def __call__(self, seen: Seen) -> tuple[int, str]:
        if seen.method == "PUT":
            if seen.path != "/latest/api/token":
                return 404, ""
            if not seen.header("X-aws-ec2-metadata-token-ttl-seconds"):
                return 400, ""
            return 200, IMDS_TOKEN
        if seen.header("X-aws-ec2-metadata-token") != IMDS_TOKEN:
            return 401, ""
        listing = "/latest/meta-data/iam/security-credentials/"
        if seen.path == listing:
            return 200, INSTANCE_ROLE
        if seen.path == listing + INSTANCE_ROLE:
            document = {
                "Code": "Success",
                "LastUpdated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Type": "AWS-HMAC",
                "AccessKeyId": self.key["id"],
                "SecretAccessKey": self.key["secret"],
                "Token": INSTANCE_TOKEN,
                "Expiration": self.expiration,
            }
            return 200, json.dumps(document)
        return 404, ""


def _instance_env(endpoint: FakeEndpoint, disabled: str | None = "false") -> dict[str, str | None]:
    # the sandbox sets AWS_EC2_METADATA_DISABLED=true for every test: an instance has it
    # unset (or false)
    return {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint.url,
        "AWS_EC2_METADATA_DISABLED": disabled,
    }


@pytest.mark.parametrize("disabled", ["false", None], ids=["false", "unset"])
def test_ec2_instance_metadata(
    sandbox: Sandbox,
    moto: Emulator,
    key: dict[str, str],
    subprocess_env: dict[str, str],
    recording: StsRecording,
    disabled: str | None,
) -> None:
    sandbox.write_rolehop(_profile("Ec2InstanceMetadata"))

    with serving(FakeInstance(key)) as endpoint:
        document, caller = _hop(subprocess_env, moto, _instance_env(endpoint, disabled))
        asked = list(endpoint.seen)

    assert caller == ROLE_CALLER
    assert [(seen.method, seen.path) for seen in asked] == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", f"/latest/meta-data/iam/security-credentials/{INSTANCE_ROLE}"),
    ]
    _assumed_with(recording, key["id"], INSTANCE_TOKEN)
    assert document["AccessKeyId"] != key["id"]


def test_ec2_instance_metadata_disabled_is_honoured(
    sandbox: Sandbox,
    moto: Emulator,
    key: dict[str, str],
    subprocess_env: dict[str, str],
    recording: StsRecording,
) -> None:
    sandbox.write_rolehop(_profile("Ec2InstanceMetadata"))

    with serving(FakeInstance(key)) as endpoint:
        disabled = _instance_env(endpoint, "true")
        result = _run(subprocess_env, moto, disabled, "credential-process", "hop")
        asked = list(endpoint.seen)

    assert result.returncode == 6, result.stderr
    assert "credential_source Ec2InstanceMetadata found no credentials" in result.stderr
    assert asked == []
    assert recording.calls() == []


def test_no_instance_metadata_service_fails_fast(
    sandbox: Sandbox, moto: Emulator, key: dict[str, str], subprocess_env: dict[str, str]
) -> None:
    sandbox.write_rolehop(_profile("Ec2InstanceMetadata"))
    with serving(lambda seen: (200, "")) as endpoint:
        gone = _instance_env(endpoint)  # a port that nothing listens on, once closed
    started = time.monotonic()
    result = _run(subprocess_env, moto, gone, "credential-process", "hop")
    assert time.monotonic() - started < 10
    assert result.returncode == 6, result.stderr
    (line,) = result.stderr.splitlines()
    assert "credential_source Ec2InstanceMetadata found no credentials" in line
