"""Shell code, credential_process JSON and exec environments built from credentials."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rolehop.common.creds import Credentials
from rolehop.config import files as config
from rolehop.engine import chain
from rolehop.engine.resolve import HopResult, Resolution
from rolehop.errors import RolehopError
from rolehop.output import (
    UNSET,
    Environment,
    Shell,
    credential_process_json,
    environment,
    quote_fish,
    quote_posix,
    quote_powershell,
    render_env,
    shell_from_environ,
)
from rolehop.shell import SHELLS
from tests.conftest import Sandbox

ENV = Environment(
    {
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": 'it\'s $HOME `x` "q"',
        "AWS_SESSION_TOKEN": "back\\slash\u2019curly",
        "ROLEHOP_PROFILE": "dev",
    }
)

EXPECTED: dict[str, str] = {
    "bash": (
        "unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SECURITY_TOKEN\n"
        "export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n"
        "export AWS_SECRET_ACCESS_KEY='it'\\''s $HOME `x` \"q\"'\n"
        "export AWS_SESSION_TOKEN='back\\slash\u2019curly'\n"
        "export ROLEHOP_PROFILE='dev'\n"
    ),
    "fish": (
        "set -eg AWS_PROFILE;\n"
        "set -eg AWS_DEFAULT_PROFILE;\n"
        "set -eg AWS_SECURITY_TOKEN;\n"
        "set -gx AWS_ACCESS_KEY_ID 'ASIAEXAMPLE';\n"
        "set -gx AWS_SECRET_ACCESS_KEY 'it\\'s $HOME `x` \"q\"';\n"
        "set -gx AWS_SESSION_TOKEN 'back\\\\slash\u2019curly';\n"
        "set -gx ROLEHOP_PROFILE 'dev';\n"
    ),
    "powershell": (
        "Remove-Item -Path Env:AWS_PROFILE -ErrorAction SilentlyContinue\n"
        "Remove-Item -Path Env:AWS_DEFAULT_PROFILE -ErrorAction SilentlyContinue\n"
        "Remove-Item -Path Env:AWS_SECURITY_TOKEN -ErrorAction SilentlyContinue\n"
        "$Env:AWS_ACCESS_KEY_ID = 'ASIAEXAMPLE'\n"
        "$Env:AWS_SECRET_ACCESS_KEY = 'it''s $HOME `x` \"q\"'\n"
        "$Env:AWS_SESSION_TOKEN = 'back\\slash\u2019\u2019curly'\n"
        "$Env:ROLEHOP_PROFILE = 'dev'\n"
    ),
}
EXPECTED["zsh"] = EXPECTED["bash"]


def test_every_shell_has_an_expectation() -> None:
    assert set(SHELLS) == {"bash", "zsh", "fish", "powershell"}
    assert set(EXPECTED) == set(SHELLS)


@pytest.mark.parametrize("shell", SHELLS)
def test_render_env(shell: Shell) -> None:
    assert render_env(ENV, shell) == EXPECTED[shell]


@pytest.mark.parametrize("shell", SHELLS)
def test_render_env_refuses_nul(shell: Shell) -> None:
    env = Environment({"AWS_ACCESS_KEY_ID": "ok", "AWS_SESSION_TOKEN": "a\0b"})
    with pytest.raises(RolehopError) as caught:
        render_env(env, shell)
    assert str(caught.value) == (
        "the value of AWS_SESSION_TOKEN holds a NUL byte and cannot be exported"
    )
    assert caught.value.exit_code == 1


# ---------------------------------------------------------------------------------------
# quoting, as properties over arbitrary values

PS_QUOTES = "'\u2018\u2019\u201a\u201b"
TRICKY = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(PS_QUOTES + '\\"$`;&|()<>*?!#~%{}[] \t\r\n\x1b')),
        st.characters(),
    ),
    max_size=40,
)


def decode_fish(text: str) -> tuple[str, int]:
    """fish single quotes: ``\\'`` and ``\\\\`` are escapes, any other ``\\`` is literal."""
    assert text[0] == "'"
    out: list[str] = []
    index = 1
    while True:
        char = text[index]  # IndexError: the quote is never closed
        if char == "\\" and index + 1 < len(text) and text[index + 1] in "\\'":
            out.append(text[index + 1])
            index += 2
        elif char == "'":
            return "".join(out), index + 1
        else:
            out.append(char)
            index += 1


