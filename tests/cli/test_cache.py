"""``cache list`` and ``cache clear`` (rolehop/cli/cache.py): what they show and forget,
never a secret, and exit 8 without a usable keyring or with caching off.

Most tests run ``rolehop.cli.main`` in process (``tests.support.cli.rolehop_main``: click's
``CliRunner.isolation()``, so stdout and stderr are captured apart and ``main``'s error
translation is exercised), with a fresh ``StubbedState`` per test: a stubbed STS with a
fixed clock (the ``sts`` fixture, over the module's files); its cache is the sandbox's
in-memory keyring.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from rolehop.stores.memory_keyring import MemoryKeyring
from tests.conftest import Sandbox
from tests.support.cli import (
    AWS_CONFIG,
    CONFIG,
    Outcome,
    StubbedState,
    expect_legacy,
    expect_research,
    rolehop_main,
)
from tests.support.stubs import JOE_CREDENTIALS, StubSts

# every test: a fresh state for main (shared fixture); those asking for sts: these files
pytestmark = [
    pytest.mark.usefixtures("restore_logging", "state"),
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG, aws_config=AWS_CONFIG),
]


def test_cache_list_shows_profiles_and_expiry_never_secrets(
    sts: StubSts, state: StubbedState
) -> None:
    company, research = expect_research(sts)
    assert rolehop_main("credential-process", "research").code == 0

    table = rolehop_main("cache", "list")
    document = rolehop_main("cache", "list", "--json")

    assert table.code == 0 and document.code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["PROFILE", "EXPIRES", "LEFT", "KEY"]
    assert [line.split()[0] for line in lines[1:]] == ["company", "research"]
    rows = json.loads(document.stdout)["entries"]
    assert [row["profile"] for row in rows] == ["company", "research"]
    for row, issued in zip(rows, (company, research), strict=True):
        assert issued.credentials.expiration is not None
        left = issued.credentials.expiration - state.clock.now
        assert row["seconds_left"] == int(left.total_seconds())
        for secret in (issued.credentials.secret_access_key, issued.credentials.session_token):
            assert secret and secret not in table.stdout + document.stdout
    sts.verify()


def test_cache_list_without_a_usable_keyring_is_exit_8(sts: StubSts) -> None:
    outcome = rolehop_main(
        "cache", "list", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    )
    assert (outcome.code, outcome.stdout) == (8, "")


def test_cache_clear_messages_and_counts(sts: StubSts, memory_keyring: MemoryKeyring) -> None:
    expect_research(sts)
    expect_legacy(sts)
    assert rolehop_main("credential-process", "research").code == 0
    assert rolehop_main("credential-process", "legacy").code == 0
    assert len(memory_keyring.items) == 4  # three hops and the index

    assert rolehop_main("cache", "clear", "legacy") == Outcome(
        0, "removed 1 cached credential (profile 'legacy')\n", ""
    )
    assert rolehop_main("cache", "clear", "legacy") == Outcome(
        0, "removed 0 cached credentials (profile 'legacy')\n", ""
    )
    assert rolehop_main("cache", "clear") == Outcome(
        0, "removed 2 cached credentials (all profiles)\n", ""
    )
    assert rolehop_main("cache", "clear") == Outcome(
        0, "removed 0 cached credentials (all profiles)\n", ""
    )
    assert list(memory_keyring.items) == [("rolehop", "index")]
    sts.verify()


def test_cache_clear_profile_removes_its_whole_chain(
    sts: StubSts, memory_keyring: MemoryKeyring
) -> None:
    expect_research(sts)
    assert rolehop_main("credential-process", "research").code == 0

    assert rolehop_main("cache", "clear", "research") == Outcome(
        0, "removed 2 cached credentials (profile 'research')\n", ""
    )


def test_cache_clear_of_an_unknown_profile(sts: StubSts, sandbox: Sandbox) -> None:
    outcome = rolehop_main("cache", "clear", "nope")

    assert outcome == Outcome(
        3,
        "",
        f"rolehop: error: profile 'nope' not found in {sandbox.rolehop_config} or "
        f"{sandbox.aws_config}; `rolehop list` shows the 4 known\n",
    )


# ---------------------------------------------------------------------------------------
# no usable keyring, or caching off: exit 8


def test_cache_clear_without_a_usable_keyring_is_exit_8(sts: StubSts) -> None:
    outcome = rolehop_main(
        "cache", "clear", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    )

    assert outcome == Outcome(
        8,
        "",
        "rolehop: error: no keyring cache to clear: no usable keyring backend "
        "(keyring.backends.fail.Keyring cannot store secrets). Run a Secret Service (e.g. "
        "gnome-keyring), or choose a backend with PYTHON_KEYRING_BACKEND or [settings] "
        "keyring_backend\n",
    )


@pytest.mark.parametrize(
    "command", [("cache", "clear"), ("cache", "clear", "research"), ("cache", "list")]
)
def test_cache_commands_with_a_locked_keyring_are_exit_8_with_the_reason(
    sts: StubSts, command: tuple[str, ...]
) -> None:
    outcome = rolehop_main(
        *command, env={"PYTHON_KEYRING_BACKEND": "tests.support.failing_keyring.FailingKeyring"}
    )

    assert outcome == Outcome(
        8,
        "",
        "rolehop: error: the keyring (tests.support.failing_keyring.FailingKeyring) failed to "
        "read: KeyringError: the keyring is locked (injected failure)\n",
    )


def test_cache_commands_with_caching_off_are_exit_8(sts: StubSts, sandbox: Sandbox) -> None:
    sandbox.write_rolehop("[settings]\ncache = false\n" + textwrap.dedent(CONFIG))

    for action in ("clear", "list"):
        assert rolehop_main("cache", action) == Outcome(
            8,
            "",
            f"rolehop: error: no keyring cache to {action}: caching is off ([settings] cache "
            "= false)\n",
        )
