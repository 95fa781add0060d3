"""The command line: what each command prints, where, and with which exit code.

Most tests run ``rolehop.cli.main`` in process inside click's ``CliRunner.isolation()`` (so
stdout and stderr are captured apart, and ``main``'s error translation is exercised, which
``CliRunner.invoke`` would bypass). The module-level ``AppState`` is replaced for every test
by one whose ``Rolehop`` talks to a stubbed STS with a fixed clock; its cache is the
sandbox's in-memory keyring. A few tests run ``python -m rolehop`` for real: with
credentials pre-seeded in the file keyring the subprocesses share, or against an STS stub
over HTTP (``AWS_ENDPOINT_URL``) with rolehop's own STS client factory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from rolehop import __version__
from rolehop.common.creds import Credentials
from rolehop.engine import context
from rolehop.engine.context import Context
from rolehop.engine.resolve import chain_of
from rolehop.stores.cache import KeyringCache
from rolehop.stores.memory_keyring import MemoryKeyring
from tests.conftest import RunRolehop, Sandbox
from tests.support.cli import (
    CONFIG,
    EXPIRES,
    Outcome,
    StubbedState,
    expect_company,
    rolehop_main,
)
from tests.support.file_keyring import FileKeyring
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_ARN,
    JOE_CREDENTIALS,
    LEGACY_ROLE,
    RESEARCH_ROLE,
    Issued,
    StsHttpStub,
    StubSts,
    assume_role_xml,
    issue,
    params,
)
from tests.support.tools import require_tool

EXPIRES_TEXT = "2030-01-01T13:00:00Z"
EXPIRES_EPOCH = "1893502800"
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN")

AWS_CONFIG = f"""\
    [profile legacy]
    role_arn = {LEGACY_ROLE}
    source_profile = joe
    region = eu-central-1

    [profile bad]
    role_arn = not-an-arn
    source_profile = joe
    """

# every test: a fresh state for main (shared fixture); those asking for sts: these files
pytestmark = [
    pytest.mark.usefixtures("restore_logging", "state"),
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG, aws_config=AWS_CONFIG),
]


def expect_research(sts: StubSts) -> tuple[Issued, Issued]:
    company = expect_company(sts)
    research = issue("research", RESEARCH_ROLE, EXPIRES)
    sts.expect_assume_role(params(RESEARCH_ROLE), research.response)
    return company, research


def expect_legacy(sts: StubSts) -> Issued:
    legacy = issue("legacy", LEGACY_ROLE, EXPIRES)
    sts.expect_assume_role(params(LEGACY_ROLE), legacy.response)
    return legacy


def process_document(credentials: Credentials) -> dict[str, Any]:
    return {
        "Version": 1,
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "SessionToken": credentials.session_token,
        "Expiration": EXPIRES_TEXT,
    }


# ---------------------------------------------------------------------------------------
# credential-process


def test_credential_process_prints_one_json_document_and_nothing_else(
    sts: StubSts, sandbox: Sandbox
) -> None:
    sandbox.write_rolehop(
        CONFIG.replace(
            'source_profile = "company"', 'source_profile = "company"\n    duration_seconds = 7200'
        )
    )
    company = issue("company", COMPANY_ROLE, EXPIRES)
    research = issue("research", RESEARCH_ROLE, EXPIRES)
    sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    sts.expect_assume_role(params(RESEARCH_ROLE, DurationSeconds=3600), research.response)

    outcome = rolehop_main("credential-process", "research")

    sts.verify()
    assert outcome == Outcome(
        0,
        json.dumps(process_document(research.credentials)) + "\n",
        "rolehop: warning: profile 'research': duration_seconds 7200 lowered to 3600: AWS "
        "caps a role assumed with another role's credentials at 1 hour\n",
    )


def test_credential_process_refresh_assumes_again(sts: StubSts) -> None:
    first = expect_company(sts, "first")
    second = expect_company(sts, "second")

    one = rolehop_main("credential-process", "company")
    cached = rolehop_main("credential-process", "company")
    refreshed = rolehop_main("credential-process", "company", "--refresh")

    sts.verify()
    assert len(sts.calls) == 2
    assert json.loads(one.stdout) == process_document(first.credentials)
    assert json.loads(cached.stdout) == process_document(first.credentials)
    assert json.loads(refreshed.stdout) == process_document(second.credentials)


def test_credential_process_error_prints_nothing_on_stdout(sts: StubSts) -> None:
    def deny(stubber: Stubber) -> None:
        stubber.add_client_error("assume_role", "AccessDenied", "nope", 403)
        stubber.add_response(
            "get_caller_identity", {"UserId": "AIDAJOE", "Account": "1", "Arn": JOE_ARN}, {}
        )

    sts.expect(deny)

    outcome = rolehop_main("credential-process", "company")

    assert outcome == Outcome(
        5,
        "",
        f"rolehop: error: profile 'company': AccessDenied assuming {COMPANY_ROLE} as "
        f"{JOE_ARN}. Both sides must agree: the role's trust policy must trust {JOE_ARN}, "
        f"and that caller's own policy must allow sts:AssumeRole on {COMPANY_ROLE}. "
        "(STS said: nope); run: rolehop explain company\n",
    )


# ---------------------------------------------------------------------------------------
# env


def _exports(credentials: Credentials) -> list[tuple[str, str]]:
    assert credentials.session_token is not None
    return [
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key),
        ("AWS_SESSION_TOKEN", credentials.session_token),
        ("AWS_CREDENTIAL_EXPIRATION", EXPIRES_TEXT),
        ("ROLEHOP_EXPIRATION", EXPIRES_EPOCH),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("ROLEHOP_PROFILE", "company"),
    ]


def _expected_env(shell: str, credentials: Credentials) -> str:
    exports = _exports(credentials)
    if shell == "fish":
        lines = [f"set -eg {name};" for name in UNSET]
        lines += [f"set -gx {name} '{value}';" for name, value in exports]
    elif shell == "powershell":
        lines = [f"Remove-Item -Path Env:{name} -ErrorAction SilentlyContinue" for name in UNSET]
        lines += [f"$Env:{name} = '{value}'" for name, value in exports]
    else:
        lines = ["unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SECURITY_TOKEN"]
        lines += [f"export {name}='{value}'" for name, value in exports]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_env_shell_output(sts: StubSts, shell: str) -> None:
    company = expect_company(sts)

    outcome = rolehop_main("env", "company", "--shell", shell)

    sts.verify()
    assert outcome == Outcome(0, _expected_env(shell, company.credentials), "")


def test_env_literal_lines(sts: StubSts) -> None:
    expect_company(sts)

    fish = rolehop_main("env", "company", "--shell", "fish").stdout.splitlines()
    powershell = rolehop_main("env", "company", "--shell", "powershell").stdout.splitlines()

    assert fish[0] == "set -eg AWS_PROFILE;"
    assert fish[3] == "set -gx AWS_ACCESS_KEY_ID 'ASIACOMPANY000000000';"
    assert fish[-1] == "set -gx ROLEHOP_PROFILE 'company';"
    assert powershell[0] == "Remove-Item -Path Env:AWS_PROFILE -ErrorAction SilentlyContinue"
    assert powershell[3] == "$Env:AWS_ACCESS_KEY_ID = 'ASIACOMPANY000000000'"
    assert powershell[7] == "$Env:ROLEHOP_EXPIRATION = '1893502800'"


@pytest.mark.parametrize(
    ("shell_var", "syntax"),
    [
        ("/usr/bin/fish", "fish"),
        ("/usr/local/bin/FISH", "fish"),
        ("/bin/zsh", "bash"),
        ("/bin/bash", "bash"),
        ("/usr/bin/pwsh", "powershell"),
        ("/opt/microsoft/powershell/7/pwsh-preview", "powershell"),
        ("/usr/local/bin/powershell", "powershell"),
        ("", "bash"),
        (None, "bash"),
    ],
)
def test_env_shell_defaults_from_shell_variable(
    sts: StubSts, shell_var: str | None, syntax: str
) -> None:
    company = expect_company(sts)

    outcome = rolehop_main("env", "company", env={"SHELL": shell_var})

    assert outcome == Outcome(0, _expected_env(syntax, company.credentials), "")


@pytest.mark.parametrize("shell_var", ["/bin/tcsh", "/usr/bin/nu", "/bin/csh"])
def test_env_refuses_to_guess_an_unknown_shell(sts: StubSts, shell_var: str) -> None:
    outcome = rolehop_main("env", "company", env={"SHELL": shell_var})

    assert outcome == Outcome(
        2,
        "",
        f"rolehop: error: cannot tell which syntax SHELL={shell_var} reads: choose one with "
        "--shell bash|zsh|fish|powershell\n",
    )


def test_env_shell_option_beats_shell_variable(sts: StubSts) -> None:
    company = expect_company(sts)

    outcome = rolehop_main("env", "company", "--shell", "bash", env={"SHELL": "/usr/bin/fish"})

    assert outcome.stdout == _expected_env("bash", company.credentials)


def test_env_rejects_an_unknown_shell(sts: StubSts) -> None:
    outcome = rolehop_main("env", "company", "--shell", "tcsh")

    assert outcome.code == 2
    assert outcome.stdout == ""
    assert "Invalid value for '--shell': 'tcsh' is not one of" in outcome.stderr
    assert sts.calls == []


_POSIX_LEFTOVER = 'if [ -n "${AWS_PROFILE+x}" ]; then echo LEFT; fi'
_SHELLS = {
    "bash": (["bash", "--norc", "--noprofile", "-c"], 'eval "$ROLEHOP_CODE"', _POSIX_LEFTOVER),
    "zsh": (["zsh", "-f", "-c"], 'eval "$ROLEHOP_CODE"', _POSIX_LEFTOVER),
    "fish": (
        ["fish", "--no-config", "-c"],
        'printf "%s" "$ROLEHOP_CODE" | source',
        "if set -q AWS_PROFILE; echo LEFT; end",
    ),
}


@pytest.mark.parametrize("shell", sorted(_SHELLS))
def test_env_output_evaluates_in_the_real_shell(sts: StubSts, shell: str) -> None:
    """The shell sets exactly the exported values and drops a stale AWS_PROFILE."""
    command, load, leftover = _SHELLS[shell]
    require_tool(command[0])
    company = expect_company(sts)
    code = rolehop_main("env", "company", "--shell", shell).stdout
    exports = _exports(company.credentials)
    prints = "; ".join(f'printf "%s\\n" "${name}"' for name, _ in exports)

    result = subprocess.run(
        [*command, f"{load}; {prints}; {leftover}"],
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ["HOME"],
            "ROLEHOP_CODE": code,
            "AWS_PROFILE": "stale",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [value for _, value in exports]


# ---------------------------------------------------------------------------------------
# list


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


# ---------------------------------------------------------------------------------------
# cache clear


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
# --version, errors and exit codes


def test_version() -> None:
    assert rolehop_main("--version") == Outcome(0, f"rolehop, version {__version__}\n", "")


def test_version_in_a_subprocess(run_rolehop: RunRolehop) -> None:
    result = run_rolehop("--version")

    assert (result.returncode, result.stdout, result.stderr) == (0, "rolehop, version 0.1.0\n", "")


@pytest.mark.parametrize(
    "args",
    [
        ("env", "nope"),
        ("credential-process", "nope"),
        ("exec", "nope", "true"),
        ("env", "--refresh", "nope"),
    ],
)
def test_unknown_profile_is_one_line_and_exit_3(
    sts: StubSts, sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    outcome = rolehop_main(*args)

    assert outcome == Outcome(
        3,
        "",
        f"rolehop: error: profile 'nope' not found in {sandbox.rolehop_config} or "
        f"{sandbox.aws_config}; `rolehop list` shows the 4 known\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        ("env", "reserch"),
        ("credential-process", "reserch"),
        ("exec", "reserch", "true"),
        ("graph", "reserch"),
        ("explain", "reserch"),
        ("cache", "clear", "reserch"),
    ],
)
def test_a_typo_of_a_profile_suggests_the_close_name(
    sts: StubSts, sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    outcome = rolehop_main(*args)

    assert outcome == Outcome(
        3,
        "",
        f"rolehop: error: profile 'reserch' not found in {sandbox.rolehop_config} or "
        f"{sandbox.aws_config}; did you mean 'research'?\n",
    )


def _json_error(message: str, code: int) -> str:
    return json.dumps({"version": 1, "error": {"message": message, "exit_code": code}}, indent=2)


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "nope", "--json"),
        ("explain", "--json", "nope", "--dry-run"),
        ("graph", "nope", "--json"),
        ("whoami", "nope", "--json"),
    ],
)
def test_with_json_an_error_is_a_json_object_on_stdout(
    sts: StubSts, sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    message = (
        f"profile 'nope' not found in {sandbox.rolehop_config} or {sandbox.aws_config}; "
        "`rolehop list` shows the 4 known"
    )

    outcome = rolehop_main(*args)

    assert outcome == Outcome(3, _json_error(message, 3) + "\n", f"rolehop: error: {message}\n")


def test_with_json_a_config_error_a_keyring_error_and_a_usage_error_are_json(
    sts: StubSts, sandbox: Sandbox
) -> None:
    path = sandbox.write_rolehop("[profiles.a]\nrole_arn = \n")
    invalid = f"{path}:2: invalid TOML: Invalid value (at line 2, column 12)"
    locked = {"PYTHON_KEYRING_BACKEND": "tests.support.failing_keyring.FailingKeyring"}

    listed = rolehop_main("list", "--json")
    sandbox.write_rolehop(CONFIG)
    cached = rolehop_main("cache", "list", "--json", env=locked)
    missing = rolehop_main("explain", "--json")

    assert (listed.code, listed.stdout) == (3, _json_error(invalid, 3) + "\n")
    assert (cached.code, json.loads(cached.stdout)["error"]["exit_code"]) == (8, 8)
    assert (missing.code, missing.stdout) == (
        2,
        _json_error("Missing argument 'PROFILE'.", 2) + "\n",
    )
    assert missing.stderr.endswith("Error: Missing argument 'PROFILE'.\n")


@pytest.mark.parametrize("args", [("list",), ("env", "legacy"), ("credential-process", "legacy")])
def test_a_config_file_given_with_config_must_exist(
    sts: StubSts, sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    missing = sandbox.root / "nonexistent.toml"

    outcome = rolehop_main("--config", str(missing), *args)

    assert outcome == Outcome(
        3, "", f"rolehop: error: {missing}: no such file (named by --config)\n"
    )


def test_a_missing_default_or_rolehop_config_file_is_an_empty_configuration(
    sts: StubSts, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.rolehop_config.unlink()  # ROLEHOP_CONFIG names it, as AWS_CONFIG_FILE may
    expect_legacy(sts)

    assert rolehop_main("credential-process", "legacy").code == 0
    monkeypatch.delenv("ROLEHOP_CONFIG")  # the default path, under XDG_CONFIG_HOME
    assert rolehop_main("credential-process", "legacy").code == 0
    sts.verify()


def test_unknown_profile_in_a_subprocess(sandbox: Sandbox, run_rolehop: RunRolehop) -> None:
    result = run_rolehop("env", "nope")

    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"rolehop: error: profile 'nope' not found in {sandbox.rolehop_config} or "
        f"{sandbox.aws_config}\n"
    )


def test_invalid_toml_is_one_line_with_file_and_line(
    sandbox: Sandbox, run_rolehop: RunRolehop
) -> None:
    path = sandbox.write_rolehop(
        """\
        [profiles.company]
        role_arn = "arn:aws:iam::111111111111:role/company-admin"
        source_profile =
        """
    )

    result = run_rolehop("list")

    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"rolehop: error: {path}:3: invalid TOML: Invalid value (at line 3, column 17)\n"
    )


def test_invalid_value_is_one_line_with_file_line_profile_and_key(
    sandbox: Sandbox, run_rolehop: RunRolehop
) -> None:
    path = sandbox.write_rolehop(
        """\
        [profiles.company]
        role_arn = "arn:aws:iam::111111111111:role/company-admin"
        source_profile = "joe"
        duration_seconds = 100
        """
    )

    result = run_rolehop("env", "company")

    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"rolehop: error: {path}:4: profile 'company', key 'duration_seconds': 100 is outside "
        "900-43200 seconds (STS limits)\n"
    )


def test_debug_error_shows_the_traceback(sandbox: Sandbox, run_rolehop: RunRolehop) -> None:
    result = run_rolehop("--debug", "env", "nope")

    message = f"profile 'nope' not found in {sandbox.rolehop_config} or {sandbox.aws_config}"
    lines = result.stderr.splitlines()
    assert (result.returncode, result.stdout) == (3, "")
    start = lines.index("Traceback (most recent call last):")
    assert lines[start + 1].startswith('  File "')
    assert lines[-2] == f"rolehop.errors.ProfileNotFoundError: {message}"
    assert lines[-1] == f"rolehop: error: {message}"
    log_line = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [\w.]+ [A-Z]+ ")
    assert all(log_line.match(line) for line in lines[:start])  # --debug's log lines only


def test_unexpected_exception_is_an_internal_error_without_traceback(
    sts: StubSts, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: Context, name: str, **options: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr("rolehop.cli.credentials.resolve", broken)

    outcome = rolehop_main("env", "company")

    assert outcome == Outcome(
        70,
        "",
        "rolehop: internal error: KeyError: 'boom' (run with --debug for the traceback)\n",
    )


def test_unexpected_exception_with_debug_shows_the_traceback(
    sts: StubSts, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **options: object) -> None:
        raise KeyError("boom")

    # before the config is read, so that the traceback is the first thing on stderr
    monkeypatch.setattr("rolehop.engine.context.build", broken)

    outcome = rolehop_main("--debug", "env", "company")

    lines = outcome.stderr.splitlines()
    assert (outcome.code, outcome.stdout) == (70, "")
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2] == "KeyError: 'boom'"
    assert lines[-1] == (
        "rolehop: internal error: KeyError: 'boom' (run with --debug for the traceback)"
    )


def test_usage_error_exit_2() -> None:
    outcome = rolehop_main("no-such-command")

    assert outcome.code == 2
    assert outcome.stdout == ""
    assert outcome.stderr.endswith("Error: No such command 'no-such-command'.\n")


# ---------------------------------------------------------------------------------------
# exec


@dataclass
class ExecCall:
    file: str
    args: list[str]
    env: dict[str, str]
    parent: dict[str, str]


@pytest.fixture
def exec_calls(monkeypatch: pytest.MonkeyPatch) -> list[ExecCall]:
    calls: list[ExecCall] = []

    def execvpe(file: str, args: list[str], env: dict[str, str]) -> None:
        calls.append(ExecCall(file, list(args), dict(env), dict(os.environ)))

    monkeypatch.setattr(os, "execvpe", execvpe)
    return calls


@pytest.mark.parametrize(
    "args",
    [
        ("exec", "company", "aws", "s3", "ls", "--recursive"),
        ("exec", "--refresh", "company", "aws", "s3", "ls", "--recursive"),
        ("exec", "company", "--", "aws", "s3", "ls", "--recursive"),
        ("exec", "company", "--refresh", "--", "aws", "s3", "ls", "--recursive"),
        ("exec", "company", "--refresh", "aws", "s3", "ls", "--recursive"),
    ],
)
def test_exec_replaces_itself_with_the_command_and_its_environment(
    sts: StubSts, exec_calls: list[ExecCall], args: tuple[str, ...]
) -> None:
    company = expect_company(sts)

    outcome = rolehop_main(
        *args,
        env={
            "AWS_PROFILE": "stale",
            "AWS_DEFAULT_PROFILE": "stale",
            "AWS_SECURITY_TOKEN": "x",
            "KEEP_ME": "kept",
        },
    )

    sts.verify()
    assert outcome == Outcome(0, "", "")
    [call] = exec_calls
    assert call.file == "aws"
    assert call.args == ["aws", "s3", "ls", "--recursive"]
    exports = dict(_exports(company.credentials))
    assert call.env == {
        **{k: v for k, v in call.parent.items() if k not in UNSET},
        **exports,
    }
    assert call.env["KEEP_ME"] == "kept"
    for name in UNSET:
        assert name not in call.env
    assert call.env["AWS_ACCESS_KEY_ID"] == company.credentials.access_key_id
    assert call.env["AWS_SECRET_ACCESS_KEY"] == company.credentials.secret_access_key
    assert call.env["AWS_SESSION_TOKEN"] == company.credentials.session_token


def test_exec_passes_a_later_double_dash_to_the_command(
    sts: StubSts, exec_calls: list[ExecCall]
) -> None:
    expect_company(sts)

    outcome = rolehop_main("exec", "company", "git", "log", "--", "README.md")

    assert outcome == Outcome(0, "", "")
    assert [(call.file, call.args) for call in exec_calls] == [
        ("git", ["git", "log", "--", "README.md"])
    ]


def test_exec_refresh_after_profile_assumes_the_role_again(
    sts: StubSts, exec_calls: list[ExecCall]
) -> None:
    """README's synopsis: ``rolehop exec PROFILE [--refresh] -- COMMAND``."""
    expect_company(sts, "first")
    second = expect_company(sts, "second")
    assert rolehop_main("credential-process", "company").code == 0

    outcome = rolehop_main("exec", "company", "--refresh", "--", "aws", "--refresh")

    sts.verify()
    assert outcome == Outcome(0, "", "")
    [call] = exec_calls
    assert call.args == ["aws", "--refresh"]
    assert call.env["AWS_ACCESS_KEY_ID"] == second.credentials.access_key_id


