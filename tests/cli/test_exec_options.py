"""``exec``: its options go anywhere between ``exec`` and ``--`` (or COMMAND), the same way.

Everything after ``--``, or from the first word that is not one of exec's options when
there is no ``--``, is COMMAND, untouched. ``execvpe`` and the credentials server are
replaced by recorders: what matters here is which options rolehop took and what it ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from rolehop.cli.state import AppState
from rolehop.engine.targets import Target, resolve_target
from tests.support.cli import CONFIG, StubbedState, expect_company, rolehop_main
from tests.support.stubs import JOE_CREDENTIALS

pytestmark = [
    pytest.mark.usefixtures("restore_logging", "world_files"),
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG),
]


@dataclass
class Ran:
    """What ``exec`` started: the argv, and whether it went through the server."""

    argv: list[str]
    server: bool
    access_key_id: str


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[Ran]:
    runs: list[Ran] = []

    def execvpe(file: str, args: list[str], env: dict[str, str]) -> None:
        assert file == args[0]
        runs.append(Ran(list(args), False, env["AWS_ACCESS_KEY_ID"]))

    def run_with_server(
        state: AppState,
        target: Target,
        command: tuple[str, ...],
        *,
        refresh: bool = False,
        mfa_token: str | None = None,
        session: bool = True,
    ) -> int:
        resolution = resolve_target(
            state.context, target, refresh=refresh, mfa_token=mfa_token, session=session
        )
        runs.append(Ran(list(command), True, resolution.credentials.access_key_id))
        return 0

    monkeypatch.setattr(os, "execvpe", execvpe)
    monkeypatch.setattr("rolehop.cli.serve.run_with_server", run_with_server)
    return runs


@pytest.mark.parametrize(
    ("words", "server", "argv"),
    [
        (["--server", "company", "--", "aws", "s3", "ls"], True, ["aws", "s3", "ls"]),
        (["company", "--server", "--", "aws", "s3", "ls"], True, ["aws", "s3", "ls"]),
        (["company", "--server", "aws", "s3", "ls"], True, ["aws", "s3", "ls"]),
        (["company", "--", "aws", "s3", "ls"], False, ["aws", "s3", "ls"]),
        (["company", "aws", "s3", "ls", "--server"], False, ["aws", "s3", "ls", "--server"]),
        (["company", "--", "--server"], False, ["--server"]),
        (["company", "--", "aws", "--", "--server"], False, ["aws", "--", "--server"]),
        (["company", "--mfa-token", "123456", "--", "aws"], False, ["aws"]),
        (["company", "--mfa-token=123456", "--server", "--", "aws"], True, ["aws"]),
        (["--mfa-token", "123456", "company", "--server", "aws"], True, ["aws"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_options_before_the_command_are_exec_s_wherever_they_are(
    state: StubbedState, ran: list[Ran], words: list[str], server: bool, argv: list[str]
) -> None:
    company = expect_company(state.sts)

    outcome = rolehop_main("exec", *words)

    state.sts.verify()
    assert (outcome.code, outcome.stdout, outcome.stderr) == (0, "", "")
    assert ran == [Ran(argv, server, company.credentials.access_key_id)]


@pytest.mark.parametrize(
    "words",
    [
        ["--refresh", "company", "--", "aws"],
        ["company", "--refresh", "--", "aws"],
        ["company", "--refresh", "aws"],
        ["company", "--server", "--refresh", "--", "aws"],
        ["--server", "company", "--refresh", "aws"],
    ],
    ids=" ".join,
)
def test_refresh_anywhere_before_the_command_assumes_again(
    state: StubbedState, ran: list[Ran], words: list[str]
) -> None:
    expect_company(state.sts, "first")
    second = expect_company(state.sts, "second")
    assert rolehop_main("credential-process", "company").code == 0

    outcome = rolehop_main("exec", *words)

    state.sts.verify()
    assert outcome.code == 0, outcome.stderr
    assert [run.access_key_id for run in ran] == [second.credentials.access_key_id]
    assert ran[0].argv == ["aws"]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["company", "--bogus", "--", "aws"], "No such option '--bogus'."),
        (["company", "--bogus", "aws"], "No such option '--bogus'."),
        (["--bogus", "company", "--", "aws"], "No such option '--bogus'."),
        (["company", "--mfa-token"], "Option '--mfa-token' requires an argument."),
        (["company", "--mfa-token", "--", "aws"], "Option '--mfa-token' requires an argument."),
        (["company", "--server", "--"], "missing COMMAND after --"),
        (["company", "--refresh"], "missing COMMAND after --"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_wrong_options_before_the_command_are_usage_errors(
    state: StubbedState, ran: list[Ran], words: list[str], message: str
) -> None:
    outcome = rolehop_main("exec", *words)

    assert (outcome.code, outcome.stdout, ran) == (2, "", [])
    assert outcome.stderr.endswith(f"Error: {message}\n"), outcome.stderr
    assert state.sts.calls == []


def test_help_after_the_profile_is_exec_s_help(state: StubbedState, ran: list[Ran]) -> None:
    outcome = rolehop_main("exec", "company", "--help")

    assert (outcome.code, ran, state.sts.calls) == (0, [], [])
    assert outcome.stdout.startswith("Usage: rolehop exec ")
