"""Ad-hoc targets: ``--role-arn ARN --source PROFILE``, ``--region`` and ``--duration`` on
``env``, ``credential-process``, ``exec`` and ``serve`` (``use`` is ``env``), against a
stubbed STS: the same chain, cache and checks as a profile written that way."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest

from rolehop.engine.targets import Target
from tests.support.cli import (
    CONFIG,
    EXPIRES,
    expect_company,
    fresh_run,
    rolehop_main,
)
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_CREDENTIALS,
    StubSts,
    issue,
    params,
)

pytestmark = [
    pytest.mark.usefixtures("restore_logging", "state"),
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG),
]

AUDIT = "arn:aws:iam::333333333333:role/team/Audit+Read,Only"


def exports(text: str) -> dict[str, str]:
    """``export NAME='value'`` lines of bash output (values without quotes inside)."""
    found = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = value.strip("'")
    return found


def test_a_role_without_a_profile_is_reached_from_a_source(sts: StubSts) -> None:
    company = expect_company(sts)
    audit = issue("audit", AUDIT, EXPIRES)
    sts.expect_assume_role(params(AUDIT), audit.response)

    outcome = rolehop_main("env", "--role-arn", AUDIT, "--source", "company", "--shell", "bash")

    assert (outcome.code, outcome.stderr) == (0, "")
    sts.verify()
    assert sts.calls[1][0] == company.credentials  # the hop is signed by the source's role
    found = exports(outcome.stdout)
    assert found["AWS_ACCESS_KEY_ID"] == audit.credentials.access_key_id
    assert found["ROLEHOP_PROFILE"] == AUDIT
    assert Target.from_spec(found["ROLEHOP_TARGET"]) == Target(role_arn=AUDIT, source="company")


def test_an_ad_hoc_role_is_cached_like_a_profile(
    sts: StubSts, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect_company(sts)
    audit = issue("audit", AUDIT, EXPIRES)
    sts.expect_assume_role(params(AUDIT), audit.response)
    assert rolehop_main("env", "--role-arn", AUDIT, "--source", "company").code == 0

    later = fresh_run(monkeypatch)  # the next process: everything from the cache
    outcome = rolehop_main("credential-process", "--source", "company", "--role-arn", AUDIT)

    assert (outcome.code, outcome.stderr) == (0, "")
    assert json.loads(outcome.stdout)["AccessKeyId"] == audit.credentials.access_key_id
    assert later.sts.calls == []


def test_a_duration_is_sent_and_cached_apart(sts: StubSts, monkeypatch: pytest.MonkeyPatch) -> None:
    short = issue("short", COMPANY_ROLE, EXPIRES)
    sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=1800), short.response)
    first = rolehop_main("credential-process", "company", "--duration", "1800")
    assert (first.code, first.stderr) == (0, "")
    sts.verify()

    # the profile as written is another key: its own AssumeRole, without DurationSeconds
    plain = fresh_run(monkeypatch)
    company = expect_company(plain.sts)
    second = rolehop_main("credential-process", "company")
    assert json.loads(second.stdout)["AccessKeyId"] == company.credentials.access_key_id
    plain.sts.verify()

    again = fresh_run(monkeypatch)
    third = rolehop_main("credential-process", "company", "--duration=1800")
    assert json.loads(third.stdout)["AccessKeyId"] == short.credentials.access_key_id
    assert again.sts.calls == []


def test_a_region_overrides_the_profile_s_for_one_call(
    sts: StubSts, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect_company(sts)
    moved = rolehop_main("env", "company", "--region", "ap-south-1", "--shell", "bash")
    assert moved.code == 0, moved.stderr
    assert exports(moved.stdout)["AWS_REGION"] == "ap-south-1"
    assert sts.calls[-1][1] == "ap-south-1"  # STS of that region, too
    assert json.loads(exports(moved.stdout)["ROLEHOP_TARGET"]) == {
        "profile": "company",
        "region": "ap-south-1",
    }

    # the credentials are the same either way: the next call is a cache hit
    later = fresh_run(monkeypatch)
    plain = rolehop_main("env", "company", "--shell", "bash")
    assert exports(plain.stdout)["AWS_REGION"] == "eu-west-1"
    assert "ROLEHOP_TARGET" not in exports(plain.stdout)
    assert "ROLEHOP_TARGET" in plain.stdout.splitlines()[0]  # unset: no earlier target stays
    assert later.sts.calls == []


def test_a_base_profile_takes_a_region_but_not_a_duration(sts: StubSts) -> None:
    outcome = rolehop_main("env", "joe", "--no-session", "--region", "us-west-2")
    assert outcome.code == 0, outcome.stderr
    assert exports(outcome.stdout)["AWS_REGION"] == "us-west-2"

    refused = rolehop_main("env", "joe", "--duration", "900")
    assert refused.code == 2
    assert "--duration: profile 'joe' is a base profile, not a role" in refused.stderr
    assert sts.calls == []


def test_the_shell_asks_for_the_same_target_again(sts: StubSts) -> None:
    expect_company(sts)
    audit = issue("audit", AUDIT, EXPIRES)
    sts.expect_assume_role(params(AUDIT, DurationSeconds=1800), audit.response)
    spec = Target(role_arn=AUDIT, source="company", duration=1800).spec()

    outcome = rolehop_main("env", "--target", spec, "--shell", "bash")

    assert outcome.code == 0, outcome.stderr
    assert exports(outcome.stdout)["ROLEHOP_TARGET"] == spec
    sts.verify()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("env",), "name a profile, or a role to become: --role-arn ARN --source PROFILE"),
        (("env", "--role-arn", AUDIT), "--role-arn needs --source PROFILE"),
        (("env", "--source", "company"), "--source goes with --role-arn ARN"),
        (
            ("env", "company", "--role-arn", AUDIT, "--source", "joe"),
            "--role-arn: give either PROFILE ('company') or --role-arn, not both",
        ),
        (
            ("env", "--role-arn", "arn:aws:iam::1:role/x", "--source", "joe"),
            "--role-arn: 'arn:aws:iam::1:role/x' is not an IAM role ARN",
        ),
        (
            ("env", "--role-arn", AUDIT, "--source", "compnay"),
            "--source: profile 'compnay' not found in",
        ),
        (("env", "company", "--region", "Mars"), "--region: 'Mars' is not an AWS region name"),
        (("env", "company", "--duration", "60"), "--duration: 60 is outside 900-43200 seconds"),
        (("env", "company", "--target", "{}"), "--target goes alone"),
        (("env", "--target", '{"profile": 1}'), "--target: '{\"profile\": 1}' is not what"),
        (("env", "--target", "[]"), "--target: '[]' is not what ROLEHOP_TARGET holds"),
        (("exec", "--role-arn", AUDIT, "--", "true"), "--role-arn needs --source PROFILE"),
        (
            ("exec", "--role-arn", AUDIT, "--source", "joe", "company", "--", "true"),
            "--role-arn: give either PROFILE ('company') or --role-arn, not both",
        ),
        (("credential-process", "company", "--duration", "x"), "'x' is not a valid integer"),
    ],
)
def test_an_impossible_target_is_one_line_and_no_call(
    sts: StubSts, args: tuple[str, ...], message: str
) -> None:
    outcome = rolehop_main(*args)
    assert outcome.code == 2, outcome
    assert message in outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert sts.calls == []


def test_the_source_s_suggestions_are_said(sts: StubSts) -> None:
    outcome = rolehop_main("env", "--role-arn", AUDIT, "--source", "compnay")
    assert "did you mean 'company'?" in outcome.stderr


def test_an_override_of_an_unknown_profile_is_the_usual_error(sts: StubSts) -> None:
    plain = rolehop_main("env", "nope")
    overridden = rolehop_main("env", "nope", "--region", "eu-west-1", "--duration", "1800")
    assert overridden == plain
    assert plain.code == 3 and "profile 'nope' not found in" in plain.stderr


@dataclass(frozen=True)
class Execed:
    argv: list[str]
    env: dict[str, str]


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[Execed]:
    calls: list[Execed] = []

    def execvpe(file: str, args: list[str], env: dict[str, str]) -> None:
        assert file == args[0]
        calls.append(Execed(list(args), dict(env)))

    monkeypatch.setattr(os, "execvpe", execvpe)
    return calls


@pytest.mark.parametrize(
    "args",
    [
        ("--role-arn", AUDIT, "--source", "company", "--", "aws", "--debug", "s3", "ls"),
        ("--role-arn", AUDIT, "--source", "company", "aws", "--debug", "s3", "ls"),
        ("--role-arn", AUDIT, "--source=company", "--", "aws", "--debug", "s3", "ls"),
    ],
)
def test_exec_an_ad_hoc_role(sts: StubSts, execs: list[Execed], args: tuple[str, ...]) -> None:
    expect_company(sts)
    audit = issue("audit", AUDIT, EXPIRES)
    sts.expect_assume_role(params(AUDIT), audit.response)

    outcome = rolehop_main("exec", *args)

    assert outcome.code == 0, outcome.stderr
    assert execs[0].argv == ["aws", "--debug", "s3", "ls"]
    assert execs[0].env["AWS_ACCESS_KEY_ID"] == audit.credentials.access_key_id
    assert execs[0].env["ROLEHOP_PROFILE"] == AUDIT


@pytest.mark.parametrize(
    "args",
    [
        ("company", "--duration", "900", "--region", "ap-south-1", "--", "aws", "s3"),
        ("company", "--duration=900", "--region=ap-south-1", "aws", "s3"),
        ("--duration", "900", "company", "--region", "ap-south-1", "aws", "s3"),
    ],
)
def test_exec_overrides_wherever_exec_s_options_go(
    sts: StubSts, execs: list[Execed], args: tuple[str, ...]
) -> None:
    short = issue("short", COMPANY_ROLE, EXPIRES)
    sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=900), short.response)

    outcome = rolehop_main("exec", *args)

    assert outcome.code == 0, outcome.stderr
    assert execs[0].argv == ["aws", "s3"]
    assert execs[0].env["AWS_REGION"] == "ap-south-1"
    assert execs[0].env["AWS_ACCESS_KEY_ID"] == short.credentials.access_key_id
    sts.verify()


def test_exec_still_needs_a_command(sts: StubSts) -> None:
    for args in (("exec", "company"), ("exec", "--role-arn", AUDIT, "--source", "company")):
        outcome = rolehop_main(*args)
        assert outcome.code == 2
        assert "Missing argument 'COMMAND...'" in outcome.stderr
    assert sts.calls == []
