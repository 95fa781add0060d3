"""Long waits show a spinner on stderr when it is a terminal, and nothing otherwise.

rolehop runs on a real pseudo-terminal (pexpect) against the moto server: behind the fault
proxy for a slow STS (a hang that botocore retries), and behind a lock held by this test for
another process's refresh.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rolehop.engine import context
from rolehop.engine.resolve import chain_of
from rolehop.features.demo import ROLE_ARN, Emulator
from rolehop.stores.locks import FileLocks, lock_dir
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.fault_proxy import FaultProxy, running
from tests.support.held import held_for
from tests.support.tools import on_a_terminal

ASSUMING = f"assuming {ROLE_ARN} for profile 'research-ro'"
WAITING = "waiting for another rolehop process refreshing profile 'research-ro'"


@pytest.fixture
def slow_sts(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> Iterator[tuple[FaultProxy, dict[str, str]]]:
    """research-ro behind a proxy whose first AssumeRole hangs 1.5 s (then is retried)."""
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    with running(moto.url) as proxy:
        proxy.fail("hang", 1, seconds=1.5, match=lambda request: request.action == "AssumeRole")
        env = {**subprocess_env, "AWS_ENDPOINT_URL": proxy.url, "TERM": "xterm-256color"}
        yield proxy, env


def test_a_slow_sts_call_spinson_a_terminal(slow_sts: tuple[FaultProxy, dict[str, str]]) -> None:
    proxy, env = slow_sts

    code, shown = on_a_terminal(env, "env", "research-ro", "--shell", "bash")

    assert code == 0, shown
    assert ASSUMING in shown
    assert "export AWS_ACCESS_KEY_ID=" in shown
    assert [handled.outcome for handled in proxy.requests] == ["hang", "forwarded"]


def test_no_spinner_when_stderr_is_not_a_terminal(
    slow_sts: tuple[FaultProxy, dict[str, str]], run_rolehop: RunRolehop
) -> None:
    _, env = slow_sts

    result = run_rolehop("env", "research-ro", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_waiting_for_a_lock_spinson_a_terminal(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    key = chain_of(context.build(subprocess_env), "research-ro").keys[-1]
    locks = FileLocks(lock_dir(subprocess_env))
    with held_for(locks, key, 2.0):
        code, shown = on_a_terminal(
            {**subprocess_env, "TERM": "xterm-256color"}, "env", "research-ro"
        )

    assert code == 0, shown
    assert WAITING in shown
