"""STS faults, injected by a proxy in front of the moto server (tests/support/fault_proxy.py).

rolehop runs as a subprocess with ``AWS_ENDPOINT_URL`` at the proxy: 5xx and throttling are
retried with botocore's standard mode, up to ``sts_max_attempts``; hangs end with the read
timeout; every failure is one stderr line naming the profile, the hop's role and the
endpoint, with the right exit code. The proxy counts what reached the endpoint.

The emulator is seeded once for the module (seeding costs a second; these tests only assume
roles, which changes nothing another test depends on), so no test here uses the ``moto``
fixture, which would reset it.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rolehop.features.demo import RESEARCH, ROLE_ARN, ROLE_NAME, Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import (
    RESEARCH_RO_TOML,
    WAREHOUSE,
    WAREHOUSE_ARN,
    WAREHOUSE_ROLE,
    caller_arn,
    warehouse_chain,
)
from tests.support.failing_keyring import MESSAGE as KEYRING_FAILURE
from tests.support.fault_proxy import FaultProxy, Match, ProxiedRequest, running

ROLE_CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"
WAREHOUSE_CALLER = f"arn:aws:sts::{WAREHOUSE}:assumed-role/{WAREHOUSE_ROLE}/rolehop-tester"
FAILING_KEYRING = "tests.support.failing_keyring.FailingKeyring"


@dataclass(frozen=True)
class Seeded:
    moto: Emulator
    joe: dict[str, str]  # Joe's access key (id, secret)
    chain_toml: str  # rolehop.toml of the 2-hop chain research-ro -> warehouse


@pytest.fixture(scope="module")
def seeded(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The emulator reset and seeded as ``joe`` and ``warehouse_chain`` do, once."""
    reset = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(reset, timeout=10):  # noqa: S310 - loopback only
        pass
    emulator = Emulator(moto_url)
    key = emulator.seed()
    root = tmp_path_factory.mktemp("chain")
    box = Sandbox(root, root, root / "rolehop.toml", root / "config", root / "credentials")
    warehouse_chain(box, emulator)  # creates the warehouse role, writes the chain's TOML
    return Seeded(emulator, key, box.rolehop_config.read_text())


@pytest.fixture
def moto(seeded: Seeded) -> Emulator:
    """Overrides the conftest fixture: this module's emulator is not reset per test."""
    return seeded.moto


@pytest.fixture
def joe(sandbox: Sandbox, seeded: Seeded) -> dict[str, str]:
    """Joe's access key in ``~/.aws/credentials`` as ``joe`` (as the conftest fixture)."""
    key = seeded.joe
    sandbox.write_aws_credentials(
        f"""\
        [joe]
        aws_access_key_id = {key["id"]}
        aws_secret_access_key = {key["secret"]}
        """
    )
    return key


@pytest.fixture
def proxy(moto: Emulator) -> Iterator[FaultProxy]:
    with running(moto.url) as started:
        yield started
    assert started.handler_errors == []


@pytest.fixture
def rolehop(
    joe: dict[str, str], proxy: FaultProxy, run_rolehop: RunRolehop
) -> Iterator[RunRolehop]:
    """``run_rolehop`` with every STS call going through the proxy, Joe's keys in place."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_rolehop(*args, env={"AWS_ENDPOINT_URL": proxy.url, **(env or {})})

    yield run


def _assume_role(request: ProxiedRequest) -> bool:
    return request.action == "AssumeRole"


def _of(role_arn: str) -> Match:
    def match(request: ProxiedRequest) -> bool:
        return request.action == "AssumeRole" and request.params.get("RoleArn") == role_arn

    return match


def _settings(**values: object) -> str:
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
    return f"[settings]\n{lines}\n{RESEARCH_RO_TOML}"


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert lines[0].startswith("rolehop: error: "), lines[0]
    return lines[0]


def _names(line: str, profile: str, role_arn: str, proxy: FaultProxy) -> None:
    """The line names the profile (first), the hop's role and the endpoint."""
    assert line.startswith(f"rolehop: error: profile {profile!r}"), line
    assert role_arn in line, line
    assert proxy.url in line, line


def _succeeded(moto: Emulator, result: subprocess.CompletedProcess[str], caller: str) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert caller_arn(moto, json.loads(result.stdout)) == caller


# ---------------------------------------------------------------------------------------
# 5xx and throttling: retried up to sts_max_attempts (default 3)