def decode_powershell(text: str) -> tuple[str, int]:
    """PowerShell single quotes: any of the five quote characters ends the string, unless
    another quote character follows, which is then taken literally (its tokenizer's rule)."""
    assert text[0] in PS_QUOTES
    out: list[str] = []
    index = 1
    while True:
        char = text[index]
        if char in PS_QUOTES:
            if index + 1 < len(text) and text[index + 1] in PS_QUOTES:
                out.append(text[index + 1])
                index += 2
                continue
            return "".join(out), index + 1
        out.append(char)
        index += 1


@pytest.mark.parametrize(
    ("decode", "quoted", "value", "end"),
    [
        (decode_fish, "'a\\'b' rest", "a'b", 6),
        (decode_fish, "'a\\\\'", "a\\", 5),
        (decode_fish, "'a\\nb'", "a\\nb", 6),
        (decode_powershell, "'it''s' rest", "it's", 7),
        (decode_powershell, "'a\u2019 b", "a", 3),
        (decode_powershell, "'a\u2019' b'", "a' b", 7),
        (decode_powershell, "'a\u2018\u2018b'", "a\u2018b", 6),
    ],
)
def test_reference_decoders(
    decode: Callable[[str], tuple[str, int]], quoted: str, value: str, end: int
) -> None:
    assert decode(quoted) == (value, end)


@settings(max_examples=100, deadline=None)
@given(value=TRICKY)
def test_posix_quoting_round_trips(value: str) -> None:
    quoted = quote_posix(value)
    assert shlex.split(quoted) == [value]
    assert shlex.split(f"export X={quoted}") == ["export", f"X={value}"]


@settings(max_examples=100, deadline=None)
@given(value=TRICKY)
def test_fish_quoting_round_trips(value: str) -> None:
    quoted = quote_fish(value)
    assert decode_fish(quoted) == (value, len(quoted))


@settings(max_examples=100, deadline=None)
@given(value=TRICKY)
def test_powershell_quoting_round_trips(value: str) -> None:
    quoted = quote_powershell(value)
    assert decode_powershell(quoted) == (value, len(quoted))


@settings(max_examples=50, deadline=None)
@given(values=st.lists(TRICKY.filter(lambda v: "\0" not in v), min_size=1, max_size=4))
def test_posix_render_env_round_trips(values: list[str]) -> None:
    exports = {f"VAR_{n}": value for n, value in enumerate(values)}
    tokens = shlex.split(render_env(Environment(exports), "bash"))
    assert tokens[: 1 + len(UNSET)] == ["unset", *UNSET]
    rest = tokens[1 + len(UNSET) :]
    assert rest[0::2] == ["export"] * len(values)
    assert rest[1::2] == [f"{name}={value}" for name, value in exports.items()]


@pytest.mark.parametrize("quote", list(PS_QUOTES))
def test_powershell_doubles_every_single_quote_character(quote: str) -> None:
    assert quote_powershell(f"a{quote}b") == f"'a{quote}{quote}b'"
    assert quote_powershell(quote * 3) == "'" + quote * 6 + "'"


def test_powershell_leaves_double_quotes_and_backticks() -> None:
    assert quote_powershell('"`$x\u201c\u201d') == "'\"`$x\u201c\u201d'"


def test_fish_and_posix_leave_curly_quotes() -> None:
    assert quote_fish("\u2019") == "'\u2019'"
    assert quote_posix("\u2019") == "'\u2019'"
    assert quote_posix("") == "''"
    assert quote_fish("") == "''"
    assert quote_powershell("") == "''"


# ---------------------------------------------------------------------------------------
# credential_process


