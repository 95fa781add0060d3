"""``rolehop doctor`` end to end: a healthy setup exits 0, a broken one lists what to fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.conftest import Sandbox
from tests.support.cli import StubbedState, rolehop_main
from tests.support.local_endpoints import FakeEndpoint, Seen, serving
from tests.support.stubs import COMPANY_ROLE, NOW

HEALTHY_TOML = f"""\
    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"
    """


def _refused(seen: Seen) -> tuple[int, str]:
    return 403, "<ErrorResponse/>"


@pytest.fixture
def sts_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEndpoint]:
    """An STS stand-in that only tells the time (its Date header)."""
    with serving(_refused) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        yield endpoint


@pytest.fixture
def healthy(sandbox: Sandbox, sts_endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.write_rolehop(HEALTHY_TOML)
    sandbox.write_aws_credentials("[joe]\naws_access_key_id = AKIAJOE\naws_secret_access_key = s\n")
    sandbox.write_aws_config(
        "[profile company-cli]\ncredential_process = rolehop credential-process company\n"
    )
    monkeypatch.setenv("ROLEHOP_SHELL", "bash")


def test_a_healthy_setup_is_all_ticks(healthy: None, sts_endpoint: FakeEndpoint) -> None:
    outcome = rolehop_main("doctor")

    assert outcome.code == 0, outcome
    lines = outcome.stdout.splitlines()
    assert lines and all(line.startswith("✓ ") for line in lines), lines
    topics = [line.split(":")[0][2:] for line in lines]
    assert topics == [
        "config", "config", "config", "profiles", "keyring", "shell", "clock", "aws-cli",
    ]  # fmt: skip
    assert "1 AWS profile(s) use rolehop" in lines[-1]
    assert outcome.stderr == ""
    assert [seen.method for seen in sts_endpoint.seen] == ["GET"]


def test_json_has_every_check(healthy: None) -> None:
    document = json.loads(rolehop_main("doctor", "--json").stdout)

    assert document["version"] == 1 and document["healthy"] is True
    assert {check["topic"] for check in document["checks"]} == {
        "config", "profiles", "keyring", "shell", "clock", "aws-cli",
    }  # fmt: skip
    assert set(document["checks"][0]) == {"topic", "verdict", "summary", "fix"}


def test_a_broken_setup_exits_1_with_a_fix_under_each_failure(
    sandbox: Sandbox, sts_endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.write_rolehop(HEALTHY_TOML)  # joe has no keys anywhere
    sandbox.write_aws_config(
        "[profile typo]\ncredential_process = rolehop credential-process compny\n"
        "[profile bad]\nrole_arn = nonsense\n"
    )
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.failing_keyring.FailingKeyring")

    outcome = rolehop_main("doctor")

    assert outcome.code == 1
    failures = [line for line in outcome.stdout.splitlines() if line.startswith("✗")]
    assert len(failures) == 4, outcome.stdout
    assert failures[0].startswith(f"✗ profiles: {sandbox.aws_config}:4: profile 'bad'")
    assert "'company'" in failures[1] and "rolehop keys add joe" in failures[1]
    assert failures[2].startswith("✗ keyring: tests.support.failing_keyring.FailingKeyring")
    assert "compny" in failures[3]
    lines = outcome.stdout.splitlines()
    for failure in failures:
        assert lines[lines.index(failure) + 1].startswith("    fix: ")
    assert "! shell: no shell integration" in outcome.stdout


def test_a_broken_rolehop_file_still_runs_the_other_checks(
    sandbox: Sandbox, sts_endpoint: FakeEndpoint
) -> None:
    sandbox.write_rolehop("[profiles.company\n")

    outcome = rolehop_main("doctor")

    assert outcome.code == 1
    assert outcome.stdout.startswith(f"✗ config: {sandbox.rolehop_config}:1:")
    assert "✓ keyring:" in outcome.stdout and "✓ clock:" in outcome.stdout


def test_a_skewed_clock_fails(
    healthy: None, sts_endpoint: FakeEndpoint, state: StubbedState
) -> None:
    # STS's clock frozen too: seven minutes apart exactly, however long doctor takes to ask
    sts_endpoint.clock = lambda: NOW
    state.clock.now = NOW + timedelta(minutes=7)  # skewed

    outcome = rolehop_main("doctor")

    assert outcome.code == 1
    assert "✗ clock: local clock 420 s ahead of STS" in outcome.stdout, outcome.stdout


def test_doctor_is_documented_and_offers_json() -> None:
    outcome = rolehop_main("doctor", "--help")
    assert outcome.code == 0 and "--json" in outcome.stdout