def test_exec_double_dash_without_command_is_a_usage_error(sts: StubSts) -> None:
    outcome = rolehop_main("exec", "company", "--")

    assert (outcome.code, outcome.stdout) == (2, "")
    assert outcome.stderr.endswith("Error: missing COMMAND after --\n")
    assert sts.calls == []


def test_exec_requires_a_command(sts: StubSts) -> None:
    outcome = rolehop_main("exec", "company")

    assert outcome.code == 2
    assert "Missing argument 'COMMAND...'" in outcome.stderr
    assert sts.calls == []


def test_exec_missing_command_is_exit_127(sts: StubSts, tmp_path: Path) -> None:
    expect_company(sts)
    empty = tmp_path / "empty-path"
    empty.mkdir()

    outcome = rolehop_main("exec", "company", "rolehop-no-such-command", env={"PATH": str(empty)})

    assert outcome == Outcome(
        127, "", "rolehop: error: exec: command not found: rolehop-no-such-command\n"
    )


def test_exec_missing_command_path_is_exit_127(sts: StubSts, tmp_path: Path) -> None:
    expect_company(sts)
    missing = tmp_path / "missing"

    outcome = rolehop_main("exec", "company", str(missing), "arg")

    assert outcome == Outcome(127, "", f"rolehop: error: exec: command not found: {missing}\n")


