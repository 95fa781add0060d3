"""rolehop's TOML file and the AWS shared files: what loads, and what is refused where."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from rolehop.config import files as config
from rolehop.config.files import AwsBase, Config, Profile, Settings
from rolehop.engine import chain
from rolehop.errors import ConfigError, ProfileNotFoundError
from tests.conftest import Sandbox

ARN = "arn:aws:iam::123456789012:role/a"


def load() -> Config:
    return config.load(dict(os.environ))


def load_error() -> ConfigError:
    """The error of a bad configuration: from loading it when it affects every profile,
    else from using the one profile it breaks (which loading keeps aside)."""
    try:
        loaded = load()
    except ConfigError as error:
        return error
    assert len(loaded.broken) == 1, f"loaded, with broken profiles {list(loaded.broken)}"
    [(name, broken)] = loaded.broken.items()
    with pytest.raises(ConfigError) as caught:
        loaded.profile(name)
    assert caught.value is broken
    return broken


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


# ---------------------------------------------------------------------------------------
# the bad corpus: rolehop's TOML

# Lines 1-4 hold a valid profile whose keys share names with the broken one below it,
# so a line number taken from the wrong profile shows up.
PREFIX = """\
[profiles.ok]
role_arn = "arn:aws:iam::123456789012:role/ok"
source_profile = "base"

