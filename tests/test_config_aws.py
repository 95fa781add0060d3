"""The AWS shared files: what they refuse, at which line, and how a broken profile waits
for its use."""

from __future__ import annotations

import os

import pytest

from rolehop.config import files as config
from rolehop.config.files import Config
from rolehop.engine import chain
from rolehop.errors import ConfigError
from tests.conftest import Sandbox
from tests.support.configs import ARN, PREFIX, load, load_error


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


def test_an_option_named_empty_does_not_move_its_section_line(sandbox: Sandbox) -> None:
    """Found by the fuzzer: ' = ' is an option named '' to configparser."""
    # a name with a control character: an error on the section's own line
    sandbox.write_aws_credentials("[dev\x01]\nrole_arn = arn:aws:iam::123456789012:role/r\n = ")
    broken = config.load(os.environ).broken["dev\x01"]
    assert (broken.path, broken.line, broken.key) == (sandbox.aws_credentials, 1, None)
