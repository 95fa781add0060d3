"""``credential-process``, ``env`` and ``exec`` (rolehop/cli/credentials.py): what each
hands out, in which form, where, and with which exit code. (Where exec's options may go:
tests/cli/test_exec_options.py.)

Most tests run ``rolehop.cli.main`` in process (``tests.support.cli.rolehop_main``: click's
``CliRunner.isolation()``, so stdout and stderr are captured apart and ``main``'s error
translation is exercised), with a fresh ``StubbedState`` per test: a stubbed STS with a
fixed clock (the ``sts`` fixture, over the module's files); its cache is the sandbox's
in-memory keyring. A few tests run ``python -m rolehop`` for real: with credentials pre-seeded
in the file keyring the subprocesses share, or against an STS stub over HTTP
(``AWS_ENDPOINT_URL``) with rolehop's own STS client factory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from rolehop.common.creds import Credentials
from rolehop.engine import context
from rolehop.engine.resolve import chain_of
from rolehop.stores.cache import KeyringCache
from tests.conftest import RunRolehop, Sandbox
from tests.support.cli import (
    AWS_CONFIG,
    CONFIG,
    EXPIRES,
    EXPIRES_TEXT,
    Outcome,
    expect_company,
    rolehop_main,
)
from tests.support.file_keyring import FileKeyring
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_ARN,
    JOE_CREDENTIALS,
    RESEARCH_ROLE,
    StsHttpStub,
    StubSts,
    assume_role_xml,
    issue,
    params,
)
from tests.support.tools import require_tool

# every test: a fresh state for main (shared fixture); those asking for sts: these files
pytestmark = [
    pytest.mark.usefixtures("restore_logging", "state"),
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG, aws_config=AWS_CONFIG),
]

EXPIRES_EPOCH = "1893502800"
# what env unsets for a plain profile: ROLEHOP_TARGET too (an earlier ad-hoc target's)
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN", "ROLEHOP_TARGET")


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
        lines = ["unset " + " ".join(UNSET)]
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
    assert fish[3] == "set -eg ROLEHOP_TARGET;"
    assert fish[4] == "set -gx AWS_ACCESS_KEY_ID 'ASIACOMPANY000000000';"
    assert fish[-1] == "set -gx ROLEHOP_PROFILE 'company';"
    assert powershell[0] == "Remove-Item -Path Env:AWS_PROFILE -ErrorAction SilentlyContinue"
    assert powershell[4] == "$Env:AWS_ACCESS_KEY_ID = 'ASIACOMPANY000000000'"
    assert powershell[8] == "$Env:ROLEHOP_EXPIRATION = '1893502800'"


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
