"""IAM Identity Center end to end: rolehop (a subprocess, as users run it) against the local
stand-in (tests/support/sso_standin.py, reached through AWS_ENDPOINT_URL_SSO and
AWS_ENDPOINT_URL_SSO_OIDC) and moto, whose role credentials the portal hands out.

Both sign-in flows with a ``$BROWSER`` that approves like a person (sso_browser.py), a chain
of two AssumeRoles from a permission set, the AWS CLI through credential_process, 16
parallel calls behind one refresh, and what happens when the session is gone.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pexpect
import pytest

from rolehop.features.demo import Emulator
from rolehop.features.demo.sso_roles import reserved_role_arn
from rolehop.features.demo.sso_standin import IdentityCenter, identity_center
from rolehop.stores.sign_ins import aws_cli_cache_name
from tests.conftest import REPO, Sandbox
from tests.support.emulator import caller_arn
from tests.support.federation import fake_federation
from tests.support.leaks import Secrets, app_dirs, files_under, moto_issued
from tests.support.sso_flows import BROWSER, browser_events, sso_user_arn, trusting
from tests.support.tools import aws_cli_dir, run_captured, spawn_rolehop

pytestmark = pytest.mark.integration

RESEARCH, COMPANY, WAREHOUSE = "111122223333", "444455556666", "777788889999"
HOP1 = f"arn:aws:iam::{COMPANY}:role/Hop1"
HOP2 = f"arn:aws:iam::{WAREHOUSE}:role/Hop2"
START_URL = "https://corp.awsapps.com/start"
AWS_CONFIG = f"""\
    [sso-session corp]
    sso_start_url = {START_URL}
    sso_region = us-east-1
    sso_registration_scopes = sso:account:access

    [profile dev-sso]
    sso_session = corp
    sso_account_id = {RESEARCH}
    sso_role_name = Developer
    region = us-east-1
    """
ROLEHOP = f"""\
    [profiles.hop1]
    role_arn = "{HOP1}"
    source_profile = "dev-sso"

    [profiles.hop2]
    role_arn = "{HOP2}"
    source_profile = "hop1"
    """
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
PRINT_KEYS = (
    "import json, os; print(json.dumps({'AccessKeyId': os.environ['AWS_ACCESS_KEY_ID'], "
    "'SecretAccessKey': os.environ['AWS_SECRET_ACCESS_KEY'], "
    "'SessionToken': os.environ['AWS_SESSION_TOKEN']}))"
)
ONE_LINE = (
    "rolehop: error: profile 'dev-sso': IAM Identity Center session 'corp' {state}: run "
    "rolehop sso login corp\n"
)


@pytest.fixture
def center(moto: Emulator) -> Iterator[IdentityCenter]:
    with identity_center(moto.url) as running:
        running.add_account(RESEARCH, "Research", "research@example.com", ["Developer", "ReadOnly"])
        running.add_account(COMPANY, "Company", "company@example.com", ["ReadOnly"])
        running.add_account(WAREHOUSE, "Warehouse", "wh@example.com", ["A", "B", "C"])
        yield running


@pytest.fixture
def sso_env(
    sandbox: Sandbox, moto: Emulator, center: IdentityCenter, subprocess_env: dict[str, str]
) -> dict[str, str]:
    """The sandbox's files and an environment that reaches the stand-in and moto; the
    roles of the chain made in moto (Hop1 trusts the permission set's role, Hop2 Hop1)."""
    sandbox.write_aws_config(AWS_CONFIG)
    sandbox.write_rolehop(ROLEHOP)
    permission_set = reserved_role_arn(RESEARCH, "Developer")
    for arn, trusted in ((HOP1, permission_set), (HOP2, HOP1)):
        account, name = arn.split(":")[4], arn.rsplit("/", 1)[1]
        iam = moto.client("iam", **moto.admin_of(account))
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trusting(trusted))
    return {
        **subprocess_env,
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ENDPOINT_URL_SSO": center.url,
        "AWS_ENDPOINT_URL_SSO_OIDC": center.url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "BROWSER": f"{sys.executable} {BROWSER} %s",
        "SSO_BROWSER_LOG": str(sandbox.root / "browser.jsonl"),
        "ROLEHOP_AGENT": "0",
    }