def test_exec_not_executable_is_exit_126(sts: StubSts, tmp_path: Path) -> None:
    expect_company(sts)
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)

    outcome = rolehop_main("exec", "company", str(script))

    assert outcome == Outcome(126, "", f"rolehop: error: exec: permission denied: {script}\n")


def test_exec_empty_command_is_a_usage_error(sts: StubSts) -> None:
    outcome = rolehop_main("exec", "company", "--", "")

    assert (outcome.code, outcome.stdout) == (2, "")
    assert outcome.stderr.endswith("Error: missing COMMAND after --\n")
    assert sts.calls == []


def test_exec_script_without_interpreter_is_exit_126(sts: StubSts, tmp_path: Path) -> None:
    expect_company(sts)
    script = tmp_path / "no-shebang"
    script.write_bytes(b"\x7fNOT-AN-ELF\n")
    script.chmod(0o755)

    outcome = rolehop_main("exec", "company", str(script))

    assert outcome == Outcome(
        126,
        "",
        f"rolehop: error: exec: cannot run {script}: not an executable format (missing #!?)\n",
    )


def test_ctrl_c_during_a_command_exits_130(sts: StubSts, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("rolehop.cli.credentials.resolve", interrupted)

    outcome = rolehop_main("credential-process", "company")

    assert (outcome.code, outcome.stdout) == (130, "")
    assert outcome.stderr.endswith("rolehop: interrupted\n")


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


# ---------------------------------------------------------------------------------------
# end to end, with credentials pre-seeded in the subprocesses' file keyring


def _seed(
    subprocess_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, profile: str
) -> Credentials:
    """Put ``profile``'s credentials in the file keyring, under the key rolehop will look up."""
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    credentials = Credentials(
        "ASIASEEDED0000000001",
        "seededSecretAccessKey/000000000000000001",
        "seededSessionToken//////////000000000001",
        expires,
        "arn:aws:sts::222222222222:assumed-role/research-ro/rolehop-tester",
    )
    key = chain_of(context.build(subprocess_env), profile).keys[-1]
    monkeypatch.setenv("ROLEHOP_TEST_KEYRING", subprocess_env["ROLEHOP_TEST_KEYRING"])
    cache = KeyringCache(FileKeyring(), lambda message: None, lambda: datetime.now(UTC))
    cache.put(key, credentials, label=profile)
    assert cache.get(key) == credentials
    return credentials


CHILD = (
    "import json, os, sys; "
    "print(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]})); "
    "sys.exit(42)"
)


def test_exec_child_exit_code_and_environment(
    sandbox: Sandbox,
    subprocess_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    run_rolehop: RunRolehop,
) -> None:
    sandbox.write_aws_credentials(JOE_CREDENTIALS)
    sandbox.write_rolehop(CONFIG)
    seeded = _seed(subprocess_env, monkeypatch, "company")
    names = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "ROLEHOP_PROFILE",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "KEEP_ME",
    ]

    result = run_rolehop(
        "exec",
        "company",
        "--",
        sys.executable,
        "-c",
        CHILD,
        *names,
        env={"AWS_PROFILE": "stale", "AWS_DEFAULT_PROFILE": "stale", "KEEP_ME": "kept"},
    )

    assert result.returncode == 42, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "AWS_ACCESS_KEY_ID": seeded.access_key_id,
        "AWS_SECRET_ACCESS_KEY": seeded.secret_access_key,
        "AWS_SESSION_TOKEN": seeded.session_token,
        "AWS_REGION": "eu-west-1",
        "ROLEHOP_PROFILE": "company",
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "KEEP_ME": "kept",
    }


