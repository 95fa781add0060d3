"""The Python API against moto over HTTP: real botocore, real STS calls, the sandbox keyring.

``joe`` seeds the emulator (two AssumeRole calls of its own) and writes Joe's key into
``~/.aws/credentials``; AWS_ENDPOINT_URL points rolehop's STS clients and the session's own
clients at moto.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import rolehop
from rolehop import api
from rolehop.agent import client
from rolehop.engine import context
from rolehop.engine.resolve import cached
from rolehop.errors import ConfigError, NetworkError
from rolehop.features.demo import ITEM_ID, REGION, RESEARCH, ROLE_NAME, TABLE, Emulator
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.stubs import FakeClock
from tests.support.tools import run_captured

SEEDED = 2  # the AssumeRole calls of the emulator's own set-up
CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"


@pytest.fixture
def research(sandbox: Sandbox, joe: dict[str, str], moto: Emulator) -> Emulator:
    sandbox.write_rolehop(RESEARCH_RO_TOML + f'region = "{REGION}"\n')
    assert moto.assume_role_calls() == SEEDED
    return moto


def test_a_session_acts_as_the_role(research: Emulator) -> None:
    session = rolehop.session("research-ro")

    assert session.region_name == REGION
    assert session.client("sts").get_caller_identity()["Arn"] == CALLER
    # the table exists only in the research account: the call was made as its role
    item = session.client("dynamodb").get_item(TableName=TABLE, Key={"id": {"S": ITEM_ID}})
    assert item["Item"]["owner"] == {"S": "research"}
    assert research.assume_role_calls() == SEEDED + 1


def test_the_second_session_and_credentials_come_from_the_cache(research: Emulator) -> None:
    first = rolehop.session("research-ro").get_credentials()
    assert first is not None

    again = rolehop.session("research-ro")
    frozen = rolehop.credentials("research-ro")

    assert research.assume_role_calls() == SEEDED + 1
    assert frozen == first.get_frozen_credentials()
    assert frozen.account_id == RESEARCH
    assert again.client("sts").get_caller_identity()["Arn"] == CALLER
    sts = research.client(
        "sts",
        aws_access_key_id=str(frozen.access_key),
        aws_secret_access_key=str(frozen.secret_key),
        aws_session_token=str(frozen.token),
    )
    assert sts.get_caller_identity()["Arn"] == CALLER


def test_a_session_refreshes_through_sts(research: Emulator) -> None:
    # moto issues one-hour credentials by its own (real) clock; rolehop's and botocore's
    # clock is this one
    clock = FakeClock(datetime.now(UTC))
    app = context.build(os.environ, clock=clock)
    session = api.session("research-ro", ctx=app)
    credentials = session.get_credentials()
    assert credentials is not None
    sts = session.client("sts")
    first = credentials.get_frozen_credentials()
    # the times below count from when moto issued them, not from when this test began
    held = cached(app, "research-ro")
    assert held is not None and held.credentials.expiration is not None
    issued = held.credentials.expiration - timedelta(hours=1)

    clock.now = issued + timedelta(minutes=44)  # 16 minutes left: rolehop would not serve
    assert sts.get_caller_identity()["Arn"] == CALLER  # them, but botocore does not ask yet
    assert credentials.get_frozen_credentials() == first
    assert research.assume_role_calls() == SEEDED + 1

    clock.now = issued + timedelta(minutes=46)  # 14 minutes left: botocore asks, rolehop
    assert sts.get_caller_identity()["Arn"] == CALLER  # assumes
    assert research.assume_role_calls() == SEEDED + 2
    # moto dated the new credentials by the real time, an hour from about `issued`: back to
    # that time, or the next look would see them inside botocore's window already
    clock.now = issued
    assert credentials.get_frozen_credentials().access_key != first.access_key
    assert research.assume_role_calls() == SEEDED + 2


@pytest.mark.usefixtures("joe")
def test_a_config_error_is_rolehops(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML.replace('"joe"', '"nobody"'))

    with pytest.raises(ConfigError, match="source profile 'nobody' not found"):
        rolehop.session("research-ro")


@pytest.mark.usefixtures("joe")
def test_an_unreachable_sts_is_rolehops(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    sandbox.write_rolehop("[settings]\nsts_max_attempts = 1\n" + RESEARCH_RO_TOML)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")

    with pytest.raises(NetworkError, match="profile 'research-ro'"):
        rolehop.credentials("research-ro")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens on it once the probe is closed


@pytest.fixture
def agent(
    research: Emulator, subprocess_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """An agent, started by the first `rolehop credential-process`; this process in its
    environment (the same keyring file, so the same agent)."""
    env = {**subprocess_env, "ROLEHOP_AGENT": "1"}
    for name in ("ROLEHOP_AGENT", "PYTHON_KEYRING_BACKEND", "ROLEHOP_TEST_KEYRING"):
        monkeypatch.setenv(name, env[name])
    yield env
    client.stop(env)
    deadline = time.monotonic() + 15
    while client.status(env) is not None:
        assert time.monotonic() < deadline, "the agent did not stop"
        time.sleep(0.05)


def test_a_running_agent_serves_the_cache(research: Emulator, agent: dict[str, str]) -> None:
    started = run_captured(
        [sys.executable, "-m", "rolehop", "credential-process", "research-ro"], agent
    )
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 15
    while client.status(agent) is None:
        assert time.monotonic() < deadline, "the agent did not start"
        time.sleep(0.05)
    app = api.default_context()

    session = api.session("research-ro", ctx=app)

    assert app.cache.description == "the agent's"  # it answered: no fallback to the keyring
    assert session.client("sts").get_caller_identity()["Arn"] == CALLER
    assert research.assume_role_calls() == SEEDED + 1