def rolehop(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_captured([sys.executable, "-m", "rolehop", *args], {**env, **extra}, cwd=REPO)


def login(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    result = rolehop(env, "sso", "login", "corp", *extra)
    assert result.returncode == 0, result.stderr
    return result


def test_authorization_code_then_the_permission_set_s_credentials(
    sso_env: dict[str, str], center: IdentityCenter, moto: Emulator, sandbox: Sandbox
) -> None:
    result = login(sso_env)
    assert result.stdout == ""
    assert "signed in to IAM Identity Center session 'corp'" in result.stderr
    assert center.count("CreateToken", grant_type="authorization_code") == 1
    assert center.count("RegisterClient") == 1
    opened = [
        event
        for event in browser_events(Path(sso_env["SSO_BROWSER_LOG"]))
        if event["event"] == "open"
    ]
    assert len(opened) == 1 and opened[0]["url"].startswith(
        "http://127.0.0.1:"
    )  # the one-time address
    # no plaintext file: the tokens are in the (test's file) keyring only
    assert not (sandbox.home / ".aws" / "sso").exists()

    issued = rolehop(sso_env, "credential-process", "dev-sso")
    assert issued.returncode == 0, issued.stderr
    assert caller_arn(moto, json.loads(issued.stdout)) == sso_user_arn(RESEARCH, "Developer")

    again = login(sso_env)  # a second sign-in reuses the registration
    assert again.returncode == 0 and center.count("RegisterClient") == 1


def test_a_tampered_state_is_refused(sso_env: dict[str, str], center: IdentityCenter) -> None:
    result = rolehop(sso_env, "sso", "login", "corp", SSO_BROWSER_MODE="tamper-state")
    assert result.returncode == 12
    assert result.stderr.endswith(
        "rolehop: error: sign-in failed: the redirect's state is not the one sent: refused\n"
    )
    assert center.count("CreateToken") == 0


def test_device_code(sso_env: dict[str, str], center: IdentityCenter) -> None:
    center.device_interval = 1
    result = login(sso_env, "--device-code")
    assert "enter the code" in result.stderr
    assert (
        center.count("CreateToken", grant_type="urn:ietf:params:oauth:grant-type:device_code") >= 1
    )
    assert rolehop(sso_env, "credential-process", "dev-sso").returncode == 0


def test_a_chain_of_two_hops_from_a_permission_set(
    sso_env: dict[str, str], moto: Emulator, center: IdentityCenter
) -> None:
    login(sso_env)
    first = rolehop(sso_env, "credential-process", "hop1")
    second = rolehop(sso_env, "credential-process", "hop2")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert (
        caller_arn(moto, json.loads(first.stdout))
        == f"arn:aws:sts::{COMPANY}:assumed-role/Hop1/rolehop-tester"
    )
    assert (
        caller_arn(moto, json.loads(second.stdout))
        == f"arn:aws:sts::{WAREHOUSE}:assumed-role/Hop2/rolehop-tester"
    )
    assert center.count("GetRoleCredentials") == 1  # the permission set's credentials, cached


def test_the_aws_cli_through_credential_process(sso_env: dict[str, str], sandbox: Sandbox) -> None:
    login(sso_env)
    run = f"{sys.executable} -m rolehop credential-process"
    sandbox.write_aws_config(
        AWS_CONFIG
        + f"\n    [profile via-sso]\n    credential_process = {run} dev-sso\n"
        + f"\n    [profile via-hop2]\n    credential_process = {run} hop2\n"
    )
    env = {**sso_env, "PATH": os.pathsep.join([aws_cli_dir(), sso_env["PATH"]])}
    for profile, arn in (
        ("via-sso", sso_user_arn(RESEARCH, "Developer")),
        ("via-hop2", f"arn:aws:sts::{WAREHOUSE}:assumed-role/Hop2/rolehop-tester"),
    ):
        result = run_captured(
            ["aws", "sts", "get-caller-identity", "--profile", profile, "--output", "json"],
            env,
            cwd=REPO,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["Arn"] == arn


@pytest.mark.parametrize("agent", ["0", "1"], ids=["direct", "agent"])
def test_sixteen_parallel_calls_make_one_refresh(
    sso_env: dict[str, str], center: IdentityCenter, agent: str
) -> None:
    center.access_token_ttl = timedelta(seconds=200)  # within 5 minutes
    login(sso_env)
    center.access_token_ttl = timedelta(hours=1)
    env = {**sso_env, "ROLEHOP_AGENT": agent}
    if agent == "1":
        assert rolehop(env, "agent", "start").returncode == 0
    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(
                pool.map(lambda _: rolehop(env, "credential-process", "hop1"), range(16))
            )
    finally:
        if agent == "1":
            assert rolehop(env, "agent", "stop").returncode == 0
    assert [result.returncode for result in results] == [0] * 16, results[0].stderr
    assert center.count("CreateToken", grant_type="refresh_token") == 1
    assert len({result.stdout for result in results}) == 1  # one set of credentials


@pytest.mark.parametrize("how", ["revoked", "logged out"])
def test_a_session_gone_is_one_line_at_once(
    sso_env: dict[str, str], center: IdentityCenter, how: str
) -> None:
    center.access_token_ttl = timedelta(0)  # expired at once: a refresh is needed
    login(sso_env)
    if how == "revoked":
        center.revoke_refresh_tokens()
    else:
        assert rolehop(sso_env, "sso", "logout", "corp").returncode == 0
        assert center.count("Logout") == 1
    started = time.monotonic()
    result = rolehop(sso_env, "credential-process", "dev-sso")
    elapsed = time.monotonic() - started
    assert (result.returncode, result.stdout) == (12, "")
    state = "has expired" if how == "revoked" else "is not signed in"
    assert result.stderr == ONE_LINE.format(state=state)
    assert elapsed < 2.0


def test_exported_tokens_serve_the_aws_cli_s_own_sso_profile(
    sso_env: dict[str, str], sandbox: Sandbox
) -> None:
    login(sso_env, "--export-token")
    cached = sandbox.home / ".aws" / "sso" / "cache" / aws_cli_cache_name("corp")
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    document = json.loads(cached.read_text())
    assert set(document) >= {
        "startUrl",
        "region",
        "accessToken",
        "expiresAt",
        "clientId",
        "clientSecret",
        "refreshToken",
        "registrationExpiresAt",
    }
    env = {**sso_env, "PATH": os.pathsep.join([aws_cli_dir(), sso_env["PATH"]])}
    result = run_captured(
        ["aws", "sts", "get-caller-identity", "--profile", "dev-sso", "--output", "json"],
        env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr  # botocore's own SSO provider took it
    assert json.loads(result.stdout)["Arn"] == sso_user_arn(RESEARCH, "Developer")


def test_a_sign_in_of_the_aws_cli_is_used(
    sso_env: dict[str, str], sandbox: Sandbox, center: IdentityCenter, moto: Emulator
) -> None:
    from tests.support.sso_flows import client, device_login

    oidc = client("sso-oidc", center)
    token = device_login(
        center,
        oidc,
        scopes=["sso:account:access"],
        grantTypes=["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        issuerUrl=START_URL,
    )
    cache = sandbox.home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    # as the AWS CLI writes it
    (cache / aws_cli_cache_name("corp")).write_text(
        json.dumps(
            {
                "startUrl": START_URL,
                "region": "us-east-1",
                "accessToken": token["accessToken"],
                "expiresAt": "2099-01-01T00:00:00Z",
                **token["keys"],
                "refreshToken": token["refreshToken"],
                "registrationExpiresAt": "2099-01-01T00:00:00Z",
            }
        )
    )
    os.chmod(cache / aws_cli_cache_name("corp"), 0o600)
    result = rolehop(sso_env, "credential-process", "dev-sso")
    assert result.returncode == 0, result.stderr
    assert caller_arn(moto, json.loads(result.stdout)) == sso_user_arn(RESEARCH, "Developer")
    assert center.count("RegisterClient") == 1  # the AWS CLI's: rolehop asked no sign-in


def test_accounts_status_and_logout(sso_env: dict[str, str], center: IdentityCenter) -> None:
    login(sso_env)
    listed = rolehop(sso_env, "sso", "accounts", "--json")
    assert listed.returncode == 0, listed.stderr
    accounts = {a["account_id"]: a["roles"] for a in json.loads(listed.stdout)["accounts"]}
    assert accounts == {
        RESEARCH: ["Developer", "ReadOnly"],
        COMPANY: ["ReadOnly"],
        WAREHOUSE: ["A", "B", "C"],
    }
    assert center.count("ListAccounts") == 2  # three accounts, pages of two

    status = rolehop(sso_env, "sso", "status", "--json")
    (row,) = json.loads(status.stdout)["sessions"]
    assert (row["session"], row["signed_in"], row["refreshable"]) == ("corp", True, True)
    secrets = {"accessToken", "refreshToken", "clientSecret", "codeVerifier", "code", "deviceCode"}
    for call in center.calls:  # never a token on stdout
        for key, value in call.params.items():
            if key in secrets and isinstance(value, str):
                assert value not in status.stdout + listed.stdout

    assert rolehop(sso_env, "credential-process", "dev-sso").returncode == 0
    out = rolehop(sso_env, "sso", "logout")
    assert out.returncode == 0 and "1 cached credential(s) forgotten" in out.stderr
    after = json.loads(rolehop(sso_env, "sso", "status", "--json").stdout)["sessions"][0]
    assert after["signed_in"] is False


def test_on_a_terminal_a_needed_sign_in_starts_the_device_code(
    sso_env: dict[str, str], center: IdentityCenter, moto: Emulator
) -> None:
    center.device_interval = 1
    child, transcript = spawn_rolehop(sso_env, "credential-process", "hop1")
    child.expect("IAM Identity Center session 'corp' needs a sign-in: signing in")
    child.expect("enter the code ")  # the $BROWSER opened the page and approved it
    child.expect(r'"Version": 1')
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, transcript.getvalue()
    assert center.count("StartDeviceAuthorization") == 1
    assert center.count("CreateToken", grant_type=DEVICE) >= 1
    document = json.loads(transcript.getvalue()[transcript.getvalue().index("{") :])
    assert caller_arn(moto, document) == f"arn:aws:sts::{COMPANY}:assumed-role/Hop1/rolehop-tester"


def test_sso_auto_login_false_says_how_instead(sso_env: dict[str, str], sandbox: Sandbox) -> None:
    sandbox.write_rolehop("[settings]\nsso_auto_login = false\n" + textwrap.dedent(ROLEHOP))
    child, transcript = spawn_rolehop(sso_env, "credential-process", "dev-sso")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 12
    assert transcript.getvalue().strip() == ONE_LINE.format(state="is not signed in").strip()


def test_no_token_leaks(
    sso_env: dict[str, str], center: IdentityCenter, moto: Emulator, sandbox: Sandbox
) -> None:
    """Every SSO command with --debug, then a search for every token, client secret and
    device code the stand-in saw, and every credential moto issued: only the stdout of
    credential-process and env may hold credentials, and the keyring (a file here) the
    tokens; no other output, no file, no child's argv."""
    tmp = sandbox.root / "tmpdir"
    tmp.mkdir()
    env = {**sso_env, "TMPDIR": str(tmp)}
    center.access_token_ttl = timedelta(seconds=200)  # the next use refreshes
    quiet: list[subprocess.CompletedProcess[str]] = []
    handing: list[subprocess.CompletedProcess[str]] = []
    for args, gives in (
        (("sso", "login", "corp", "--device-code"), False),
        (("sso", "login", "corp"), False),
        (("credential-process", "hop2"), True),
        (("env", "dev-sso", "--shell", "bash"), True),
        (("sso", "status", "--json"), False),
        (("sso", "accounts", "--json"), False),
        (("list",), False),
        (("sso", "logout", "corp"), False),
    ):
        result = rolehop(env, "--debug", *args)
        assert result.returncode == 0, (args, result.stderr[-2000:])
        assert " DEBUG " in result.stderr
        (handing if gives else quiet).append(result)
    assert center.count("CreateToken", grant_type="refresh_token") >= 1

    secrets = Secrets()
    for call in center.calls:
        for key in ("accessToken", "refreshToken", "clientSecret", "deviceCode", "codeVerifier"):
            secrets.add(f"{call.operation} {key}", call.params.get(key))
    secrets.add_sessions(moto_issued(moto.url))
    assert len(secrets) > 10
    outputs = {f"#{n} stderr": r.stderr for n, r in enumerate(quiet + handing)}
    outputs |= {f"#{n} stdout": r.stdout for n, r in enumerate(quiet)}
    assert secrets.in_texts(outputs) == {}
    for result in handing:  # credentials, never a token
        owners = secrets.owners(result.stdout)
        assert owners and all(label.startswith("moto session") for label in owners)
    keyring_file = Path(env["ROLEHOP_TEST_KEYRING"])
    files = files_under(
        [sandbox.home, sandbox.root, tmp, *app_dirs(env).values()], exclude=[keyring_file]
    )
    assert sandbox.aws_config.resolve() in files
    assert secrets.in_files(files) == {}  # the browser's log, argv included, holds none


def test_every_command_that_resolves_works_on_an_sso_base(
    sso_env: dict[str, str], moto: Emulator, sandbox: Sandbox
) -> None:
    login(sso_env)
    who = rolehop(sso_env, "whoami", "dev-sso", "--json")
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["arn"] == sso_user_arn(RESEARCH, "Developer")
    child = rolehop(sso_env, "exec", "dev-sso", "--", sys.executable, "-c", PRINT_KEYS)
    assert child.returncode == 0, child.stderr
    assert caller_arn(moto, json.loads(child.stdout)) == sso_user_arn(RESEARCH, "Developer")
    exported = rolehop(sso_env, "env", "hop2", "--shell", "bash")
    assert exported.returncode == 0 and "export AWS_SESSION_TOKEN=" in exported.stdout
    with fake_federation() as federation:
        sandbox.write_rolehop(
            f'[settings]\nfederation_url = "{federation.url}"\n' + textwrap.dedent(ROLEHOP)
        )
        signed = rolehop(sso_env, "login", "dev-sso", "--print")
    assert signed.returncode == 0, signed.stderr
    assert federation.token in signed.stdout
    (request,) = federation.requests
    assert request.session is not None
    assert caller_arn(
        moto,
        {
            "AccessKeyId": request.session["sessionId"],
            "SecretAccessKey": request.session["sessionKey"],
            "SessionToken": request.session["sessionToken"],
        },
    ) == sso_user_arn(RESEARCH, "Developer")


def test_explain_names_the_permission_set_s_role_as_the_caller(sso_env: dict[str, str]) -> None:
    login(sso_env)
    result = rolehop(sso_env, "explain", "hop1", "--json")
    assert "AWSReservedSSO_Developer_" in result.stdout, result.stdout + result.stderr