def test_credential_process_json_is_version_1() -> None:
    credentials = Credentials(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret-access-key",
        session_token="session-token",
        expiration=datetime(2030, 1, 1, 14, 0, 5, 123456, tzinfo=timezone(timedelta(hours=1))),
        arn="arn:aws:sts::123456789012:assumed-role/r/s",
    )
    text = credential_process_json(credentials)
    assert text == (
        '{"Version": 1, "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret-access-key", '
        '"SessionToken": "session-token", "Expiration": "2030-01-01T13:00:05Z"}'
    )
    document = json.loads(text)
    assert list(document) == [
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ]
    assert document["Expiration"].endswith("Z")
    assert datetime.fromisoformat(document["Expiration"]) == datetime(
        2030, 1, 1, 13, 0, 5, tzinfo=UTC
    )


def test_credential_process_json_long_term() -> None:
    text = credential_process_json(Credentials("AKIAEXAMPLE", "secret"))
    assert json.loads(text) == {
        "Version": 1,
        "AccessKeyId": "AKIAEXAMPLE",
        "SecretAccessKey": "secret",
    }


# ---------------------------------------------------------------------------------------
# shells and environments


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        ("/bin/zsh", "zsh"),
        ("/usr/bin/fish", "fish"),
        ("pwsh", "powershell"),
        ("/usr/local/bin/pwsh-preview", "powershell"),
        ("powershell.exe", "powershell"),
        ("/bin/bash", "bash"),
        ("/bin/sh", "bash"),
        ("/usr/bin/ZSH", "zsh"),
        ("", "bash"),
        (None, "bash"),
    ],
)
def test_shell_from_environ(shell: str | None, expected: str) -> None:
    environ = {} if shell is None else {"SHELL": shell}
    assert shell_from_environ(environ) == expected


def test_apply_unsets_profiles_and_sets_exports() -> None:
    base = {
        "AWS_PROFILE": "old",
        "AWS_DEFAULT_PROFILE": "older",
        "AWS_SECURITY_TOKEN": "legacy",
        "AWS_ACCESS_KEY_ID": "AKIAOLD",
        "PATH": "/usr/bin",
    }
    applied = ENV.apply(base)
    assert applied == {"PATH": "/usr/bin", **ENV.exports}
    assert base["AWS_PROFILE"] == "old"  # the argument is not changed


def test_apply_custom_unset() -> None:
    env = Environment({"A": "1"}, unset=("B",))
    assert env.apply({"B": "x", "AWS_PROFILE": "kept"}) == {"AWS_PROFILE": "kept", "A": "1"}


def test_environment_from_a_resolution(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials("[base]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n")
    sandbox.write_rolehop(
        """\
        [profiles.dev]
        role_arn = "arn:aws:iam::123456789012:role/dev"
        source_profile = "base"
        region = "eu-west-1"
        """
    )
    loaded = config.load(dict(os.environ))
    built = chain.build(loaded, "dev", {"USER": "tester"})
    expiration = datetime(2030, 1, 1, 13, 0, tzinfo=UTC)
    resolution = Resolution(
        profile=built.profile,
        chain=built,
        credentials=Credentials("ASIAX", "secret-x", "token-x", expiration),
        region="eu-west-1",
        hops=(HopResult("dev", built.profile.role_arn, "miss"),),
    )
    assert environment(resolution) == Environment(
        {
            "AWS_ACCESS_KEY_ID": "ASIAX",
            "AWS_SECRET_ACCESS_KEY": "secret-x",
            "AWS_SESSION_TOKEN": "token-x",
            "AWS_CREDENTIAL_EXPIRATION": "2030-01-01T13:00:00Z",
            "ROLEHOP_EXPIRATION": str(int(expiration.timestamp())),
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "ROLEHOP_PROFILE": "dev",
        },
        (*UNSET, "ROLEHOP_TARGET"),  # a plain profile: no target of an earlier `use` stays
    )
    spec = '{"profile": "dev", "region": "eu-west-1"}'
    targeted = environment(resolution, spec)
    assert targeted.exports["ROLEHOP_TARGET"] == spec
    assert targeted.unset == UNSET
