"""``rolehop generate``: profiles for every account and role, from IAM Identity Center (the
stand-in, with more than 100 accounts, throttling and one account that refuses) and from
AWS Organizations (moto: an organization, OUs and 50 accounts), run as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from rolehop.features.demo import Emulator
from rolehop.features.demo.sso_standin import IdentityCenter, identity_center
from tests.conftest import REPO, Sandbox
from tests.support.sso_flows import BROWSER
from tests.support.tools import aws_cli_dir, require_tool, run_captured, spawn_rolehop

pytestmark = pytest.mark.integration

START_URL = "https://corp.awsapps.com/start"
SESSION = f"""\
    [sso-session corp]
    sso_start_url = {START_URL}
    sso_region = us-east-1
    sso_registration_scopes = sso:account:access
    """
ACCOUNTS = 105


def account(number: int) -> str:
    return f"{100000000000 + number:012d}"


@pytest.fixture
def center(moto: Emulator) -> Iterator[IdentityCenter]:
    with identity_center(moto.url) as running:
        for number in range(ACCOUNTS):
            running.add_account(
                account(number),
                f"Team {number:03d}",
                f"t{number}@example.com",
                ["ReadOnly", "Admin"],
            )
        yield running


@pytest.fixture
def env(
    sandbox: Sandbox, moto: Emulator, center: IdentityCenter, subprocess_env: dict[str, str]
) -> dict[str, str]:
    sandbox.write_aws_config(SESSION)
    sandbox.write_rolehop("")
    return {
        **subprocess_env,
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ENDPOINT_URL_SSO": center.url,
        "AWS_ENDPOINT_URL_SSO_OIDC": center.url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "ROLEHOP_AGENT": "0",
        "BROWSER": "true",
    }


def rolehop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_captured([sys.executable, "-m", "rolehop", *args], env, cwd=REPO, timeout=120)


def signed_in(env: dict[str, str], center: IdentityCenter) -> None:
    """A sign-in of session corp: the device code, approved by a $BROWSER that opens it."""
    center.device_interval = 1
    browser = {"BROWSER": f"{sys.executable} {BROWSER} %s", "SSO_BROWSER_LOG": os.devnull}
    result = rolehop({**env, **browser}, "sso", "login", "corp", "--device-code")
    assert result.returncode == 0, result.stderr


def caller_of(moto: Emulator, issued: subprocess.CompletedProcess[str]) -> str:
    """Whom the credential_process document ``issued`` printed signs as (moto says)."""
    assert issued.returncode == 0, issued.stderr
    document = json.loads(issued.stdout)
    return str(
        moto.client(
            "sts",
            aws_access_key_id=document["AccessKeyId"],
            aws_secret_access_key=document["SecretAccessKey"],
            aws_session_token=document["SessionToken"],
        ).get_caller_identity()["Arn"]
    )


def generated(sandbox: Sandbox, source: str) -> Path:
    return sandbox.root / "generated" / f"{source}.toml"


def test_every_account_and_permission_set_of_a_session(
    env: dict[str, str], center: IdentityCenter, sandbox: Sandbox
) -> None:
    signed_in(env, center)
    center.fail_next("ListAccountRoles", 403, "ForbiddenException", "No access")
    for _ in range(3):  # throttled: botocore's standard retries wait and try again
        center.fail_next("ListAccountRoles", 400, "TooManyRequestsException", "Rate exceeded")

    result = rolehop(env, "generate", "--sso", "corp")

    assert result.returncode == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if "warning: skipped" in line]
    assert len(skipped) == 1 and "ForbiddenException" in skipped[0]
    path = generated(sandbox, "sso-corp")
    text = path.read_text()
    assert text.count("[profiles.") == 2 * (ACCOUNTS - 1)
    assert '[profiles."team-000.readonly"]' in text or '[profiles."team-001.readonly"]' in text
    assert f"wrote {path}: {2 * (ACCOUNTS - 1)} profile(s)" in result.stderr
    assert center.count("ListAccounts") == (ACCOUNTS + 1) // 2  # every page
    listed = json.loads(rolehop(env, "list", "--json").stdout)
    names = {row["name"] for row in listed["bases"]}
    assert len({name for name in names if name.startswith("team-")}) == 2 * (ACCOUNTS - 1)

    # the account refused the first time is listed now: 2 added, nothing else moved
    again = rolehop(env, "generate", "--sso", "corp")
    assert again.returncode == 0, again.stderr
    assert f"wrote {path}: {2 * ACCOUNTS} profile(s), 2 added, 0 removed, 0 changed" in again.stderr
    # a run with nothing changed rewrites nothing: same bytes, same mtime
    settled = path.read_bytes()
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    third = rolehop(env, "generate", "--sso", "corp")
    assert f"unchanged: {path}" in third.stderr
    assert path.read_bytes() == settled
    assert path.stat().st_mtime_ns == 1_000_000_000


def test_a_generated_profile_works_and_a_hand_written_one_wins(
    env: dict[str, str], center: IdentityCenter, sandbox: Sandbox, moto: Emulator
) -> None:
    signed_in(env, center)
    mine = (
        '[profiles."team-007.admin"]\nsso_session = "corp"\n'
        f'sso_account_id = "{account(7)}"\nsso_role_name = "ReadOnly"\n'
    )
    config = sandbox.write_rolehop(mine)
    before = config.read_bytes()

    result = rolehop(env, "generate", "--sso", "corp")

    assert result.returncode == 0, result.stderr
    assert f"'team-007.admin' is hand-written in {config}: left as it is" in result.stderr
    assert config.read_bytes() == before
    assert '"team-007.admin"' not in generated(sandbox, "sso-corp").read_text()
    caller = caller_of(moto, rolehop(env, "credential-process", "team-042.admin"))
    assert f"arn:aws:sts::{account(42)}:assumed-role/AWSReservedSSO_Admin_" in caller
    # the hand-written one is the ReadOnly permission set, whatever the generated file says
    shown = json.loads(rolehop(env, "list", "--json").stdout)
    row = next(row for row in shown["bases"] if row["name"] == "team-007.admin")
    assert "ReadOnly" in row["credentials"]


def test_dry_run_says_what_would_change_and_writes_nothing(
    env: dict[str, str], center: IdentityCenter, sandbox: Sandbox
) -> None:
    signed_in(env, center)
    result = rolehop(
        env, "generate", "--sso", "corp", "--dry-run", "--name", "{account_id}-{role_name}"
    )
    assert result.returncode == 0, result.stderr
    assert f"+ {account(0)}-admin" in result.stdout.splitlines()
    assert len(result.stdout.splitlines()) == 2 * ACCOUNTS
    assert not generated(sandbox, "sso-corp").exists()


def test_aws_config_blocks_let_every_aws_tool_use_the_names(
    env: dict[str, str], center: IdentityCenter, sandbox: Sandbox
) -> None:
    signed_in(env, center)
    mine = "\n[profile team-001.readonly]\nregion = eu-west-1\n"
    aws_config = sandbox.write_aws_config(SESSION + mine)
    users = aws_config.read_text()

    result = rolehop(env, "generate", "--sso", "corp", "--aws-config")

    assert result.returncode == 0, result.stderr
    total = 2 * ACCOUNTS
    assert f"'team-001.readonly' is hand-written in {aws_config}: left as it is" in result.stderr
    assert f"updated {aws_config}: block 'sso-corp', {total - 1} profile(s)" in result.stderr
    text = aws_config.read_text()
    assert text.startswith(users)  # nothing of the user's moved
    command = f"rolehop --config {sandbox.rolehop_config} credential-process"
    assert f"[profile team-042.admin]\ncredential_process = {command} team-042.admin\n" in text
    assert text.count("[profile team-001.readonly]") == 1

    # the AWS CLI, through the block's credential_process, gets the permission set's keys
    tools = os.pathsep.join([aws_cli_dir(), os.path.dirname(require_tool("rolehop"))])
    called = run_captured(
        ["aws", "sts", "get-caller-identity", "--profile", "team-042.admin", "--output", "json"],
        {**env, "PATH": os.pathsep.join([tools, env["PATH"]])},
        cwd=REPO,
        timeout=120,
    )
    assert called.returncode == 0, called.stderr
    arn = json.loads(called.stdout)["Arn"]
    assert arn.startswith(f"arn:aws:sts::{account(42)}:assumed-role/AWSReservedSSO_Admin_")

    # a second run: the block's own profiles are not taken for hand-written ones
    os.utime(aws_config, ns=(1_000_000_000, 1_000_000_000))
    again = rolehop(env, "generate", "--sso", "corp", "--aws-config")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("hand-written") == 1  # team-001.readonly, still
    assert f"unchanged: {aws_config}: block 'sso-corp', {total - 1} profile(s)" in again.stderr
    assert aws_config.read_text() == text
    assert aws_config.stat().st_mtime_ns == 1_000_000_000
    listed = json.loads(rolehop(env, "list", "--json").stdout)
    names = [row["name"] for row in listed["bases"]]
    assert names.count("team-042.admin") == 1


ROLE = "OrganizationAccountAccessRole"


@pytest.fixture
def organization(sandbox: Sandbox, moto: Emulator, env: dict[str, str]) -> dict[str, str]:
    """An organization: Workloads (20 accounts, 10 more in its Prod OU) and Sandbox (20);
    ``mgmt``'s keys (the management account) in ~/.aws/credentials. OU ids by name."""
    sandbox.write_aws_credentials(
        "[mgmt]\naws_access_key_id = AKIAMGMT000000000001\naws_secret_access_key = mgmt-secret\n"
    )
    orgs = moto.client(
        "organizations", aws_access_key_id="AKIAMGMT000000000001", aws_secret_access_key="x"
    )
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    units = {"Root": root}
    for name, parent in (("Workloads", "Root"), ("Prod", "Workloads"), ("Sandbox", "Root")):
        made = orgs.create_organizational_unit(ParentId=units[parent], Name=name)
        units[name] = made["OrganizationalUnit"]["Id"]
    for number in range(50):
        unit = "Workloads" if number < 20 else ("Prod" if number < 30 else "Sandbox")
        made = orgs.create_account(Email=f"a{number}@example.com", AccountName=f"App {number:02d}")
        account_id = made["CreateAccountStatus"]["AccountId"]
        orgs.move_account(
            AccountId=account_id, SourceParentId=root, DestinationParentId=units[unit]
        )
        units[f"account {number}"] = account_id
    return units