"""


def profile_a(*lines: str, header: str = "[profiles.a]") -> str:
    """PREFIX, then ``header`` on line 5 and ``lines`` from line 6."""
    return PREFIX + header + "\n" + "".join(line + "\n" for line in lines)


A = (f'role_arn = "{ARN}"', 'source_profile = "base"')  # lines 6 and 7


@dataclass(frozen=True)
class Bad:
    text: str
    line: int | None
    profile: str | None
    key: str | None
    problem: str


BAD_TOML: dict[str, Bad] = {
    "bad-arn": Bad(
        profile_a('role_arn = "arn:aws:iam::12345:role/a"', 'source_profile = "base"'),
        6,
        "a",
        "role_arn",
        "'arn:aws:iam::12345:role/a' is not an IAM role ARN",
    ),
    "arn-of-a-user": Bad(
        profile_a('source_profile = "base"', 'role_arn = "arn:aws:iam::123456789012:user/a"'),
        7,
        "a",
        "role_arn",
        "is not an IAM role ARN",
    ),
    "duration-899": Bad(
        profile_a(*A, "duration_seconds = 899"),
        8,
        "a",
        "duration_seconds",
        "899 is outside 900-43200 seconds (STS limits)",
    ),
    "duration-43201": Bad(
        profile_a(*A, "duration_seconds = 43201"),
        8,
        "a",
        "duration_seconds",
        "43201 is outside 900-43200 seconds (STS limits)",
    ),
    "duration-abc": Bad(
        profile_a(*A, 'duration_seconds = "abc"'),
        8,
        "a",
        "duration_seconds",
        "must be a whole number of seconds",
    ),
    "duration-true": Bad(
        profile_a(*A, "duration_seconds = true"),
        8,
        "a",
        "duration_seconds",
        "must be a whole number of seconds",
    ),
    "duration-float": Bad(
        profile_a(*A, "duration_seconds = 3600.0"),
        8,
        "a",
        "duration_seconds",
        "must be a whole number of seconds",
    ),
    "session-name-1-char": Bad(
        profile_a(*A, 'role_session_name = "x"'),
        8,
        "a",
        "role_session_name",
        "'x' is not a session name",
    ),
    "session-name-65-chars": Bad(
        profile_a(*A, f'role_session_name = "{"s" * 65}"'),
        8,
        "a",
        "role_session_name",
        f"'{'s' * 65}' is not a session name",
    ),
    "session-name-space": Bad(
        profile_a(*A, 'role_session_name = "alice smith"'),
        8,
        "a",
        "role_session_name",
        "'alice smith' is not a session name",
    ),
    "source-identity-space": Bad(
        profile_a(*A, 'source_identity = "alice smith"'),
        8,
        "a",
        "source_identity",
        "'alice smith' is not a source identity",
    ),
    "external-id-1-char": Bad(
        profile_a(*A, 'external_id = "x"'),
        8,
        "a",
        "external_id",
        "'x' is not an external id",
    ),
    "region-upper": Bad(
        profile_a(*A, 'region = "EU-WEST-1"'),
        8,
        "a",
        "region",
        "'EU-WEST-1' is not an AWS region name",
    ),
    "region-no-dash": Bad(
        profile_a(*A, 'region = "euwest1"'),
        8,
        "a",
        "region",
        "'euwest1' is not an AWS region name",
    ),
    "unknown-key": Bad(
        profile_a(*A, 'colour = "blue"'),
        8,
        "a",
        "colour",
        "unknown key (known: role_arn, source_profile, external_id",
    ),
    "unknown-subtable": Bad(
        profile_a(*A, "", "[profiles.a.extras]", "x = 1"),
        9,
        "a",
        "extras",
        "unknown key (known: role_arn,",
    ),
    "profile-name-tab": Bad(
        profile_a(*A, header='[profiles."a\tb"]'),
        5,
        "a\tb",
        None,
        "'a\\tb' is not a valid profile name (any text without control characters",
    ),
    "profile-not-a-table": Bad(
        PREFIX + '[profiles]\na = "b"\n',
        6,
        "a",
        None,
        "must be a table of settings",
    ),
    "missing-role-arn": Bad(
        profile_a('source_profile = "base"', 'region = "eu-west-1"'),
        6,
        "a",
        "source_profile",
        "belongs to a role profile, and this one has no role_arn",
    ),
    "missing-source-profile": Bad(
        profile_a(f'role_arn = "{ARN}"', 'region = "eu-west-1"'),
        5,
        "a",
        None,
        "source_profile is required",
    ),
    "source-profile-and-credential-source": Bad(
        profile_a(*A, 'region = "eu-west-1"', 'credential_source = "Environment"'),
        9,
        "a",
        "credential_source",
        "set either source_profile or credential_source, not both",
    ),
    "credential-source-unknown": Bad(
        profile_a(f'role_arn = "{ARN}"', 'credential_source = "Somewhere"'),
        7,
        "a",
        "credential_source",
        "'Somewhere' is not one of Environment, Ec2InstanceMetadata, EcsContainer",
    ),
    "source-profile-invalid-name": Bad(
        profile_a(f'role_arn = "{ARN}"', 'source_profile = "my\\u001bbase"'),
        7,
        "a",
        "source_profile",
        "'my\\x1bbase' is not a valid profile name",
    ),
    "policy-arns-integer": Bad(
        profile_a(*A, "policy_arns = 5"),
        8,
        "a",
        "policy_arns",
        "must be a list of IAM policy ARNs",
    ),
    "policy-arns-table": Bad(
        profile_a(*A, 'policy_arns = { a = "arn:aws:iam::aws:policy/A" }'),
        8,
        "a",
        "policy_arns",
        "must be a list of IAM policy ARNs",
    ),
    "policy-arns-11": Bad(
        profile_a(
            *A,
            "policy_arns = ["
            + ", ".join(f'"arn:aws:iam::aws:policy/P{n}"' for n in range(11))
            + "]",
        ),
        8,
        "a",
        "policy_arns",
        "at most 10 policy ARNs are allowed by STS",
    ),
    "policy-arns-bad-item": Bad(
        profile_a(*A, 'policy_arns = ["arn:aws:iam::aws:role/NotAPolicy"]'),
        8,
        "a",
        "policy_arns",
        "'arn:aws:iam::aws:role/NotAPolicy' is not an IAM policy ARN",
    ),
    "session-tags-string": Bad(
        profile_a(*A, 'session_tags = "team=x"'),
        8,
        "a",
        "session_tags",
        'must be a table of tag = "value"',
    ),
    "session-tags-value-300": Bad(
        profile_a(*A, f'session_tags = {{ team = "{"v" * 300}" }}'),
        8,
        "a",
        "session_tags",
        "is not a value for session tag 'team' (0-256 characters)",
    ),
    "session-tags-subtable-value-300": Bad(
        profile_a(
            *A, 'region = "eu-west-1"', "", "[profiles.a.session_tags]", f'team = "{"v" * 300}"'
        ),
        10,
        "a",
        "session_tags",
        "is not a value for session tag 'team' (0-256 characters)",
    ),
    "session-tags-value-not-string": Bad(
        profile_a(*A, "session_tags = { team = 7 }"),
        8,
        "a",
        "session_tags",
        "must be a string, not int",
    ),
    "unknown-table": Bad(
        PREFIX + "[extras]\nx = 1\n",
        5,
        None,
        None,
        "unknown table 'extras' (expected [settings] and [profiles.NAME])",
    ),
    "unknown-top-level-key": Bad(
        'colour = "blue"\n' + PREFIX,
        1,
        None,
        None,
        "unknown table 'colour'",
    ),
    "unknown-setting": Bad(
        "[settings]\ncache = true\ncolour = 1\n",
        3,
        None,
        "settings.colour",
        "unknown setting (known: refresh_margin, default_region, keyring_backend, cache, "
        "lock_timeout, sts_max_attempts, sts_connect_timeout, sts_read_timeout, agent, "
        "agent_idle_timeout, federation_url, allow_custom_federation_url)",
    ),
    "refresh-margin-10m": Bad(
        '[settings]\ncache = true\nrefresh_margin = "10m"\n',
        3,
        None,
        "settings.refresh_margin",
        "0:10:00 must be above 15 minutes",
    ),
    "refresh-margin-15m": Bad(
        '[settings]\nrefresh_margin = "15m"\n',
        2,
        None,
        "settings.refresh_margin",
        "0:15:00 must be above 15 minutes",
    ),
    "refresh-margin-900": Bad(
        "[settings]\nrefresh_margin = 900\n",
        2,
        None,
        "settings.refresh_margin",
        "0:15:00 must be above 15 minutes",
    ),
    "refresh-margin-12h": Bad(
        '[settings]\nrefresh_margin = "12h"\n',
        2,
        None,
        "settings.refresh_margin",
        "12:00:00 is longer than any STS session can last",
    ),
    "refresh-margin-words": Bad(
        '[settings]\nrefresh_margin = "twenty minutes"\n',
        2,
        None,
        "settings.refresh_margin",
        "'twenty minutes' is not a duration such as '20m', '1h30m' or 1200",
    ),
    "cache-not-bool": Bad(
        '[settings]\ncache = "yes"\n',
        2,
        None,
        "settings.cache",
        "must be true or false",
    ),
    "default-region-bad": Bad(
        '[settings]\ndefault_region = "Mars"\n',
        2,
        None,
        "settings.default_region",
        "'Mars' is not an AWS region name",
    ),
    "invalid-toml": Bad(
        profile_a(*A, "duration_seconds = "),
        8,
        None,
        None,
        "invalid TOML: Invalid value (at line 8, column 20)",
    ),
    "invalid-toml-duplicate-key": Bad(
        profile_a(*A, 'role_arn = "x"'),
        8,
        None,
        None,
        "invalid TOML: ",
    ),
}


@pytest.mark.parametrize("case", BAD_TOML.values(), ids=BAD_TOML.keys())
def test_bad_toml(sandbox: Sandbox, case: Bad) -> None:
    sandbox.write_rolehop(case.text)
    error = load_error()
    # a profile's own error waits for that profile's use; the rest fails every command
    if case.profile is not None:
        assert {name: str(found) for name, found in load().broken.items()} == {
            case.profile: str(error)
        }
    assert type(error) is ConfigError
    assert error.exit_code == 3
    assert (error.path, error.line, error.profile, error.key) == (
        sandbox.rolehop_config,
        case.line,
        case.profile,
        case.key,
    )
    where = f"{sandbox.rolehop_config}:{case.line}" if case.line else str(sandbox.rolehop_config)
    subject = []
    if case.profile is not None:
        subject.append(f"profile {case.profile!r}" + (f", key {case.key!r}" if case.key else ""))
    elif case.key is not None:
        subject.append(f"key {case.key!r}")
    prefix = ": ".join([where, *subject]) + ": "
    message = str(error)
    assert message.startswith(prefix), message
    assert case.problem in message[len(prefix) :], message
    assert error.problem == message[len(prefix) :]


def test_bad_dotted_key_names_its_own_line(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(profile_a(*A, f'session_tags.team = "{"v" * 300}"'))
    error = load_error()
    assert (error.line, error.profile, error.key) == (8, "a", "session_tags")


# ---------------------------------------------------------------------------------------
# the bad corpus: the AWS shared files


@pytest.mark.parametrize(
    ("text", "line", "first_line"),
    [
        (
            f"[profile a]\nrole_arn = {ARN}\nthis line has no equals sign\n",
            3,
            "invalid file: Source contains parsing errors: '{path}'",
        ),
        ("region = eu-west-1\n[profile a]\n", 1, "invalid file: File contains no section headers."),
    ],
    ids=["no-delimiter", "no-section-header"],
)
def test_aws_config_syntax_error_names_file_and_line(
    sandbox: Sandbox, text: str, line: int, first_line: str
) -> None:
    sandbox.write_rolehop(PREFIX)
    sandbox.write_aws_config(text)
    error = load_error()
    assert error.exit_code == 3
    assert (error.path, error.line, error.profile, error.key) == (
        sandbox.aws_config,
        line,
        None,
        None,
    )
    assert str(error) == f"{sandbox.aws_config}:{line}: " + first_line.format(
        path=sandbox.aws_config
    )


def test_aws_credentials_syntax_error_names_file_and_line(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials("[base]\naws_access_key_id = AKIA\n\ngarbage\n")
    error = load_error()
    assert (error.path, error.line) == (sandbox.aws_credentials, 4)
    assert str(error).startswith(f"{sandbox.aws_credentials}:4: invalid file: ")


BROKEN_AWS_CONFIG = f"""\
[profile good]
role_arn = {ARN}
source_profile = base

