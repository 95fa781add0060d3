"""MFA against moto: the code typed on the terminal (``/dev/tty``) while the real AWS CLI
runs rolehop as its ``credential_process`` (stdout and stderr are pipes), one MFA session
for many roles, ``mfa_process``, and no terminal at all.

moto's GetSessionToken ignores the code and always issues access key AKIAIOSFODNN7EXAMPLE;
its recorder shows each STS call's parameters and signing key, which is what these tests
check: the exact SerialNumber/TokenCode, one GetSessionToken, roles assumed with the session.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pexpect
import pytest

from rolehop.features.demo import COMPANY, JOE_ARN, RESEARCH, ROLE_ARN, ROLE_NAME, Emulator
from tests.conftest import REPO, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML, caller_arn
from tests.support.local_endpoints import Seen, StsRecording, serving
from tests.support.tools import aws_cli_dir, require_tool, spawn_rolehop

SERIAL = "arn:aws:iam::444455556666:mfa/joe"
PROMPT = f"MFA code for {SERIAL} (profile research-ro): "
MOTO_SESSION_KEY = "AKIAIOSFODNN7EXAMPLE"  # what moto's GetSessionToken always issues
ROLE_CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"
OTHER_CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/second-role"
ROLEHOP = f"{shlex.quote(sys.executable)} -m rolehop"


def _toml(joe: str = "") -> str:
    """research-ro (and a second role profile) from joe, whose keys need MFA."""
    return (
        RESEARCH_RO_TOML
        + f"""
[profiles.second]
role_arn = "{ROLE_ARN}"
source_profile = "joe"
role_session_name = "second-role"

[profiles.joe]
mfa_serial = "{SERIAL}"
{joe}
"""
    )


def _mfa_process(*code: str) -> str:
    """``mfa_process = ...``: a Python one-liner, as a TOML string."""
    return f"mfa_process = {json.dumps(shlex.join([sys.executable, '-c', *code]))}"


@pytest.fixture
def env(moto: Emulator, subprocess_env: dict[str, str]) -> dict[str, str]:
    """The sandbox environment and the file keyring, with moto's endpoint set explicitly
    (``subprocess_env`` may have been built before the ``moto`` fixture set it)."""
    return {**subprocess_env, "AWS_ENDPOINT_URL": moto.url, "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def aws_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the AWS CLI on PATH."""
    return {**env, "PATH": os.pathsep.join([aws_cli_dir(), env["PATH"]])}


