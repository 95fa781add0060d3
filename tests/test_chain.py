"""Profiles -> ordered AssumeRole hops: order, loops, limits, session names and cache keys."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rolehop.config import files as config
from rolehop.config import validate
from rolehop.config.files import Config
from rolehop.engine import chain, hops
from rolehop.engine.hops import Chain
from rolehop.errors import ChainLoopError, ConfigError
from tests.conftest import Sandbox

ENV = {"USER": "tester"}

BASE_CREDENTIALS = """\
[base]
aws_access_key_id = AKIABASEEXAMPLE0001
aws_secret_access_key = base-secret-access-key-0001
"""


def arn(name: str) -> str:
    return f"arn:aws:iam::123456789012:role/{name}"


def load() -> Config:
    return config.load(dict(os.environ))


def build(name: str, environ: Mapping[str, str] = ENV) -> Chain:
    return chain.build(load(), name, environ)


def build_error(name: str, environ: Mapping[str, str] = ENV) -> ConfigError:
    loaded = load()
    with pytest.raises(ConfigError) as caught:
        chain.build(loaded, name, environ)
    assert caught.value.exit_code == 3
    return caught.value


@pytest.fixture(autouse=True)
def base_credentials(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials(BASE_CREDENTIALS)


# ---------------------------------------------------------------------------------------
# order


def test_single_hop(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"
        """
    )
    built = build("a")
    assert built.names == ("base", "a")
    assert built.profile.name == "a"
    assert built.base.name == "base"
    assert built.base.static_keys_only is False
    assert built.base.endpoint is None
    assert built.warnings == ()
    (hop,) = built.hops
    assert hop.assume_role_params() == {"RoleArn": arn("a"), "RoleSessionName": "rolehop-tester"}
    assert hop.chained is False
    assert hop.source_key == built.base.key
    assert hop.region is None
    assert built.keys == (built.base.key, hop.key)
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in built.keys)


MULTI_HOP = f"""\
[profiles.c]
role_arn = "{arn("c")}"
source_profile = "b"

[profiles.a]
role_arn = "{arn("a")}"
source_profile = "base"
region = "eu-west-1"

[profiles.b]
role_arn = "{arn("b")}"
source_profile = "a"
"""


