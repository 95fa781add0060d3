"""``list`` (rolehop/cli/profiles.py): the profiles of both files as a table or JSON, where
each one's keys are, when its cached credentials expire, and the errors of the broken ones.
(One warning per problem: tests/cli/test_list_warnings.py.)

Most tests run ``rolehop.cli.main`` in process (``tests.support.cli.rolehop_main``: click's
``CliRunner.isolation()``, so stdout and stderr are captured apart and ``main``'s error
translation is exercised), with a fresh ``StubbedState`` per test: a stubbed STS with a
fixed clock (the ``sts`` fixture, over the module's files); its cache is the sandbox's
in-memory keyring.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.support.cli import (
    AWS_CONFIG,
    CONFIG,
    EXPIRES_TEXT,
    Outcome,
    expect_company,
    expect_legacy,
    expect_research,
    rolehop_main,
)
from tests.support.stubs import COMPANY_ROLE, JOE_CREDENTIALS, LEGACY_ROLE, RESEARCH_ROLE, StubSts

# every test: a fresh state for main (shared fixture); those asking for sts: these files
pytestmark = [
    pytest.mark.usefixtures("restore_logging", "state"),
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG, aws_config=AWS_CONFIG),
]


def test_list_table(sts: StubSts, sandbox: Sandbox) -> None:
    aws = str(sandbox.aws_config)
    outcome = rolehop_main("list")

    assert outcome.code == 0
    creds = f"keys in {sandbox.aws_credentials}"
    assert outcome.stdout.splitlines() == [
        "PROFILE   ROLE                                          SOURCE  HOPS  REGION        FROM"
        "     CREDENTIALS",
        "bad       -                                             -       !     -             aws"
        "      -",
        "company   arn:aws:iam::111111111111:role/company-admin  "
        f"joe     1     eu-west-1     rolehop  {creds}",
        "joe       -                                             joe     0     -             aws"
        f"      {creds}",
        f"legacy    arn:aws:iam::333333333333:role/legacy         joe     1     eu-central-1  aws"
        f"      {creds}",
        "research  arn:aws:iam::222222222222:role/research-ro    "
        f"joe     2     -             rolehop  {creds}",
    ]
    assert outcome.stdout.endswith(f"{creds}\n")
    assert outcome.stderr == (
        f"rolehop: warning: {aws}:7: profile 'bad', key 'role_arn': 'not-an-arn' is not an IAM "
        "role ARN (arn:aws:iam::123456789012:role/NAME)\n"
    )
    assert sts.calls == []


def test_list_json(sts: StubSts, sandbox: Sandbox) -> None:
    rolehop_path, aws = str(sandbox.rolehop_config), str(sandbox.aws_config)

    outcome = rolehop_main("list", "--json")

    def row(
        name: str,
        origin: str,
        path: str,
        role: str | None,
        source: str | None,
        chain: list[str],
        region: str | None,
        error: str | None,
        kind: str = "role",
    ) -> dict[str, Any]:
        return {
            "name": name,
            "origin": origin,
            "path": path,
            "role_arn": role,
            "source": source,
            "chain": chain,
            "region": region,
            "error": error,
            "credentials": None if error else f"keys in {sandbox.aws_credentials}",
            "cached_until": None,
            "kind": kind,
            "hops": max(len(chain) - 1, 0),
        }

    document = {
        "version": 1,
        "profiles": [
            row(
                "bad",
                "aws",
                aws,
                None,
                None,
                [],
                None,
                f"{aws}:7: profile 'bad', key 'role_arn': 'not-an-arn' is not an IAM role "
                "ARN (arn:aws:iam::123456789012:role/NAME)",
            ),
            row(
                "company",
                "rolehop",
                rolehop_path,
                COMPANY_ROLE,
                "joe",
                ["joe", "company"],
                "eu-west-1",
                None,
            ),
            row("legacy", "aws", aws, LEGACY_ROLE, "joe", ["joe", "legacy"], "eu-central-1", None),
            row(
                "research",
                "rolehop",
                rolehop_path,
                RESEARCH_ROLE,
                "company",
                ["joe", "company", "research"],
                None,
                None,
            ),
        ],
        # base profiles apart: "profiles" holds the role profiles, as it always did
        "bases": [
            row("joe", "aws", str(sandbox.aws_credentials), None, None, ["joe"], None, None, "base")
        ],
    }
    assert outcome == Outcome(0, json.dumps(document, indent=2) + "\n", "")
    assert [p["hops"] for p in json.loads(outcome.stdout)["profiles"]] == [0, 1, 1, 2]


def test_list_says_where_the_keys_are_of_a_profile_in_both_files(
    sts: StubSts, sandbox: Sandbox
) -> None:
    sandbox.write_aws_config(AWS_CONFIG + "\n[profile joe]\nregion = eu-west-1\n")

    rows = _rows(rolehop_main("list", "--json"))

    assert rows["company"]["credentials"] == f"keys in {sandbox.aws_credentials}"
    assert rows["legacy"]["credentials"] == f"keys in {sandbox.aws_credentials}"


# Profile names the AWS CLI takes and rolehop's old pattern refused; "[bold]x" is rich markup.
NAMED_LIKE_THE_AWS_CLI = f"""\
    [profile team/dev]
    role_arn = {LEGACY_ROLE}
    source_profile = joe

    [profile "team dev"]
    role_arn = {LEGACY_ROLE}
    source_profile = joe

    [profile [bold]x]
    role_arn = {LEGACY_ROLE}
    source_profile = joe
    """


def test_every_profile_name_the_aws_cli_takes_works(sts: StubSts, sandbox: Sandbox) -> None:
    sandbox.write_aws_config(NAMED_LIKE_THE_AWS_CLI)
    legacy = expect_legacy(sts)

    rows = _rows(rolehop_main("list", "--json"))
    used = rolehop_main("env", "team dev", "--shell", "bash")

    assert {name: row["chain"] for name, row in rows.items() if row["error"] is None} == {
        "[bold]x": ["joe", "[bold]x"],
        "company": ["joe", "company"],
        "research": ["joe", "company", "research"],
        "team dev": ["joe", "team dev"],
        "team/dev": ["joe", "team/dev"],
    }
    assert used.code == 0, used.stderr
    assert "export ROLEHOP_PROFILE='team dev'\n" in used.stdout
    assert f"export AWS_ACCESS_KEY_ID='{legacy.credentials.access_key_id}'" in used.stdout
    assert rolehop_main("credential-process", "team/dev").code == 0  # the cached role
    sts.verify()


def test_list_on_a_terminal_shows_names_as_they_are(
    sts: StubSts, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.write_aws_config(NAMED_LIKE_THE_AWS_CLI)
    monkeypatch.setattr("rolehop.cli.terminal.stdout_is_terminal", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "250")

    outcome = rolehop_main("list")

    assert outcome.code == 0, outcome.stderr
    assert "[bold]x" in outcome.stdout and "joe → [bold]x" in outcome.stdout


def test_list_shows_when_cached_credentials_expire(sts: StubSts) -> None:
    _, research = expect_research(sts)
    assert rolehop_main("credential-process", "research").code == 0

    rows = json.loads(rolehop_main("list", "--json").stdout)["profiles"]

    until = {row["name"]: row["cached_until"] for row in rows}
    assert research.credentials.expiration is not None
    assert until == {
        "bad": None,
        "company": EXPIRES_TEXT,  # the first hop was cached on the way
        "legacy": None,
        "research": research.credentials.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_list_is_a_rich_table_on_a_terminal(sts: StubSts, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rolehop.cli.terminal.stdout_is_terminal", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    outcome = rolehop_main("list")
    assert outcome.code == 0
    assert "joe → company → research" in outcome.stdout
    assert "\x1b[" not in outcome.stdout  # NO_COLOR


def test_list_without_profiles(sandbox: Sandbox) -> None:
    outcome = rolehop_main("list")

    assert outcome == Outcome(
        0, "", f"no profiles: add [profiles.NAME] to {sandbox.rolehop_config}\n"
    )


def test_list_json_without_profiles() -> None:
    outcome = rolehop_main("list", "--json")

    expected = '{\n  "version": 1,\n  "profiles": [],\n  "bases": []\n}\n'
    assert outcome == Outcome(0, expected, "")


def _rows(listed: Outcome) -> dict[str, dict[str, Any]]:
    """``list --json``'s rows by profile name."""
    assert listed.code == 0, listed
    return {row["name"]: row for row in json.loads(listed.stdout)["profiles"]}


