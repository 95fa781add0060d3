"""IAM Identity Center in the configuration: ``[sso-session NAME]`` and SSO profiles of the
AWS config (and the legacy form), ``[sso.NAME]`` and SSO base profiles of rolehop's TOML.
Each mistake is one error naming the file, the line and the key, kept for the profile that
has it (the others still load)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rolehop.config import files as configs
from rolehop.errors import ConfigError
from tests.conftest import Sandbox

SESSION = """\
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access, sso:extra
"""
URL = "https://c.awsapps.com/start"
ACCOUNT = "111122223333"
DEV = f"[profile dev]\nsso_session = corp\nsso_account_id = {ACCOUNT}\n"  # AWS config, line 5
TOML_DEV = f'[profiles.dev]\nsso_session = "corp"\nsso_account_id = "{ACCOUNT}"\n'
TOML_CORP = f'[sso.corp]\nsso_start_url = "{URL}"\nsso_region = "eu-west-1"\n'


def load(sandbox: Sandbox, aws: str = "", toml: str = "") -> configs.Config:
    sandbox.write_aws_config(aws)
    sandbox.write_rolehop(toml)
    return configs.load(
        {
            "HOME": str(sandbox.home),
            "AWS_CONFIG_FILE": str(sandbox.aws_config),
            "ROLEHOP_CONFIG": str(sandbox.root / "rolehop.toml"),
        }
    )


def test_an_sso_profile_through_its_session(sandbox: Sandbox) -> None:
    config = load(
        sandbox,
        SESSION + "[profile dev]\nsso_session = corp\nsso_account_id = 012345678901\n"
        "sso_role_name = Developer\n",
    )
    role = config.aws_bases["dev"].sso
    assert role is not None
    assert (role.account_id, role.role_name) == ("012345678901", "Developer")
    session = role.session
    assert (session.name, session.start_url, session.region) == (
        "corp",
        "https://corp.awsapps.com/start",
        "eu-west-1",
    )
    assert session.scopes == ("sso:account:access", "sso:extra") and session.refreshable
    assert config.sso_sessions["corp"] == session


def test_rolehop_s_sessions_and_sso_bases(sandbox: Sandbox) -> None:
    config = load(
        sandbox,
        SESSION,
        TOML_CORP + TOML_DEV + 'sso_role_name = "Admin"\n',
    )
    base = config.base_profiles["dev"].sso
    assert base is not None and base.session.start_url == URL  # TOML wins
    assert base.session.scopes == () and not base.session.refreshable


@dataclass(frozen=True)
class Bad:
    aws: str
    toml: str
    profile: str
    where: str  # "config:LINE" or "rolehop.toml:LINE"
    problem: str


BAD = {
    "http start URL": Bad(
        "[sso-session corp]\nsso_start_url = http://c.awsapps.com/start\nsso_region = eu-west-1\n"
        + DEV
        + "sso_role_name = D\n",
        "",
        "dev",
        "config:2",
        "sso-session 'corp', key 'sso_start_url': 'http://c.awsapps.com/start' is not an https",
    ),
    "region shape": Bad(
        f"[sso-session corp]\nsso_start_url = {URL}\nsso_region = Europe\n"
        + DEV
        + "sso_role_name = D\n",
        "",
        "dev",
        "config:3",
        "key 'sso_region': 'Europe' is not an AWS region name",
    ),
    "11-digit account": Bad(
        SESSION + DEV.replace(ACCOUNT, ACCOUNT[1:]) + "sso_role_name = D\n",
        "",
        "dev",
        "config:7",
        "profile 'dev', key 'sso_account_id': '11122223333' is not a 12-digit AWS account id",
    ),
    "role name charset": Bad(
        SESSION + DEV + "sso_role_name = Dev Ops\n",
        "",
        "dev",
        "config:8",
        "key 'sso_role_name': 'Dev Ops' is not a permission set name",
    ),
    "unknown session": Bad(
        SESSION + DEV.replace("= corp", "= crop") + "sso_role_name = D\n",
        "",
        "dev",
        "config:6",
        "sso_session 'crop' is not defined; did you mean 'corp'",
    ),
    "legacy without a region": Bad(
        f"[profile old]\nsso_start_url = {URL}\nsso_account_id = {ACCOUNT}\nsso_role_name = D\n",
        "",
        "old",
        "config:1",
        "sso_region is required beside sso_start_url",
    ),
    "start URL differs from the session's": Bad(
        SESSION + DEV + f"sso_role_name = D\nsso_start_url = {URL}\n",
        "",
        "dev",
        "config:9",
        "differs from sso_session 'corp'",
    ),
    "no role name": Bad(SESSION + DEV, "", "dev", "config:5", "sso_role_name is required"),
    "TOML account as a number": Bad(
        SESSION,
        TOML_DEV.replace(f'"{ACCOUNT}"', ACCOUNT) + 'sso_role_name = "D"\n',
        "dev",
        "rolehop.toml:3",
        "must be a string of 12 digits (quote it",
    ),
    "TOML unknown session key": Bad(
        "",
        TOML_CORP + 'region = "x"\n' + TOML_DEV + 'sso_role_name = "D"\n',
        "dev",
        "rolehop.toml:4",
        "sso session 'corp', key 'region': unknown key",
    ),
    "TOML SSO base with MFA": Bad(
        SESSION,
        TOML_DEV + f'sso_role_name = "D"\nmfa_serial = "arn:aws:iam::{ACCOUNT}:mfa/joe"\n',
        "dev",
        "rolehop.toml:5",
        "an SSO base profile has no MFA session of its own",
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD)
def test_each_mistake_is_one_error_at_its_line(sandbox: Sandbox, case: Bad) -> None:
    config = load(sandbox, case.aws + "[profile fine]\nregion = eu-west-1\n", case.toml)
    assert "fine" in config.aws_bases  # the others still load
    error = config.broken[case.profile]
    assert isinstance(error, ConfigError)
    file, line = case.where.split(":")
    path = sandbox.aws_config if file == "config" else sandbox.root / "rolehop.toml"
    assert (error.path, error.line) == (path, int(line)), str(error)
    assert case.problem in str(error)
    with pytest.raises(ConfigError) as raised:  # what using the profile says
        config.profile(case.profile)
    assert raised.value is error
