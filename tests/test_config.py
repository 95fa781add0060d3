"""rolehop's TOML file and the AWS shared files: what loads, and how they merge.

What each file refuses, and where: tests/test_config_toml.py, tests/test_config_aws.py.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from rolehop.config import files as config
from rolehop.config.files import AwsBase, Config, Profile, Settings
from rolehop.engine import chain
from rolehop.errors import ProfileNotFoundError
from tests.conftest import Sandbox
from tests.support.configs import ARN, load

# ---------------------------------------------------------------------------------------
# the good corpus

GOOD_TOML = """\
[settings]
refresh_margin = "30m"
default_region = "eu-west-1"
keyring_backend = "rolehop.stores.memory_keyring.MemoryKeyring"
cache = false

[profiles.dev]
role_arn = "arn:aws:iam::123456789012:role/dev"
source_profile = "base"

[profiles.prod]  # every key
role_arn = "arn:aws:iam::210987654321:role/path/to/Prod_Admin+=,.@-"
source_profile = "dev"
external_id = "ext-id:42/abc"
role_session_name = "alice@example.com"
duration_seconds = 3600
region = "us-east-1"
source_identity = "alice.smith"
policy_arns = [
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::210987654321:policy/Boundary",
]

[profiles.prod.session_tags]
team = "platform"
cost-center = "42"

[profiles.inline]
role_arn = "arn:aws-us-gov:iam::123456789012:role/gov"
source_profile = "base"
duration_seconds = "900"
session_tags = { project = "x y", empty = "" }
policy_arns = []

[profiles.shared]
role_arn = "arn:aws:iam::123456789012:role/from-toml"
source_profile = "base"
"""

GOOD_AWS_CONFIG = """\
[default]
region = eu-west-1

[profile base]
region = eu-central-1

[profile aws-role]
role_arn = arn:aws:iam::123456789012:role/from-aws
source_profile = base
duration_seconds = 1800
external_id = abc123
policy_arns = arn:aws:iam::aws:policy/A, arn:aws:iam::aws:policy/B
sso_start_url = https://ignored.example

[profile shared]
role_arn = arn:aws:iam::123456789012:role/from-aws-config
source_profile = base