# A rolehop profile with a value STS would refuse, beside CONFIG's good ones (line 13).
BROKEN_PROFILE = """
    [profiles.broken]
    role_arn = "arn:aws:iam::444444444444:role/broken"
    source_profile = "joe"
    duration_seconds = 100
    """


def test_an_invalid_toml_profile_is_an_error_only_when_used(sts: StubSts, sandbox: Sandbox) -> None:
    path = sandbox.write_rolehop(CONFIG + BROKEN_PROFILE)
    error = (
        f"{path}:13: profile 'broken', key 'duration_seconds': 100 is outside 900-43200 "
        "seconds (STS limits)"
    )
    company = expect_company(sts)

    used = rolehop_main("env", "company", "--shell", "bash")
    listed = rolehop_main("list")
    rows = _rows(rolehop_main("list", "--json"))
    graphs = rolehop_main("graph")
    document = json.loads(rolehop_main("graph", "--json").stdout)

    assert (used.code, used.stderr) == (0, "")
    assert f"export AWS_ACCESS_KEY_ID='{company.credentials.access_key_id}'" in used.stdout
    assert listed.code == 0 and "broken" in listed.stdout
    assert listed.stderr.splitlines()[-1] == f"rolehop: warning: {error}"
    assert (rows["broken"]["origin"], rows["broken"]["path"], rows["broken"]["error"]) == (
        "rolehop",
        str(path),
        error,
    )
    assert rows["company"]["error"] is None and rows["research"]["error"] is None
    assert graphs.code == 0 and "company" in graphs.stdout
    assert graphs.stderr.splitlines() == [
        f"rolehop: warning: {sandbox.aws_config}:7: profile 'bad', key 'role_arn': 'not-an-arn' "
        "is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)",
        f"rolehop: warning: {error}",
    ]
    assert sorted(document["chains"]) == ["company", "legacy", "research"]
    assert sorted(document["errors"]) == ["bad", "broken"]
    assert document["errors"]["broken"] == error
    assert rolehop_main("graph", "research").code == 0
    # used, it is the one error line it always was
    assert rolehop_main("env", "broken") == Outcome(3, "", f"rolehop: error: {error}\n")
    sts.verify()


def test_an_invalid_base_profile_breaks_the_chains_that_start_there(
    sts: StubSts, sandbox: Sandbox
) -> None:
    path = sandbox.write_rolehop(CONFIG + "\n    [profiles.joe]\n    session_duration = 5\n")
    error = (
        f"{path}:11: profile 'joe', key 'session_duration': 5 is outside 900-129600 seconds "
        "(STS limits)"
    )

    assert rolehop_main("credential-process", "research") == Outcome(
        3, "", f"rolehop: error: {error}\n"
    )
    rows = _rows(rolehop_main("list", "--json"))
    assert {name: row["error"] for name, row in rows.items()} == {
        "bad": rows["bad"]["error"],
        "company": error,
        "joe": error,
        "legacy": error,
        "research": error,
    }
    assert sts.calls == []