def test_multi_hop_order(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(MULTI_HOP)
    built = build("c")
    assert built.names == ("base", "a", "b", "c")
    assert [hop.role_arn for hop in built.hops] == [arn("a"), arn("b"), arn("c")]
    assert [hop.chained for hop in built.hops] == [False, True, True]
    assert [hop.region for hop in built.hops] == ["eu-west-1", None, None]
    assert [hop.source_key for hop in built.hops] == [
        built.base.key,
        built.hops[0].key,
        built.hops[1].key,
    ]
    assert built.profile.name == "c"
    assert len(set(built.keys)) == 4
    assert built.warnings == ()


def test_intermediate_profile_builds_its_own_prefix(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(MULTI_HOP)
    assert build("b").names == ("base", "a", "b")
    assert build("b").keys == build("c").keys[:3]


def test_chain_through_aws_config_role_profiles(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(
        f"""\
        [profile mid]
        role_arn = {arn("mid")}
        source_profile = base
        """
    )
    sandbox.write_rolehop(
        f"""\
        [profiles.top]
        role_arn = "{arn("top")}"
        source_profile = "mid"
        """
    )
    assert build("top").names == ("base", "mid", "top")


# ---------------------------------------------------------------------------------------
# loops and missing sources


def test_two_profile_loop_names_the_whole_loop(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "b"

        [profiles.b]
        role_arn = "{arn("b")}"
        source_profile = "a"
        """
    )
    error = build_error("a")
    assert type(error) is ChainLoopError
    assert str(error) == (
        f"{sandbox.rolehop_config}:3: profile 'a', key 'source_profile': "
        "source_profile loop: a -> b -> a"
    )
    error_b = build_error("b")
    assert error_b.problem == "source_profile loop: b -> a -> b"
    assert error_b.line == 7


def test_loop_entered_from_outside_names_only_the_loop(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.x]
        role_arn = "{arn("x")}"
        source_profile = "a"

        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "b"

        [profiles.b]
        role_arn = "{arn("b")}"
        source_profile = "c"

        [profiles.c]
        role_arn = "{arn("c")}"
        source_profile = "a"
        """
    )
    error = build_error("x")
    assert type(error) is ChainLoopError
    assert (error.profile, error.key, error.line) == ("a", "source_profile", 7)
    assert error.problem == "source_profile loop: a -> b -> c -> a"


def test_self_loop_without_static_keys(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "a"
        """
    )
    error = build_error("a")
    assert isinstance(error, ChainLoopError)
    assert str(error) == (
        f"{sandbox.rolehop_config}:3: profile 'a', key 'source_profile': "
        "source_profile loop: a -> a (a profile may name itself only when it holds "
        "access keys of its own)"
    )


def test_self_loop_through_an_aws_profile_that_holds_no_keys(sandbox: Sandbox) -> None:
    """Only static keys of its own let a profile name itself: a TOML profile ``a`` whose
    source is ``[profile a]`` with a credential_process is a loop, found at config time
    (not a runtime "keys are required")."""
    sandbox.write_aws_config("[profile a]\ncredential_process = /bin/true\n")
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "a"
        """
    )
    error = build_error("a")
    assert isinstance(error, ChainLoopError)
    assert (error.path, error.line, error.key) == (sandbox.rolehop_config, 3, "source_profile")
    assert "a -> a" in error.problem


def test_loop_in_aws_config_profiles(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(
        f"""\
        [profile a]
        role_arn = {arn("a")}
        source_profile = b

        [profile b]
        role_arn = {arn("b")}
        source_profile = a
        """
    )
    error = build_error("a")
    assert type(error) is ChainLoopError
    assert error.path == sandbox.aws_config
    assert error.problem == "source_profile loop: a -> b -> a"


def test_source_profile_not_found_names_the_three_files(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        region = "eu-west-1"
        source_profile = "nowhere"
        """
    )
    error = build_error("a")
    assert type(error) is ConfigError
    assert str(error) == (
        f"{sandbox.rolehop_config}:4: profile 'a', key 'source_profile': "
        f"source profile 'nowhere' not found in {sandbox.rolehop_config}, "
        f"{sandbox.aws_config} or {sandbox.aws_credentials}, and no keys are stored as "
        "'nowhere' (rolehop keys add nowhere)"
    )
    assert error.fix == (
        f"store keys as 'nowhere': rolehop keys add nowhere (or give {sandbox.aws_credentials} "
        "a [nowhere] section with them), or set source_profile to a profile `rolehop list` or "
        "your AWS files show"
    )


def test_a_typo_of_a_source_profile_suggests_the_close_names(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials("[joe]\naws_access_key_id = AKIAJOE\naws_secret_access_key = s\n")
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "jeo"
        """
    )
    error = build_error("a")
    assert str(error) == (
        f"{sandbox.rolehop_config}:3: profile 'a', key 'source_profile': "
        f"source profile 'jeo' not found in {sandbox.rolehop_config}, "
        f"{sandbox.aws_config} or {sandbox.aws_credentials}, and no keys are stored as "
        "'jeo' (rolehop keys add jeo); did you mean 'joe'?"
    )
    assert error.fix == "set source_profile to 'joe', or store keys as 'jeo': rolehop keys add jeo"


def test_self_referencing_aws_profile_with_static_keys_is_a_base(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(
        f"""\
        [profile me]
        role_arn = {arn("me")}
        source_profile = me
        aws_access_key_id = AKIAMEEXAMPLE00001
        aws_secret_access_key = me-secret-access-key
        """
    )
    built = build("me")
    assert built.names == ("me", "me")
    assert built.base.static_keys_only is True
    assert built.base.aws is not None
    assert built.base.aws.has_static_keys is True
    assert built.base.aws.path == sandbox.aws_config
    assert built.hops[0].role_arn == arn("me")
    assert built.hops[0].chained is False


def test_self_referencing_toml_profile_with_keys_in_credentials(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.base]
        role_arn = "{arn("base")}"
        source_profile = "base"
        """
    )
    built = build("base")
    assert built.names == ("base", "base")
    assert built.base.static_keys_only is True


def test_check_lists_every_problem(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.good]
        role_arn = "{arn("good")}"
        source_profile = "base"

        [profiles.lost]
        role_arn = "{arn("lost")}"
        source_profile = "nowhere"
        """
    )
    problems = chain.check(load(), ENV)
    assert [(problem.profile, problem.key) for problem in problems] == [("lost", "source_profile")]


# ---------------------------------------------------------------------------------------
# MFA, stored keys and credential_source

SERIAL = "arn:aws:iam::123456789012:mfa/alice"


def test_role_mfa_serial_goes_with_the_assume_role_call(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"
        mfa_serial = "{SERIAL}"
        """
    )
    built = build("a")
    assert built.mfa is None
    assert built.hops[0].assume_role_params()["SerialNumber"] == SERIAL
    assert "TokenCode" not in built.hops[0].assume_role_params()


def test_base_mfa_makes_one_session_for_every_role(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.base]
        mfa_serial = "{SERIAL}"
        session_duration = 7200

        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"
        duration_seconds = 43200
        mfa_serial = "{SERIAL}"

        [profiles.b]
        role_arn = "{arn("b")}"
        source_profile = "base"
        """
    )
    a, b = build("a"), build("b")
    assert a.mfa is not None and a.mfa == b.mfa
    # the MFA session is keyed by its base's keys too: another user's session never serves
    other = chain.build(load(), "a", ENV, stored_key_id=lambda name: "AKIAANOTHERUSER")
    assert other.mfa is not None and other.mfa.params() == a.mfa.params()
    assert other.mfa.key != a.mfa.key
    assert a.mfa.params() == {"SerialNumber": SERIAL, "DurationSeconds": 7200}
    assert a.keys[:2] == b.keys[:2] == (a.base.key, a.mfa.key)
    # a role from the MFA session is not role chaining, and needs no second code
    assert a.hops[0].source_key == a.mfa.key
    assert a.hops[0].assume_role_params()["DurationSeconds"] == 43200
    assert "SerialNumber" not in a.hops[0].assume_role_params()
    assert a.warnings == ()


def test_mfa_session_defaults_to_twelve_hours(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(f"[profile base]\nmfa_serial = {SERIAL}\nmfa_process = ykman x\n")
    sandbox.write_rolehop(f'[profiles.a]\nrole_arn = "{arn("a")}"\nsource_profile = "base"\n')
    mfa = build("a").mfa
    assert mfa is not None
    assert (mfa.duration_seconds, mfa.mfa_process) == (43200, "ykman x")


def test_base_profile_is_not_a_target(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(f'[profiles.base]\nmfa_serial = "{SERIAL}"\n')
    error = build_error("base")
    assert error.problem.startswith("is a base profile (no role_arn)")
    assert (error.profile, error.line) == ("base", 1)


def test_keys_stored_under_an_unknown_name_make_a_base(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(f'[profiles.a]\nrole_arn = "{arn("a")}"\nsource_profile = "joe"\n')
    built = chain.build(load(), "a", ENV, lambda: {"joe"})
    assert (built.base.name, built.base.aws) == ("joe", None)
    assert built.base.may_use_stored_keys


def test_stored_keys_are_asked_only_when_the_files_do_not_know_the_source(
    sandbox: Sandbox,
) -> None:
    write_chain(sandbox)

    def no_keyring() -> set[str]:
        raise AssertionError("the keyring must not be opened")

    assert chain.build(load(), "c", ENV, no_keyring).names == ("base", "a", "b", "c")


def test_the_stored_access_key_id_is_part_of_every_key(sandbox: Sandbox) -> None:
    write_chain(sandbox)
    loaded = load()
    plain = chain.build(loaded, "c", ENV).keys
    unstored = chain.build(loaded, "c", ENV, stored_key_id=lambda name: None).keys
    one = chain.build(loaded, "c", ENV, stored_key_id=lambda name: "AKIAONE").keys
    two = chain.build(loaded, "c", ENV, stored_key_id=lambda name: "AKIATWO").keys
    assert plain == unstored  # no keys stored: the keys of before
    assert all(a != b != c for a, b, c in zip(plain, one, two, strict=True))


@pytest.mark.parametrize("source", ["Environment", "Ec2InstanceMetadata", "EcsContainer"])
def test_credential_source_is_the_base(sandbox: Sandbox, source: str) -> None:
    sandbox.write_rolehop(
        f'[profiles.a]\nrole_arn = "{arn("a")}"\ncredential_source = "{source}"\n'
    )
    built = build("a")
    assert (built.base.credential_source, built.names, built.mfa) == (source, (source, "a"), None)
    assert not built.base.may_use_stored_keys


def test_environment_source_key_follows_the_access_key_id(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f'[profiles.a]\nrole_arn = "{arn("a")}"\ncredential_source = "Environment"\n'
    )
    one = build("a", {**ENV, "AWS_ACCESS_KEY_ID": "AKIAONE"}).keys
    two = build("a", {**ENV, "AWS_ACCESS_KEY_ID": "AKIATWO"}).keys
    same = build("a", {**ENV, "AWS_ACCESS_KEY_ID": "AKIAONE", "AWS_SECRET_ACCESS_KEY": "x"}).keys
    assert one != two and one == same


# ---------------------------------------------------------------------------------------
# durations and refresh margin


def test_chained_hop_duration_is_clamped_to_one_hour(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"

        [profiles.b]
        role_arn = "{arn("b")}"
        source_profile = "a"
        duration_seconds = 7200
        """
    )
    built = build("b")
    assert built.hops[1].assume_role_params()["DurationSeconds"] == 3600
    assert built.hops[1].duration_seconds == 3600
    assert built.hops[1].lowered_from == 7200
    # told when the credentials are made (rolehop.aws.sts), not each time the chain is built
    assert built.warnings == ()
    assert built.hops[1].lowered == (
        "profile 'b': duration_seconds 7200 lowered to 3600: AWS caps a role assumed with "
        "another role's credentials at 1 hour"
    )
    assert built.hops[0].lowered is None
    assert "DurationSeconds" not in built.hops[0].assume_role_params()


def test_chained_hop_at_exactly_one_hour_is_not_clamped(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"

        [profiles.b]
        role_arn = "{arn("b")}"
        source_profile = "a"
        duration_seconds = 3600
        """
    )
    built = build("b")
    assert built.hops[1].assume_role_params()["DurationSeconds"] == 3600
    assert built.warnings == ()


def test_first_hop_is_never_clamped(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"
        duration_seconds = 43200

        [profiles.b]
        role_arn = "{arn("b")}"
        source_profile = "a"
        """
    )
    built = build("b")
    assert built.hops[0].assume_role_params()["DurationSeconds"] == 43200
    assert built.hops[0].chained is False
    assert built.warnings == ()
    assert build("a").hops[0].duration_seconds == 43200


@pytest.mark.parametrize(
    ("margin", "duration", "warned"),
    [
        ('"20m"', "duration_seconds = 900", True),
        ('"20m"', "duration_seconds = 1200", True),
        ('"20m"', "duration_seconds = 1201", False),
        ('"1h"', "", True),
        ('"59m"', "", False),
    ],
)
def test_lifetime_not_above_refresh_margin_warns(
    sandbox: Sandbox, margin: str, duration: str, warned: bool
) -> None:
    sandbox.write_rolehop(
        f"""\
        [settings]
        refresh_margin = {margin}

        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"
        {duration}
        """
    )
    built = build("a")
    lifetime = built.hops[0].lifetime
    expected_margin = load().settings.refresh_margin
    assert built.warnings == (
        (
            f"profile 'a': credentials last {lifetime}, not more than refresh_margin "
            f"{expected_margin}, so they are never served from the cache",
        )
        if warned
        else ()
    )


def test_clamped_hop_under_margin_warns_of_the_margin(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [settings]
        refresh_margin = "1h"

        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"
        duration_seconds = 7200

        [profiles.b]
        role_arn = "{arn("b")}"
        source_profile = "a"
        duration_seconds = 7200
        """
    )
    built = build("b")
    [warning] = built.warnings
    assert warning.startswith("profile 'b': credentials last 1:00:00, not more than")
    assert built.hops[1].lowered_from == 7200


# ---------------------------------------------------------------------------------------
# session names


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"USER": "alice"}, "rolehop-alice"),
        ({"USER": "alice smith"}, "rolehop-alice-smith"),
        ({"USER": "zoë"}, "rolehop-zo-"),
        ({"USER": "DOMAIN\\bob"}, "rolehop-DOMAIN-bob"),
        ({"USER": "a+b=c,d.e@f_g-h"}, "rolehop-a+b=c,d.e@f_g-h"),
        ({"USER": "u" * 100}, "rolehop-" + "u" * 56),
        ({"LOGNAME": "carol"}, "rolehop-carol"),
        ({"USER": "", "LOGNAME": "", "USERNAME": "dave"}, "rolehop-dave"),
        ({"USER": "erin", "LOGNAME": "frank"}, "rolehop-erin"),
    ],
)
def test_default_session_name(environ: dict[str, str], expected: str) -> None:
    name = chain.default_session_name(environ)
    assert name == expected
    assert validate.session_name(name) == name


def test_default_session_name_falls_back_to_the_password_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Never this process's own environment: the agent answers callers whose is not."""
    import pwd

    monkeypatch.setenv("USER", "the agent's own")
    expected = pwd.getpwuid(os.getuid()).pw_name
    assert chain.default_session_name({}) == f"rolehop-{expected}"
    assert chain.default_session_name({"LNAME": "l name"}) == "rolehop-l-name"


def test_default_session_name_is_used_in_the_hop(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f"""\
        [profiles.a]
        role_arn = "{arn("a")}"
        source_profile = "base"
        """
    )
    hop = build("a", {"USER": "Jöhn Doe"}).hops[0]
    assert hop.assume_role_params()["RoleSessionName"] == "rolehop-J-hn-Doe"


_SESSION_OK = re.compile(r"[\w+=,.@-]", re.ASCII)


@settings(max_examples=100, deadline=None)
@given(user=st.text(min_size=1, max_size=120))
def test_default_session_name_is_always_valid(user: str) -> None:
    name = chain.default_session_name({"USER": user})
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", name, re.ASCII)
    assert validate.SESSION_NAME.fullmatch(name)
    assert len(name) == min(64, len("rolehop-") + len(user))
    assert name.startswith("rolehop-")
    for position, char in enumerate(name[len("rolehop-") :]):
        expected = user[position] if _SESSION_OK.fullmatch(user[position]) else "-"
        assert char == expected


# ---------------------------------------------------------------------------------------
# cache keys

CHAIN_TEMPLATE = """\
[profiles.a]
role_arn = "{a_arn}"
source_profile = "base"

[profiles.b]
role_arn = "{b_arn}"
source_profile = "a"
{b_extra}

[profiles.c]
role_arn = "{c_arn}"
source_profile = "b"
"""


def write_chain(sandbox: Sandbox, b_extra: str = "", b_arn: str = arn("b")) -> None:
    sandbox.write_rolehop(
        CHAIN_TEMPLATE.format(a_arn=arn("a"), b_arn=b_arn, c_arn=arn("c"), b_extra=b_extra)
    )


def keys(environ: Mapping[str, str] = ENV) -> tuple[str, ...]:
    return build("c", environ).keys


def test_identical_config_gives_identical_keys(sandbox: Sandbox) -> None:
    write_chain(sandbox)
    first = keys()
    write_chain(sandbox)
    assert keys() == first
    assert len(set(first)) == 4


@pytest.mark.parametrize(
    ("b_extra", "b_arn"),
    [
        ('external_id = "ext-1"', arn("b")),
        ("duration_seconds = 1800", arn("b")),
        ('role_session_name = "custom"', arn("b")),
        ('source_identity = "alice"', arn("b")),
        ('session_tags = { team = "x" }', arn("b")),
        ('policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]', arn("b")),
        ("", arn("b2")),
    ],
    ids=["external_id", "duration", "session_name", "source_identity", "tags", "policies", "arn"],
)
def test_changing_a_hop_param_changes_that_key_and_every_later_one(
    sandbox: Sandbox, b_extra: str, b_arn: str
) -> None:
    write_chain(sandbox)
    before = keys()
    write_chain(sandbox, b_extra, b_arn)
    after = keys()
    assert after[:2] == before[:2]  # base and a
    assert after[2] != before[2]  # b
    assert after[3] != before[3]  # c
    assert len(set(after) | set(before)) == 6


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ('external_id = "ext-1"', 'external_id = "ext-2"'),
        ("duration_seconds = 1800", "duration_seconds = 1801"),
        ('session_tags = { team = "x" }', 'session_tags = { team = "y" }'),
        ('session_tags = { team = "x" }', 'session_tags = { teams = "x" }'),
        (
            'policy_arns = ["arn:aws:iam::aws:policy/A"]',
            'policy_arns = ["arn:aws:iam::aws:policy/B"]',
        ),
    ],
)
def test_changing_a_hop_param_value_changes_keys(sandbox: Sandbox, first: str, second: str) -> None:
    write_chain(sandbox, first)
    before = keys()
    write_chain(sandbox, second)
    after = keys()
    assert after[:2] == before[:2]
    assert after[2] != before[2]
    assert after[3] != before[3]


def test_default_session_name_user_is_part_of_the_key(sandbox: Sandbox) -> None:
    write_chain(sandbox)
    before = keys({"USER": "alice"})
    after = keys({"USER": "bob"})
    assert after[0] == before[0]
    assert all(old != new for old, new in zip(before[1:], after[1:], strict=True))


def test_changing_the_first_hop_changes_every_later_key(sandbox: Sandbox) -> None:
    write_chain(sandbox)
    before = keys()
    sandbox.write_rolehop(
        CHAIN_TEMPLATE.format(a_arn=arn("a2"), b_arn=arn("b"), c_arn=arn("c"), b_extra="")
    )
    after = keys()
    assert after[0] == before[0]
    assert all(old != new for old, new in zip(before[1:], after[1:], strict=True))


def test_changing_the_base_access_key_id_changes_every_key(sandbox: Sandbox) -> None:
    write_chain(sandbox)
    before = keys()
    sandbox.write_aws_credentials(BASE_CREDENTIALS.replace("AKIABASEEXAMPLE0001", "AKIAOTHER0002"))
    after = keys()
    assert all(old != new for old, new in zip(before, after, strict=True))


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"])
def test_changing_the_endpoint_changes_every_key(sandbox: Sandbox, variable: str) -> None:
    write_chain(sandbox)
    before = keys()
    with_endpoint = keys({**ENV, variable: "http://127.0.0.1:5000"})
    other_endpoint = keys({**ENV, variable: "http://127.0.0.1:5001"})
    assert build("c", {**ENV, variable: "http://127.0.0.1:5000"}).base.endpoint == (
        "http://127.0.0.1:5000"
    )
    assert all(old != new for old, new in zip(before, with_endpoint, strict=True))
    assert all(old != new for old, new in zip(with_endpoint, other_endpoint, strict=True))


def test_secrets_are_not_part_of_the_key_material(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "base-secret-access-key-0001"
    token = "base-session-token-0001"
    sandbox.write_aws_credentials(BASE_CREDENTIALS + f"aws_session_token = {token}\n")
    write_chain(sandbox)
    documents: list[str] = []
    digest = hops.digest

    def spy(document: Mapping[str, Any]) -> str:
        documents.append(json.dumps(document, sort_keys=True, separators=(",", ":")))
        return digest(document)

    monkeypatch.setattr(hops, "digest", spy)
    before = keys()
    assert len(documents) >= 4
    material = "\n".join(documents)
    assert "AKIABASEEXAMPLE0001" in material  # the spy sees the base identity...
    assert secret not in material  # ...but never its secrets
    assert token not in material
    sandbox.write_aws_credentials(
        BASE_CREDENTIALS.replace(secret, "another-secret-access-key")
        + "aws_session_token = another-token\n"
    )
    documents.clear()
    assert keys() == before
    assert "another-secret-access-key" not in "\n".join(documents)
    assert "another-token" not in "\n".join(documents)


def test_base_key_is_built_from_non_secret_identity(sandbox: Sandbox) -> None:
    write_chain(sandbox)
    base = build("c").base
    assert base.aws is not None
    assert base.aws.identity == (("aws_access_key_id", "AKIABASEEXAMPLE0001"),)
    assert base.key == hops.digest(
        {
            "v": hops.CACHE_FORMAT,
            "kind": "profile",
            "name": "base",
            "identity": [["aws_access_key_id", "AKIABASEEXAMPLE0001"]],
            "credential_source": None,
            "source_identity": [],
            "files": [str(sandbox.aws_config), str(sandbox.aws_credentials)],
            "endpoint": None,
            "endpoint_settings": [],
            "static_keys_only": False,
        }
    )


def test_aws_config_endpoint_settings_change_every_key(sandbox: Sandbox) -> None:
    write_chain(sandbox)
    before = build("c").keys
    sandbox.write_aws_config("[default]\nendpoint_url = http://127.0.0.1:4566\n")
    moved = build("c").keys
    sandbox.write_aws_config(
        "[default]\nservices = local\n\n[services local]\nsts =\n  endpoint_url = http://x\n"
    )
    services = build("c").keys
    assert len({before, moved, services}) == 3
    assert all(a != b for a, b in zip(before, moved, strict=True))


def test_source_with_role_and_own_keys_is_a_base_as_in_botocore(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(
        f"""\
        [profile selfy]
        role_arn = {arn("selfy")}
        source_profile = joe

        [profile c]
        role_arn = {arn("c")}
        source_profile = selfy
        """
    )
    sandbox.write_aws_credentials(
        """\
        [joe]
        aws_access_key_id = AKIAJOE
        aws_secret_access_key = joe-secret
        [selfy]
        aws_access_key_id = AKIASELFY
        aws_secret_access_key = selfy-secret
        """
    )
    built = build("c")
    assert built.names == ("selfy", "c")
    assert built.base.static_keys_only


def test_role_profile_in_the_credentials_file_is_a_role(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials(
        f"""\
        [joe]
        aws_access_key_id = AKIAJOE
        aws_secret_access_key = joe-secret
        [ops]
        role_arn = {arn("ops")}
        source_profile = joe
        """
    )
    built = build("ops")
    assert built.names == ("joe", "ops")
    assert built.profile.path == sandbox.aws_credentials
    assert built.profile.line == 4


@pytest.mark.parametrize("header", ['profile "quoted"', "profile\tquoted"])
def test_profile_headers_are_split_like_botocore(sandbox: Sandbox, header: str) -> None:
    sandbox.write_aws_config(f"[{header}]\nrole_arn = {arn('q')}\nsource_profile = joe\n")
    sandbox.write_aws_credentials("[joe]\naws_access_key_id = A\naws_secret_access_key = s\n")
    assert build("quoted").names == ("joe", "quoted")