def test_every_active_account_of_the_organization(
    env: dict[str, str], organization: dict[str, str], sandbox: Sandbox, moto: Emulator
) -> None:
    args = ("generate", "--organization", "--from", "mgmt", "--role", ROLE)
    result = rolehop(env, *args)
    assert result.returncode == 0, result.stderr
    text = generated(sandbox, "org-mgmt").read_text()
    for number in range(50):
        assert f'[profiles."app-{number:02d}.organizationaccountaccessrole"]' in text
    assert f'role_arn = "arn:aws:iam::{organization["account 7"]}:role/{ROLE}"' in text
    assert 'source_profile = "mgmt"' in text

    issued = rolehop(env, "credential-process", "app-07.organizationaccountaccessrole")
    caller = caller_of(moto, issued)
    assert caller.startswith(f"arn:aws:sts::{organization['account 7']}:assumed-role/{ROLE}/")

    # an account closed: kept and said without --prune, removed with it
    orgs = moto.client(
        "organizations", aws_access_key_id="AKIAMGMT000000000001", aws_secret_access_key="x"
    )
    orgs.close_account(AccountId=organization["account 3"])
    kept = rolehop(env, *args)
    assert "1 gone but kept (--prune removes them)" in kept.stderr
    assert "app-03.organizationaccountaccessrole" in generated(sandbox, "org-mgmt").read_text()
    pruned = rolehop(env, *args, "--prune")
    assert "0 added, 1 removed, 0 changed" in pruned.stderr, pruned.stderr
    assert "app-03." not in generated(sandbox, "org-mgmt").read_text()