def _without_terminal(
    env: dict[str, str], *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """rolehop in a new session, so with no controlling terminal; stdin at end of file."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rolehop", *args],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=30,
        check=False,
    )
    return result, time.monotonic() - started


def _spawn_aws(aws_env: dict[str, str], transcript: io.StringIO) -> pexpect.spawn:
    aws = shutil.which("aws", path=aws_env["PATH"])
    assert aws is not None
    child = pexpect.spawn(
        aws,
        ["sts", "get-caller-identity", "--profile", "research", "--output", "json"],
        env=aws_env,
        cwd=str(REPO),
        encoding="utf-8",
        timeout=60,
    )
    child.logfile_read = transcript
    return child


def _identity(output: str) -> dict[str, str]:
    """The JSON the AWS CLI printed at the end of a terminal transcript."""
    document: dict[str, str] = json.loads(output[output.rindex("{") :])
    return document


def _session_token_call(
    recording: StsRecording, key: dict[str, str], code: str, duration: int = 43200
) -> None:
    """Exactly one GetSessionToken: with this code, for 12 hours unless said otherwise."""
    (call,) = recording.calls("GetSessionToken")
    assert call.params == {
        "SerialNumber": SERIAL,
        "TokenCode": code,
        "DurationSeconds": str(duration),
        "Version": "2011-06-15",
    }
    assert call.key_id == key["id"]  # signed with Joe's long-term keys
    assert call.session_token is None


def _assumed_from_session(recording: StsRecording, count: int) -> None:
    calls = recording.calls("AssumeRole")
    assert len(calls) == count
    for call in calls:
        assert call.params["RoleArn"] == ROLE_ARN
        assert call.key_id == MOTO_SESSION_KEY  # the MFA session, not Joe's keys
        assert call.session_token
        assert "TokenCode" not in call.params
        assert "SerialNumber" not in call.params


def test_aws_cli_credential_process_asks_on_the_terminal_once(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    aws_env: dict[str, str],
    recording: StsRecording,
) -> None:
    sandbox.write_rolehop(_toml())
    sandbox.write_aws_config(
        f"""\
        [profile research]
        credential_process = {ROLEHOP} credential-process research-ro
        """
    )
    first = io.StringIO()
    child = _spawn_aws(aws_env, first)
    try:
        child.expect_exact(PROMPT)
        child.sendline("123456")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, first.getvalue()
    output = first.getvalue().split("123456", 1)[1]
    assert _identity(output)["Arn"] == ROLE_CALLER
    _session_token_call(recording, joe, "123456")
    _assumed_from_session(recording, 1)
    # the MFA session is kept in the keyring (a file in these tests), in no other file
    session_token = recording.calls("AssumeRole")[0].session_token
    assert session_token
    keyring_file = Path(aws_env["ROLEHOP_TEST_KEYRING"])
    assert session_token in keyring_file.read_text()
    for path in sandbox.root.rglob("*"):
        if path.is_file() and path != keyring_file:
            assert session_token.encode() not in path.read_bytes(), path

    second = io.StringIO()
    child = _spawn_aws(aws_env, second)
    try:
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, second.getvalue()
    assert "MFA code" not in second.getvalue()
    assert _identity(second.getvalue())["Arn"] == ROLE_CALLER
    assert len(recording.calls("GetSessionToken")) == 1
    assert len(recording.calls("AssumeRole")) == 1  # the role credentials were cached
    assert len(recording.calls("GetCallerIdentity")) == 2  # the AWS CLI's own calls

    # the MFA session unlocks another role of the same base: no code, no terminal needed
    result, _ = _without_terminal(aws_env, "credential-process", "second")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert caller_arn(moto, json.loads(result.stdout)) == OTHER_CALLER
    assert len(recording.calls("GetSessionToken")) == 1
    _assumed_from_session(recording, 2)


def test_a_malformed_code_is_asked_again(
    sandbox: Sandbox,
    joe: dict[str, str],
    aws_env: dict[str, str],
    recording: StsRecording,
) -> None:
    sandbox.write_rolehop(_toml())
    sandbox.write_aws_config(
        f"""\
        [profile research]
        credential_process = {ROLEHOP} credential-process research-ro
        """
    )
    transcript = io.StringIO()
    child = _spawn_aws(aws_env, transcript)
    try:
        child.expect_exact(PROMPT)
        child.sendline("12345")
        child.expect_exact("An MFA code is 6 digits.")
        child.expect_exact(PROMPT)
        child.sendline("12345a")
        child.expect_exact("An MFA code is 6 digits.")
        child.expect_exact(PROMPT)
        child.sendline(" 654321 ")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, transcript.getvalue()
    assert _identity(transcript.getvalue())["Arn"] == ROLE_CALLER
    _session_token_call(recording, joe, "654321")
    _assumed_from_session(recording, 1)


def test_three_malformed_codes_fail(
    sandbox: Sandbox, joe: dict[str, str], env: dict[str, str], recording: StsRecording
) -> None:
    sandbox.write_rolehop(_toml())
    child, transcript = spawn_rolehop(
        env, "credential-process", "research-ro", cwd=REPO, timeout=30
    )
    try:
        for answer in ("1", "abcdef", "1234567"):
            child.expect_exact(PROMPT)
            child.sendline(answer)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 9, transcript.getvalue()
    assert f"no valid MFA code entered for {SERIAL}" in transcript.getvalue()
    assert recording.calls("GetSessionToken") == []
    assert recording.calls("AssumeRole") == []


def test_no_terminal_and_no_mfa_process_fails_at_once(
    sandbox: Sandbox, joe: dict[str, str], env: dict[str, str], recording: StsRecording
) -> None:
    sandbox.write_rolehop(_toml())

    result, elapsed = _without_terminal(env, "credential-process", "research-ro")

    assert elapsed < 2, f"took {elapsed:.1f} s"
    assert result.returncode == 9, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("rolehop: error: profile 'research-ro' needs an MFA code for ")
    assert SERIAL in line
    assert "there is no terminal to ask" in line
    assert "run `rolehop env research-ro` in a terminal first" in line
    assert "set mfa_process" in line
    assert recording.calls("GetSessionToken") == []
    assert recording.calls("AssumeRole") == []


def test_mfa_process_gives_the_code_without_a_terminal(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    env: dict[str, str],
    recording: StsRecording,
) -> None:
    sandbox.write_rolehop(_toml(_mfa_process("print(246813)") + "\nsession_duration = 3600"))

    result, _ = _without_terminal(env, "credential-process", "research-ro")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert caller_arn(moto, json.loads(result.stdout)) == ROLE_CALLER
    _session_token_call(recording, joe, "246813", duration=3600)
    _assumed_from_session(recording, 1)

    again, _ = _without_terminal(env, "credential-process", "second")
    assert again.returncode == 0, again.stderr
    assert len(recording.calls("GetSessionToken")) == 1  # mfa_process is not run again
    _assumed_from_session(recording, 2)


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (("import sys; sys.exit(1)",), "failed with exit status 1"),
        (("print('hello')",), "printed no 6-digit code"),
        (("print(12345)",), "printed no 6-digit code"),
    ],
    ids=["exit-1", "garbage", "five-digits"],
)
def test_a_failing_mfa_process_is_a_clear_error(
    sandbox: Sandbox,
    joe: dict[str, str],
    env: dict[str, str],
    recording: StsRecording,
    code: tuple[str, ...],
    problem: str,
) -> None:
    setting = _mfa_process(*code)
    sandbox.write_rolehop(_toml(setting))

    result, elapsed = _without_terminal(env, "credential-process", "research-ro")

    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert result.returncode == 9, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("rolehop: error: profile 'research-ro': mfa_process ")
    assert f"(for {SERIAL}): {problem}" in line
    assert recording.calls("GetSessionToken") == []


def test_mfa_process_that_does_not_exist(
    sandbox: Sandbox, joe: dict[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ykman"
    sandbox.write_rolehop(_toml(f"mfa_process = {json.dumps(f'{missing} oath code')}"))

    result, _ = _without_terminal(env, "credential-process", "research-ro")

    assert result.returncode == 9, result.stderr
    assert "mfa_process" in result.stderr
    assert "command not found" in result.stderr


def test_mfa_token_option_comes_first(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    env: dict[str, str],
    recording: StsRecording,
) -> None:
    # an mfa_process that would fail shows that --mfa-token is used before it
    sandbox.write_rolehop(_toml(_mfa_process("import sys; sys.exit(3)")))

    bad, _ = _without_terminal(env, "credential-process", "research-ro", "--mfa-token", "12-456")
    assert bad.returncode == 9, bad.stderr
    assert "--mfa-token: '12-456' is not a 6-digit code" in bad.stderr

    good, _ = _without_terminal(env, "credential-process", "research-ro", "--mfa-token", "135791")
    assert good.returncode == 0, good.stderr
    assert caller_arn(moto, json.loads(good.stdout)) == ROLE_CALLER
    _session_token_call(recording, joe, "135791")


def test_the_unlock_hint_works(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    env: dict[str, str],
    recording: StsRecording,
    tmp_path: Path,
) -> None:
    """No terminal: fails, saying run ``rolehop env``. Done in a terminal, it unlocks."""
    sandbox.write_rolehop(_toml())
    locked, _ = _without_terminal(env, "credential-process", "research-ro")
    assert locked.returncode == 9
    assert "`rolehop env research-ro`" in locked.stderr

    # eval "$(rolehop env research-ro)": stdout is a pipe, the prompt is on the terminal
    script = tmp_path / "env.sh"
    transcript = io.StringIO()
    child = pexpect.spawn(
        require_tool("sh"),
        [
            "-c",
            'exec "$0" -m rolehop env research-ro --shell bash > "$1"',
            sys.executable,
            str(script),
        ],
        env=env,
        cwd=str(REPO),
        encoding="utf-8",
        timeout=30,
    )
    child.logfile_read = transcript
    try:
        child.expect_exact(PROMPT)
        child.sendline("112233")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, transcript.getvalue()
    assert "export" not in transcript.getvalue()
    exported = script.read_text()
    assert exported.startswith("unset AWS_PROFILE")
    assert "export AWS_SESSION_TOKEN=" in exported
    assert "MFA" not in exported
    _session_token_call(recording, joe, "112233")

    unlocked, _ = _without_terminal(env, "credential-process", "research-ro")
    assert unlocked.returncode == 0, unlocked.stderr
    assert caller_arn(moto, json.loads(unlocked.stdout)) == ROLE_CALLER
    # --refresh assumes the role again from the MFA session: no new code is needed
    refreshed, _ = _without_terminal(env, "credential-process", "research-ro", "--refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(refreshed.stdout)["AccessKeyId"] != json.loads(unlocked.stdout)["AccessKeyId"]
    assert len(recording.calls("GetSessionToken")) == 1
    _assumed_from_session(recording, 2)


def test_end_of_input_at_the_prompt_fails(
    sandbox: Sandbox, joe: dict[str, str], env: dict[str, str], recording: StsRecording
) -> None:
    sandbox.write_rolehop(_toml())
    child, transcript = spawn_rolehop(
        env, "credential-process", "research-ro", cwd=REPO, timeout=30
    )
    try:
        child.expect_exact(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 9, transcript.getvalue()
    assert f"no valid MFA code entered for {SERIAL}" in transcript.getvalue()
    assert recording.calls("GetSessionToken") == []


def test_a_role_from_the_mfa_session_is_not_role_chaining(
    sandbox: Sandbox, joe: dict[str, str], env: dict[str, str], recording: StsRecording
) -> None:
    """No 1-hour cap (and no warning about one) for a role assumed with the MFA session."""
    sandbox.write_rolehop(
        _toml(_mfa_process("print(100200)")).replace(
            'role_session_name = "second-role"',
            'role_session_name = "second-role"\nduration_seconds = 7200',
        )
    )
    result, _ = _without_terminal(env, "credential-process", "second")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (call,) = recording.calls("AssumeRole")
    assert call.key_id == MOTO_SESSION_KEY
    assert call.params["DurationSeconds"] == "7200"


def test_the_shortest_mfa_session_still_unlocks_a_second_role(
    sandbox: Sandbox, joe: dict[str, str], env: dict[str, str], recording: StsRecording
) -> None:
    sandbox.write_rolehop(_toml("session_duration = 900"))
    first, _ = _without_terminal(env, "credential-process", "research-ro", "--mfa-token", "123456")
    assert first.returncode == 0, first.stderr
    _session_token_call(recording, joe, "123456", duration=900)

    second, _ = _without_terminal(env, "credential-process", "second")

    assert second.returncode == 0, second.stderr
    assert len(recording.calls("GetSessionToken")) == 1


def test_mfa_on_a_role_whose_base_has_none(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    env: dict[str, str],
    recording: StsRecording,
) -> None:
    """SerialNumber and TokenCode go with that AssumeRole, signed with Joe's own keys."""
    sandbox.write_rolehop(
        RESEARCH_RO_TOML + f'mfa_serial = "{SERIAL}"\n{_mfa_process("print(424242)")}\n'
    )

    result, _ = _without_terminal(env, "credential-process", "research-ro")

    assert result.returncode == 0, result.stderr
    assert caller_arn(moto, json.loads(result.stdout)) == ROLE_CALLER
    assert recording.calls("GetSessionToken") == []
    (call,) = recording.calls("AssumeRole")
    assert call.key_id == joe["id"]
    assert call.session_token is None
    assert (call.params["SerialNumber"], call.params["TokenCode"]) == (SERIAL, "424242")
    # the role's credentials are cached: no second code until they expire
    sandbox.write_rolehop(RESEARCH_RO_TOML + f'mfa_serial = "{SERIAL}"\n')
    again, _ = _without_terminal(env, "credential-process", "research-ro")
    assert again.returncode == 0, again.stderr
    assert again.stdout == result.stdout
    assert len(recording.calls("AssumeRole")) == 1


def test_mfa_serial_on_the_aws_profile_of_the_keys(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    env: dict[str, str],
    recording: StsRecording,
) -> None:
    """aws-vault's convention: ``mfa_serial`` beside the keys, not on the role."""
    sandbox.write_aws_config(
        f"""\
        [profile joe]
        mfa_serial = {SERIAL}
        """
    )
    sandbox.write_rolehop(_toml().split("[profiles.joe]")[0])

    locked, _ = _without_terminal(env, "credential-process", "research-ro")
    assert locked.returncode == 9, locked.stderr
    result, _ = _without_terminal(env, "credential-process", "research-ro", "--mfa-token", "777888")
    assert result.returncode == 0, result.stderr
    assert caller_arn(moto, json.loads(result.stdout)) == ROLE_CALLER
    _session_token_call(recording, joe, "777888")
    second, _ = _without_terminal(env, "credential-process", "second")
    assert second.returncode == 0, second.stderr
    assert caller_arn(moto, json.loads(second.stdout)) == OTHER_CALLER
    _assumed_from_session(recording, 2)
    listed = subprocess.run(
        [sys.executable, "-m", "rolehop", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["profiles"]}
    assert rows["research-ro"]["credentials"].endswith(" + MFA")


def _denying_sts(seen: Seen) -> tuple[int, str]:
    """An STS that refuses every MFA code, as AWS does a wrong one, and knows Joe."""
    action = dict(urllib.parse.parse_qsl(seen.body)).get("Action")
    if action == "GetCallerIdentity":
        return 200, (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<GetCallerIdentityResult><Arn>{JOE_ARN}</Arn><UserId>AIDAJOE</UserId>"
            f"<Account>{COMPANY}</Account></GetCallerIdentityResult>"
            "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
            "</GetCallerIdentityResponse>"
        )
    return 403, (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        "<Type>Sender</Type><Code>AccessDenied</Code>"
        "<Message>MultiFactorAuthentication failed with invalid MFA one time pass code.</Message>"
        "</Error><RequestId>2</RequestId></ErrorResponse>"
    )


@pytest.mark.parametrize("where", ["base", "role"])
def test_a_refused_code_names_the_serial(
    sandbox: Sandbox, joe: dict[str, str], env: dict[str, str], where: str
) -> None:
    if where == "base":
        sandbox.write_rolehop(_toml())
        expected = f"the MFA code may be wrong or expired, or {SERIAL} is not this user's device"
    else:
        sandbox.write_rolehop(RESEARCH_RO_TOML + f'mfa_serial = "{SERIAL}"\n')
        expected = f"The MFA code may also be wrong or expired (serial {SERIAL})"

    with serving(_denying_sts) as sts:
        denied = {**env, "AWS_ENDPOINT_URL": sts.url}
        result, _ = _without_terminal(
            denied, "credential-process", "research-ro", "--mfa-token", "000000"
        )
        actions = [dict(urllib.parse.parse_qsl(seen.body)).get("Action") for seen in sts.seen]

    assert result.returncode == 5, result.stderr
    (line,) = result.stderr.splitlines()
    assert expected in line
    assert f"as {JOE_ARN}" in line
    assert "invalid MFA one time pass code" in line
    assert actions[0] == ("GetSessionToken" if where == "base" else "AssumeRole")
    assert actions.count("GetSessionToken") + actions.count("AssumeRole") == 1