def test_credential_process_subprocess_stdout_is_only_json(
    sandbox: Sandbox,
    subprocess_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    run_rolehop: RunRolehop,
) -> None:
    sandbox.write_aws_credentials(JOE_CREDENTIALS)
    sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"

        [profiles.research]
        role_arn = "{RESEARCH_ROLE}"
        source_profile = "company"
        duration_seconds = 7200
        """
    )
    seeded = _seed(subprocess_env, monkeypatch, "research")

    result = run_rolehop("credential-process", "research")

    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == json.dumps(
            {
                "Version": 1,
                "AccessKeyId": seeded.access_key_id,
                "SecretAccessKey": seeded.secret_access_key,
                "SessionToken": seeded.session_token,
                "Expiration": seeded.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
                if seeded.expiration
                else None,
            }
        )
        + "\n"
    )
    # a cache hit: the lowered duration was told when these credentials were made
    assert result.stderr == ""


# ---------------------------------------------------------------------------------------
# end to end over HTTP: the real STS client factory, whatever AWS_PROFILE names


@pytest.mark.parametrize(
    "extra_env",
    [
        {},
        {"AWS_PROFILE": "joe"},
        {"AWS_PROFILE": "research"},  # a rolehop-only name: not in the AWS files
        {"AWS_DEFAULT_PROFILE": "gone"},
    ],
)
def test_credential_process_over_http_whatever_aws_profile_says(
    sandbox: Sandbox, run_rolehop: RunRolehop, extra_env: dict[str, str]
) -> None:
    sandbox.write_aws_credentials(JOE_CREDENTIALS)
    sandbox.write_rolehop(CONFIG)
    stub = StsHttpStub()
    try:
        company = issue(
            "company", COMPANY_ROLE, datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        )
        stub.answer(assume_role_xml(company))

        result = run_rolehop(
            "credential-process", "company", env={"AWS_ENDPOINT_URL": stub.url, **extra_env}
        )
    finally:
        stub.close()

    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["AccessKeyId"] == company.credentials.access_key_id
    [request] = stub.requests
    assert request.form["RoleArn"] == COMPANY_ROLE
    assert request.form["RoleSessionName"] == "rolehop-tester"