def test_one_ou_subtree_with_the_ou_in_the_name(
    env: dict[str, str], organization: dict[str, str], sandbox: Sandbox
) -> None:
    result = rolehop(
        env, "generate", "--organization", "--from", "mgmt", "--role", "Admin",
        "--ou", organization["Workloads"], "--name", "{ou}/{account_name}.{role_name}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = generated(sandbox, "org-mgmt").read_text()
    assert text.count("[profiles.") == 30
    assert '[profiles."workloads-app-00.admin"]' in text
    assert '[profiles."prod-app-25.admin"]' in text
    assert "sandbox-" not in text


def test_two_accounts_with_one_name_are_an_error_naming_both(
    env: dict[str, str], organization: dict[str, str], sandbox: Sandbox, moto: Emulator
) -> None:
    orgs = moto.client(
        "organizations", aws_access_key_id="AKIAMGMT000000000001", aws_secret_access_key="x"
    )
    one = orgs.create_account(Email="d1@example.com", AccountName="Dup")["CreateAccountStatus"]
    two = orgs.create_account(Email="d2@example.com", AccountName="DUP")["CreateAccountStatus"]
    result = rolehop(env, "generate", "--organization", "--from", "mgmt", "--role", ROLE)
    assert result.returncode == 2
    assert "two profiles would be named 'dup.organizationaccountaccessrole'" in result.stderr
    assert one["AccountId"] in result.stderr and two["AccountId"] in result.stderr
    assert not generated(sandbox, "org-mgmt").exists()


def test_a_run_killed_midway_leaves_the_old_file(
    env: dict[str, str], center: IdentityCenter, sandbox: Sandbox
) -> None:
    signed_in(env, center)
    assert rolehop(env, "generate", "--sso", "corp").returncode == 0
    path = generated(sandbox, "sso-corp")
    old = path.read_bytes()
    center.add_account(account(500), "Newcomer", "n@example.com", ["Admin"])
    center.latency = 0.05  # 53 pages of accounts: seconds of listing before any write
    process = subprocess.Popen(
        [sys.executable, "-m", "rolehop", "generate", "--sso", "corp"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while center.count("ListAccounts") < 5:  # it is listing: killed in the middle
            assert process.poll() is None
            time.sleep(0.02)
        process.kill()  # SIGKILL: no cleanup of any kind
    finally:
        process.wait(timeout=30)
    assert process.returncode == -9
    assert path.read_bytes() == old
    center.latency = 0.0
    done = rolehop(env, "generate", "--sso", "corp")
    assert "1 added, 0 removed, 0 changed" in done.stderr, done.stderr  # the newcomer


def test_a_progress_bar_on_a_terminal_and_one_line_at_the_end(
    env: dict[str, str], center: IdentityCenter, sandbox: Sandbox
) -> None:
    """On a terminal, rich's bar on stderr while the accounts are listed (none on a pipe:
    the other tests see only the summary line)."""
    signed_in(env, center)
    child, transcript = spawn_rolehop({**env, "TERM": "xterm", "COLUMNS": "100"},
                                      "generate", "--sso", "corp", cwd=REPO)  # fmt: skip
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    shown = transcript.getvalue()
    assert child.exitstatus == 0, shown
    assert "listing accounts and roles" in shown  # the bar's description
    assert "\x1b[" in shown  # drawn, then cleared (transient)
    assert f"wrote {generated(sandbox, 'sso-corp')}: {2 * ACCOUNTS} profile(s)" in shown