[profile bad]
role_arn = {ARN}
source_profile = base
duration_seconds = 899
"""


@pytest.fixture
def broken_aws(sandbox: Sandbox) -> Config:
    sandbox.write_aws_config(BROKEN_AWS_CONFIG)
    sandbox.write_aws_credentials("[base]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n")
    return load()


def test_broken_aws_role_profile_does_not_break_the_others(broken_aws: Config) -> None:
    assert list(broken_aws.profiles) == ["good"]
    assert chain.build(broken_aws, "good", {"USER": "tester"}).names == ("base", "good")


def test_broken_aws_role_profile_errors_when_used(broken_aws: Config, sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError) as caught:
        broken_aws.profile("bad")
    error = caught.value
    assert error.exit_code == 3
    assert (error.path, error.line, error.profile, error.key) == (
        sandbox.aws_config,
        8,
        "bad",
        "duration_seconds",
    )
    assert str(error) == (
        f"{sandbox.aws_config}:8: profile 'bad', key 'duration_seconds': "
        "899 is outside 900-43200 seconds (STS limits)"
    )
    with pytest.raises(ConfigError) as again:
        chain.build(broken_aws, "bad", {"USER": "tester"})
    assert again.value is error
    assert chain.check(broken_aws, {"USER": "tester"}) == [error]


def test_broken_aws_role_profile_errors_when_used_as_a_source(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(BROKEN_AWS_CONFIG)
    sandbox.write_rolehop(
        """\
        [profiles.top]
        role_arn = "arn:aws:iam::123456789012:role/top"
        source_profile = "bad"
        """
    )
    loaded = load()
    with pytest.raises(ConfigError) as caught:
        chain.build(loaded, "top", {"USER": "tester"})
    assert (caught.value.path, caught.value.line, caught.value.profile) == (
        sandbox.aws_config,
        8,
        "bad",
    )


def test_broken_aws_role_profile_is_replaced_by_a_toml_profile(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(BROKEN_AWS_CONFIG)
    sandbox.write_rolehop(
        """\
        [profiles.bad]
        role_arn = "arn:aws:iam::123456789012:role/fixed"
        source_profile = "base"
        """
    )
    loaded = load()
    assert dict(loaded.broken) == {}
    assert loaded.profile("bad").role_arn == "arn:aws:iam::123456789012:role/fixed"


@pytest.mark.parametrize(
    ("lines", "line", "key", "problem"),
    [
        (
            ["role_arn = nope", "source_profile = base"],
            2,
            "role_arn",
            "'nope' is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)",
        ),
        (
            [f"role_arn = {ARN}"],
            1,
            None,
            "source_profile is required: it names where the credentials come from",
        ),
        (
            [f"role_arn = {ARN}", "source_profile = base", "region = Europe"],
            4,
            "region",
            "'Europe' is not an AWS region name such as eu-west-1",
        ),
        (
            [f"role_arn = {ARN}", "source_profile = base", "duration_seconds = abc"],
            4,
            "duration_seconds",
            "must be a whole number of seconds",
        ),
    ],
    ids=["bad-arn", "no-source", "bad-region", "bad-duration"],
)
def test_broken_aws_role_profiles(
    sandbox: Sandbox, lines: list[str], line: int, key: str | None, problem: str
) -> None:
    sandbox.write_aws_config("[profile r]\n" + "\n".join(lines) + "\n")
    loaded = load()
    assert dict(loaded.profiles) == {}
    error = loaded.broken["r"]
    assert (error.path, error.line, error.profile, error.key) == (
        sandbox.aws_config,
        line,
        "r",
        key,
    )
    assert error.problem == problem
    assert error.exit_code == 3


def test_aws_config_colon_delimiter_names_the_key_line(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(
        f"[profile r]\nrole_arn = {ARN}\nsource_profile = base\nduration_seconds: 1\n"
    )
    error = load().broken["r"]
    assert (error.line, error.key) == (4, "duration_seconds")


def test_aws_config_header_with_comment_has_a_line(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(f"[profile r]  # prod\nrole_arn = {ARN}\n")
    error = load().broken["r"]
    assert (error.path, error.line, error.profile) == (sandbox.aws_config, 1, "r")


def test_rolehop_config_override_and_tilde(sandbox: Sandbox) -> None:
    other = sandbox.home / "elsewhere.toml"
    other.write_text('[settings]\nrefresh_margin = "45m"\n')
    environ = {**os.environ, "ROLEHOP_CONFIG": "~/elsewhere.toml"}
    loaded = config.load(environ)
    assert loaded.path == Path(str(sandbox.home) + "/elsewhere.toml")
    assert loaded.settings.refresh_margin == timedelta(minutes=45)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("role_arn", '"arn:aws:iam::١١١١٢٢٢٢٣٣٣٣:role/x"', "is not an IAM role ARN"),
        ("role_arn", '"arn:aws:iam::111122223333:role/Rôle"', "is not an IAM role ARN"),
        ("duration_seconds", '"²"', "must be a whole number of seconds"),
        ("session_tags", '{ "a\\nb" = "x" }', "is not a session tag key"),
        ("session_tags", '{ team = "a\\tb" }', "is not a value for session tag"),
        ("session_tags", '{ "aws:team" = "x" }', "the aws: prefix is reserved"),
        ("session_tags", '{ Team = "x", team = "y" }', "repeats another key"),
    ],
)
def test_values_sts_would_refuse(sandbox: Sandbox, key: str, value: str, problem: str) -> None:
    lines = {"role_arn": '"arn:aws:iam::111122223333:role/r"', "source_profile": '"b"'}
    lines[key] = value
    sandbox.write_rolehop("[profiles.p]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items()))
    error = load_error()
    assert problem in error.problem
    assert error.profile == "p" and error.key == key


@pytest.mark.parametrize("margin", ["99999999999999999", '"99999999999999h"', '"\\uff12\\uff10m"'])
def test_absurd_refresh_margin_is_a_config_error(sandbox: Sandbox, margin: str) -> None:
    sandbox.write_rolehop(f"[settings]\nrefresh_margin = {margin}\n")
    with pytest.raises(ConfigError, match=r"settings\.refresh_margin"):
        config.load(os.environ)


def test_an_option_named_empty_does_not_move_its_section_line(sandbox: Sandbox) -> None:
    """Found by the fuzzer: ' = ' is an option named '' to configparser."""
    # a name with a control character: an error on the section's own line
    sandbox.write_aws_credentials("[dev\x01]\nrole_arn = arn:aws:iam::123456789012:role/r\n = ")
    broken = config.load(os.environ).broken["dev\x01"]
    assert (broken.path, broken.line, broken.key) == (sandbox.aws_credentials, 1, None)
