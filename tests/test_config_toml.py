"""rolehop's TOML file: what it refuses, at which line, profile and key, in which words."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from rolehop.config import files as config
from rolehop.errors import ConfigError
from tests.conftest import Sandbox
from tests.support.configs import ARN, PREFIX, load, load_error


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
        "unknown table 'extras' (expected [settings], [profiles.NAME] and [sso.NAME])",
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
        "agent_idle_timeout, federation_url, allow_custom_federation_url, sso_auto_login, "
        "sso_export_token)",
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