[sso-session corp]
sso_start_url = https://example.awsapps.com/start
"""

GOOD_AWS_CREDENTIALS = """\
[base]
aws_access_key_id = AKIABASEEXAMPLE0001
aws_secret_access_key = base-secret-access-key
"""


@pytest.fixture
def good(sandbox: Sandbox) -> Config:
    sandbox.write_rolehop(GOOD_TOML)
    sandbox.write_aws_config(GOOD_AWS_CONFIG)
    sandbox.write_aws_credentials(GOOD_AWS_CREDENTIALS)
    return load()


def test_settings_are_read(good: Config) -> None:
    assert good.settings == Settings(
        refresh_margin=timedelta(minutes=30),
        default_region="eu-west-1",
        keyring_backend="rolehop.stores.memory_keyring.MemoryKeyring",
        cache=False,
    )


def test_every_profile_key_is_read(good: Config, sandbox: Sandbox) -> None:
    prod = good.profile("prod")
    assert prod == Profile(
        name="prod",
        origin="rolehop",
        path=sandbox.rolehop_config,
        line=11,
        role_arn="arn:aws:iam::210987654321:role/path/to/Prod_Admin+=,.@-",
        source_profile="dev",
        external_id="ext-id:42/abc",
        role_session_name="alice@example.com",
        duration_seconds=3600,
        region="us-east-1",
        source_identity="alice.smith",
        session_tags=(("cost-center", "42"), ("team", "platform")),
        policy_arns=(
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::210987654321:policy/Boundary",
        ),
    )
    assert dict(prod.key_lines) == {
        "role_arn": 12,
        "source_profile": 13,
        "external_id": 14,
        "role_session_name": 15,
        "duration_seconds": 16,
        "region": 17,
        "source_identity": 18,
        "policy_arns": 19,
        "session_tags": 24,
    }


def test_inline_tables_and_string_durations(good: Config, sandbox: Sandbox) -> None:
    assert good.profile("inline") == Profile(
        name="inline",
        origin="rolehop",
        path=sandbox.rolehop_config,
        line=28,
        role_arn="arn:aws-us-gov:iam::123456789012:role/gov",
        source_profile="base",
        duration_seconds=900,
        session_tags=(("empty", ""), ("project", "x y")),
        policy_arns=(),
    )
    assert good.profile("dev").duration_seconds is None
    assert good.profile("dev").line == 7


def test_aws_config_role_profiles_are_usable_by_name(good: Config, sandbox: Sandbox) -> None:
    profile = good.profile("aws-role")
    assert profile == Profile(
        name="aws-role",
        origin="aws",
        path=sandbox.aws_config,
        line=7,
        role_arn="arn:aws:iam::123456789012:role/from-aws",
        source_profile="base",
        duration_seconds=1800,
        external_id="abc123",
        policy_arns=("arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B"),
    )
    built = chain.build(good, "aws-role", {"USER": "tester"})
    assert built.names == ("base", "aws-role")
    assert built.hops[0].assume_role_params()["DurationSeconds"] == 1800


def test_a_name_in_both_places_uses_the_toml_profile(good: Config, sandbox: Sandbox) -> None:
    shared = good.profile("shared")
    assert shared.origin == "rolehop"
    assert shared.path == sandbox.rolehop_config
    assert shared.role_arn == "arn:aws:iam::123456789012:role/from-toml"


def test_profiles_and_bases_of_the_good_corpus(good: Config, sandbox: Sandbox) -> None:
    assert sorted(good.profiles) == ["aws-role", "dev", "inline", "prod", "shared"]
    assert sorted(good.aws_bases) == ["base", "default"]
    assert good.aws_bases["base"] == AwsBase(
        name="base",
        path=sandbox.aws_config,
        line=4,
        identity=(("aws_access_key_id", "AKIABASEEXAMPLE0001"), ("region", "eu-central-1")),
        has_static_keys=True,
        keys_path=sandbox.aws_credentials,  # [profile base] in the config has its region
    )
    assert good.broken == {}
    assert (good.path, good.aws_config_path, good.aws_credentials_path) == (
        sandbox.rolehop_config,
        sandbox.aws_config,
        sandbox.aws_credentials,
    )
    assert chain.check(good, {"USER": "tester"}) == []


def test_unknown_profile_is_profile_not_found(good: Config, sandbox: Sandbox) -> None:
    with pytest.raises(ProfileNotFoundError) as caught:
        good.profile("nope")
    assert str(caught.value) == (
        f"profile 'nope' not found in {sandbox.rolehop_config} or {sandbox.aws_config}; "
        "`rolehop list` shows the 5 known"
    )
    assert caught.value.exit_code == 3


def test_a_typo_of_a_profile_suggests_the_close_names_of_all(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        "".join(
            f'[profiles.{name}]\nrole_arn = "{ARN}"\nsource_profile = "base"\n'
            for name in [*(f"team{n:02}" for n in range(20)), "research-ro", "research-admin"]
        )
    )
    with pytest.raises(ProfileNotFoundError) as caught:
        load().profile("reserch-ro")
    assert str(caught.value) == (
        f"profile 'reserch-ro' not found in {sandbox.rolehop_config} or {sandbox.aws_config}; "
        "did you mean 'research-ro' or 'research-admin'?"
    )


def test_missing_toml_file_is_an_empty_config(sandbox: Sandbox) -> None:
    assert not sandbox.rolehop_config.exists()
    loaded = load()
    assert loaded.settings == Settings()
    assert loaded.settings.refresh_margin == timedelta(minutes=20)
    assert dict(loaded.profiles) == {}
    assert dict(loaded.aws_bases) == {}
    assert loaded.path == sandbox.rolehop_config


def test_missing_toml_file_still_reads_aws_role_profiles(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(
        f"""\
        [profile r]
        role_arn = {ARN}
        source_profile = base
        """
    )
    assert list(load().profiles) == ["r"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"30m"', timedelta(minutes=30)),
        ('"1h"', timedelta(hours=1)),
        ("1800", timedelta(seconds=1800)),
        ('"1h30m"', timedelta(minutes=90)),
        ('"16m"', timedelta(minutes=16)),
        ('"901s"', timedelta(seconds=901)),
    ],
)
def test_refresh_margin_forms(sandbox: Sandbox, value: str, expected: timedelta) -> None:
    sandbox.write_rolehop(f"[settings]\nrefresh_margin = {value}\n")
    assert load().settings.refresh_margin == expected


def test_rolehop_config_override_and_tilde(sandbox: Sandbox) -> None:
    other = sandbox.home / "elsewhere.toml"
    other.write_text('[settings]\nrefresh_margin = "45m"\n')
    environ = {**os.environ, "ROLEHOP_CONFIG": "~/elsewhere.toml"}
    loaded = config.load(environ)
    assert loaded.path == Path(str(sandbox.home) + "/elsewhere.toml")
    assert loaded.settings.refresh_margin == timedelta(minutes=45)