def test_two_internal_failures_are_retried(
    sandbox: Sandbox, moto: Emulator, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    proxy.fail("error", 2, match=_assume_role)

    result = rolehop("credential-process", "research-ro")

    _succeeded(moto, result, ROLE_CALLER)
    assert proxy.outcomes("AssumeRole") == {"error": 2, "forwarded": 1}
    assert proxy.count() == 3  # and nothing else reached STS


def test_internal_failures_beyond_the_attempts_fail_in_one_line(
    sandbox: Sandbox, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    proxy.fail("error", 10, match=_assume_role)

    result = rolehop("credential-process", "research-ro")

    assert result.returncode == 4, result.stderr
    line = _one_error_line(result)
    _names(line, "research-ro", ROLE_ARN, proxy)
    assert "InternalFailure" in line
    assert proxy.outcomes() == {"error": 3}


def test_throttling_is_retried(
    sandbox: Sandbox, moto: Emulator, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    proxy.fail("throttle", 2, match=_assume_role)

    result = rolehop("credential-process", "research-ro")

    _succeeded(moto, result, ROLE_CALLER)
    assert proxy.outcomes() == {"throttle": 2, "forwarded": 1}


def test_throttling_beyond_the_attempts_fails_in_one_line(
    sandbox: Sandbox, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    proxy.fail("throttle", 10, match=_assume_role)

    result = rolehop("credential-process", "research-ro")

    assert result.returncode == 4, result.stderr
    line = _one_error_line(result)
    _names(line, "research-ro", ROLE_ARN, proxy)
    assert "Throttling" in line
    assert proxy.outcomes() == {"throttle": 3}


def test_one_attempt_means_no_retry(
    sandbox: Sandbox, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(_settings(sts_max_attempts=1))
    proxy.fail("error", 1, match=_assume_role)  # the next call would have succeeded

    result = rolehop("credential-process", "research-ro")

    assert result.returncode == 4, result.stderr
    _names(_one_error_line(result), "research-ro", ROLE_ARN, proxy)
    assert proxy.outcomes() == {"error": 1}


# ---------------------------------------------------------------------------------------
# hangs and dropped connections


def test_a_hanging_endpoint_ends_with_the_read_timeout(
    sandbox: Sandbox, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(_settings(sts_read_timeout=1, sts_max_attempts=2))
    proxy.fail("hang", 10, seconds=30)

    started = time.monotonic()
    result = rolehop("credential-process", "research-ro")
    elapsed = time.monotonic() - started

    assert elapsed < 10, f"{elapsed:.1f} s"
    assert result.returncode == 7, result.stderr
    line = _one_error_line(result)
    _names(line, "research-ro", ROLE_ARN, proxy)
    assert "timeout" in line.lower()
    assert proxy.outcomes("AssumeRole") == {"hang": 2}


def test_a_dropped_connection_is_retried(
    sandbox: Sandbox, moto: Emulator, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    proxy.fail("close", 1, match=_assume_role)

    result = rolehop("credential-process", "research-ro")

    _succeeded(moto, result, ROLE_CALLER)
    assert proxy.outcomes() == {"close": 1, "forwarded": 1}


def test_connections_dropped_on_every_attempt_are_a_network_error(
    sandbox: Sandbox, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    proxy.fail("close", 10)

    result = rolehop("credential-process", "research-ro")

    assert result.returncode == 7, result.stderr
    line = _one_error_line(result)
    _names(line, "research-ro", ROLE_ARN, proxy)
    assert "cannot reach the STS endpoint" in line
    assert proxy.outcomes() == {"close": 3}


# ---------------------------------------------------------------------------------------
# a 2-hop chain: the failing hop is named, the hop before it stays cached


def test_a_failing_second_hop_keeps_the_first_cached(
    sandbox: Sandbox, seeded: Seeded, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(seeded.chain_toml)
    proxy.fail("error", 3, match=_of(WAREHOUSE_ARN))

    failed = rolehop("credential-process", "warehouse")

    assert failed.returncode == 4, failed.stderr
    line = _one_error_line(failed)
    # the failing hop is the target itself: its role, not the first hop's, is named
    _names(line, "warehouse", WAREHOUSE_ARN, proxy)
    assert ROLE_ARN not in line
    assert "InternalFailure" in line
    assert proxy.outcomes("AssumeRole") == {"forwarded": 1, "error": 3}

    proxy.reset_counts()  # the fault is used up: the endpoint answers again
    retried = rolehop("credential-process", "warehouse")

    _succeeded(seeded.moto, retried, WAREHOUSE_CALLER)
    calls = [handled for handled in proxy.requests if handled.request.action == "AssumeRole"]
    assert [(h.request.params["RoleArn"], h.outcome) for h in calls] == [
        (WAREHOUSE_ARN, "forwarded")
    ]


def test_a_failing_first_hop_is_named_as_the_hop(
    sandbox: Sandbox, seeded: Seeded, proxy: FaultProxy, rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(seeded.chain_toml)
    proxy.fail("error", 3, match=_of(ROLE_ARN))

    failed = rolehop("credential-process", "warehouse")

    assert failed.returncode == 4, failed.stderr
    line = _one_error_line(failed)
    assert line.startswith("rolehop: error: profile 'warehouse' (hop 'research-ro'): "), line
    _names(line, "warehouse", ROLE_ARN, proxy)
    assert WAREHOUSE_ARN not in line
    assert proxy.outcomes("AssumeRole") == {"error": 3}


# ---------------------------------------------------------------------------------------
# a keyring that raises on every call


@pytest.fixture
def keyring_calls(tmp_path: Path) -> Path:
    return tmp_path / "keyring-calls.log"


@pytest.fixture
def failing_keyring(keyring_calls: Path) -> dict[str, str]:
    return {
        "PYTHON_KEYRING_BACKEND": FAILING_KEYRING,
        "ROLEHOP_TEST_KEYRING_CALLS": str(keyring_calls),
    }


def _keyring_warnings(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr: only warnings about the failing keyring, at least one."""
    lines = result.stderr.splitlines()
    assert lines, "no warning about the failing keyring"
    assert "Traceback" not in result.stderr
    for line in lines:
        assert line.startswith("rolehop: warning: the keyring ("), result.stderr
        assert KEYRING_FAILURE in line, result.stderr
    return lines


def _exported(env_output: str) -> dict[str, str]:
    """What ``eval`` of ``rolehop env --shell bash`` output sets in a real bash."""
    printed = subprocess.run(
        ["bash", "-c", 'eval "$1"; env -0', "bash", env_output],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return dict(item.split("=", 1) for item in printed.split("\0") if "=" in item)


def test_credential_process_works_without_a_working_keyring(
    sandbox: Sandbox,
    moto: Emulator,
    proxy: FaultProxy,
    rolehop: RunRolehop,
    failing_keyring: dict[str, str],
    keyring_calls: Path,
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)

    for _ in range(2):  # nothing can be cached: each run goes to STS again
        result = rolehop("credential-process", "research-ro", env=failing_keyring)
        assert result.returncode == 0, result.stderr
        _keyring_warnings(result)
        assert caller_arn(moto, json.loads(result.stdout)) == ROLE_CALLER

    assert proxy.outcomes("AssumeRole") == {"forwarded": 2}
    assert keyring_calls.read_text() != ""  # the keyring was really asked, and failed


def test_env_works_without_a_working_keyring(
    sandbox: Sandbox,
    moto: Emulator,
    proxy: FaultProxy,
    rolehop: RunRolehop,
    failing_keyring: dict[str, str],
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)

    result = rolehop("env", "research-ro", "--shell", "bash", env=failing_keyring)

    assert result.returncode == 0, result.stderr
    _keyring_warnings(result)
    exported = _exported(result.stdout)
    assert exported["ROLEHOP_PROFILE"] == "research-ro"
    document = {
        "AccessKeyId": exported["AWS_ACCESS_KEY_ID"],
        "SecretAccessKey": exported["AWS_SECRET_ACCESS_KEY"],
        "SessionToken": exported["AWS_SESSION_TOKEN"],
    }
    assert caller_arn(moto, document) == ROLE_CALLER
    assert proxy.outcomes("AssumeRole") == {"forwarded": 1}


@pytest.mark.parametrize("command", ["credential-process", "env"])
def test_a_failing_keyring_is_warned_about_once(
    sandbox: Sandbox, rolehop: RunRolehop, failing_keyring: dict[str, str], command: str
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)

    result = rolehop(command, "research-ro", env={**failing_keyring, "SHELL": "/bin/bash"})

    assert result.returncode == 0, result.stderr
    assert len(_keyring_warnings(result)) == 1, result.stderr


def test_keys_add_fails_and_stores_nothing(
    sandbox: Sandbox,
    joe: dict[str, str],
    rolehop: RunRolehop,
    failing_keyring: dict[str, str],
    keyring_calls: Path,
) -> None:
    keys = {"AWS_ACCESS_KEY_ID": joe["id"], "AWS_SECRET_ACCESS_KEY": joe["secret"]}
    sandbox.aws_credentials.unlink()  # the only copy of the secret is in the environment

    result = rolehop(
        "keys", "add", "joe", "--from-env", "--no-verify", env={**failing_keyring, **keys}
    )

    assert result.returncode == 8, result.stderr
    line = _one_error_line(result)
    assert KEYRING_FAILURE in line
    assert joe["secret"] not in result.stderr
    # nothing was written anywhere: not in a file of the sandbox, not in the keyring
    for path in sandbox.root.rglob("*"):
        if path.is_file():
            assert joe["secret"] not in path.read_text(errors="replace"), path
    assert keyring_calls.read_text() != ""  # the failure came from the keyring itself
