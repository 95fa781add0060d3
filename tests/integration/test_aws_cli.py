"""The real AWS CLI, fed by rolehop through ``credential_process`` and ``exec``, against moto."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rolehop.features.demo import RESEARCH, ROLE_ARN, ROLE_NAME, Emulator
from tests.conftest import REPO, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import aws_cli_dir, run_captured

ROLE_CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"
ROLEHOP = f"{shlex.quote(sys.executable)} -m rolehop"


@pytest.fixture
def aws_env(moto: Emulator, subprocess_env: dict[str, str]) -> dict[str, str]:
    """The sandbox environment plus what the AWS CLI needs to reach moto.

    AWS_ENDPOINT_URL is set explicitly: ``subprocess_env`` may have been built before the
    ``moto`` fixture put it into ``os.environ``.
    """
    return {
        **subprocess_env,
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": os.pathsep.join([aws_cli_dir(), subprocess_env["PATH"]]),
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_captured(args, env, cwd=REPO)


def _aws(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    aws = shutil.which("aws", path=env["PATH"])
    assert aws is not None
    return _run([aws, *args, "--output", "json"], env)


def _rolehop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "rolehop", *args], env)


def _caller(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def _assert_is_role(identity: dict[str, str]) -> None:
    assert identity["Arn"] == ROLE_CALLER
    assert identity["Account"] == RESEARCH
    assert identity["UserId"].startswith("AROA")
    assert identity["UserId"].endswith(":rolehop-tester")


@pytest.mark.usefixtures("joe")
def test_credential_process_profile_then_cache_hit(
    sandbox: Sandbox, moto: Emulator, aws_env: dict[str, str]
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    sandbox.write_aws_config(
        f"""\
        [profile research]
        credential_process = {ROLEHOP} credential-process research-ro
        """
    )
    keyring_file = Path(aws_env["ROLEHOP_TEST_KEYRING"])
    before = moto.assume_role_calls()

    first = _aws(aws_env, "sts", "get-caller-identity", "--profile", "research")
    _assert_is_role(_caller(first))
    assert moto.assume_role_calls() == before + 1
    assert keyring_file.exists()  # the credential_process child cached through the file keyring
    cached = keyring_file.read_text()

    second = _aws(aws_env, "sts", "get-caller-identity", "--profile", "research")
    _assert_is_role(_caller(second))
    assert moto.assume_role_calls() == before + 1  # cache hit: no new AssumeRole
    assert keyring_file.read_text() == cached


@pytest.mark.usefixtures("joe")
def test_aws_config_role_profile_needs_no_rolehop_setup(
    sandbox: Sandbox, moto: Emulator, aws_env: dict[str, str]
) -> None:
    assert not sandbox.rolehop_config.exists()
    sandbox.write_aws_config(
        f"""\
        [profile research-ro]
        role_arn = {ROLE_ARN}
        source_profile = joe

        [profile research]
        credential_process = {ROLEHOP} credential-process research-ro
        """
    )
    before = moto.assume_role_calls()

    via_cli = _aws(aws_env, "sts", "get-caller-identity", "--profile", "research")
    _assert_is_role(_caller(via_cli))
    assert moto.assume_role_calls() == before + 1

    # A profile left in the parent's environment must not reach the child: there, the CLI
    # could act as Joe instead of the role.
    parent = {**aws_env, "AWS_PROFILE": "joe", "AWS_DEFAULT_PROFILE": "joe"}
    via_exec = _rolehop(parent, "exec", "research-ro", "--", "aws", "sts", "get-caller-identity")
    _assert_is_role(_caller(via_exec))
    assert moto.assume_role_calls() == before + 1  # the same cache entry serves exec
    assert not sandbox.rolehop_config.exists()


@pytest.mark.usefixtures("joe")
def test_exec_propagates_the_exit_code(sandbox: Sandbox, aws_env: dict[str, str]) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)

    result = _rolehop(
        aws_env, "exec", "research-ro", "--", "sh", "-c", "echo out; echo err >&2; exit 7"
    )

    assert result.returncode == 7, result.stderr
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    ok = _rolehop(aws_env, "exec", "research-ro", "--", "sh", "-c", "exit 0")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.usefixtures("joe")
def test_exec_refresh_assumes_again(
    sandbox: Sandbox, moto: Emulator, aws_env: dict[str, str]
) -> None:
    """The synopsis: ``rolehop exec PROFILE [--refresh] -- COMMAND [ARGS...]``."""
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    assert _rolehop(aws_env, "credential-process", "research-ro").returncode == 0
    calls = moto.assume_role_calls()

    documented = _rolehop(aws_env, "exec", "research-ro", "--refresh", "--", "sh", "-c", "exit 3")
    assert documented.returncode == 3, documented.stderr
    assert documented.stderr == ""
    assert moto.assume_role_calls() == calls + 1

    option_first = _rolehop(aws_env, "exec", "--refresh", "research-ro", "--", "sh", "-c", "exit 4")
    assert option_first.returncode == 4, option_first.stderr
    assert option_first.stderr == ""
    assert moto.assume_role_calls() == calls + 2


@pytest.mark.usefixtures("joe")
def test_exec_child_environment(sandbox: Sandbox, moto: Emulator, aws_env: dict[str, str]) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    parent = {
        **aws_env,
        "AWS_PROFILE": "joe",
        "AWS_DEFAULT_PROFILE": "joe",
        "AWS_SECURITY_TOKEN": "stale-token",
        "AWS_ACCESS_KEY_ID": "AKIAPARENTKEY",
        "KEEP_ME": "kept\nas is",
    }
    process = _rolehop(aws_env, "credential-process", "research-ro")
    assert process.returncode == 0, process.stderr
    issued = json.loads(process.stdout)

    result = _rolehop(parent, "exec", "research-ro", "--", "env", "-0")

    assert result.returncode == 0, result.stderr
    child = dict(entry.split("=", 1) for entry in result.stdout.split("\0") if entry)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN"):
        assert name not in child
    assert child["AWS_ACCESS_KEY_ID"] == issued["AccessKeyId"]
    assert child["AWS_SECRET_ACCESS_KEY"] == issued["SecretAccessKey"]
    assert child["AWS_SESSION_TOKEN"] == issued["SessionToken"]
    assert child["AWS_CREDENTIAL_EXPIRATION"] == issued["Expiration"]
    assert child["ROLEHOP_PROFILE"] == "research-ro"
    assert child["KEEP_ME"] == "kept\nas is"
    assert child["AWS_ENDPOINT_URL"] == moto.url
    assert child["HOME"] == str(sandbox.home)
