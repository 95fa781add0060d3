"""A base profile asked for itself (``env BASE``): never its long-term keys unless asked.

Keys (an AWS profile's, or stored in the keyring) are handed out as a session made from
them: the base's MFA session (the very one its chains use: one code for both) or a plain
GetSessionToken; ``session=False`` (``--no-session``) hands out the keys themselves,
uncached. Credentials that are temporary already go as they come, cached while they last.
STS is real boto3 clients with botocore's ``Stubber`` (``StubSts``).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rolehop.common.creds import Credentials
from rolehop.engine import admin
from rolehop.engine.context import Context
from rolehop.engine.resolve import resolve
from rolehop.errors import ChainLoopError, UsageError
from rolehop.features.doctor import aws_cli
from rolehop.stores.keys import KeyStore
from tests.support.cli import rolehop_main
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_CREDENTIALS,
    NOW,
    Issued,
    StubWorld,
    issue,
    joe,
    params,
)

SERIAL = "arn:aws:iam::111111111111:mfa/joe"
ANN = Credentials("AKIAANN0000000000123", "annSecretAccessKey/000000000000000123")


def session(tag: str, hours: float = 1) -> Issued:
    """A GetSessionToken answer: temporary keys of the user himself."""
    key_id = f"ASIA{tag.upper():0<16}"[:20]
    expiration = NOW + timedelta(hours=hours)
    credentials = Credentials(
        key_id,
        f"{tag}-session-secret-0123456789abcdef",
        f"{tag}-session-token-FwoGZX==",
        expiration,
    )
    response = {
        "Credentials": {
            "AccessKeyId": key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "SessionToken": credentials.session_token,
            "Expiration": expiration,
        }
    }
    return Issued(response, credentials)


@dataclass
class Codes:
    asked: list[str] = field(default_factory=list)

    def __call__(self, serial: str, profile: str, mfa_process: str | None) -> str:
        self.asked.append(profile)
        return "123456"


@dataclass
class World(StubWorld):
    """Its contexts ask :class:`Codes` for MFA codes and keep stored keys in its keyring."""

    codes: Codes = field(default_factory=Codes)

    def app(self, environ: Mapping[str, str] | None = None) -> Context:
        return self.context(environ, keys=self.stored_keys(), mfa_codes=self.codes)

    def expect_session(self, tag: str = "session", hours: float = 1, **expected: Any) -> Issued:
        issued = session(tag, hours)
        self.sts.expect(
            lambda stubber: stubber.add_response("get_session_token", issued.response, expected)
        )
        return issued


pytestmark = pytest.mark.world(kind=World, aws_credentials=JOE_CREDENTIALS)


# ---------------------------------------------------------------------------------------
# long-term keys: a session by default


def test_keys_of_an_aws_profile_are_handed_out_as_a_session(world: World) -> None:
    made = world.expect_session(DurationSeconds=3600)

    resolution = resolve(world.app(), "joe")

    world.sts.verify()
    assert resolution.credentials == made.credentials  # not joe's keys
    assert world.sts.calls == [(joe(), None)]
    assert (resolution.profile.name, resolution.chain.names) == ("joe", ("joe",))
    assert [(hop.name, hop.status) for hop in resolution.hops] == [("joe", "miss")]


def test_the_session_is_cached_and_refreshed_within_the_margin(world: World) -> None:
    first = world.expect_session("first", DurationSeconds=3600)
    assert resolve(world.app(), "joe").credentials == first.credentials

    again = resolve(world.app(), "joe")
    world.clock.now = NOW + timedelta(minutes=41)  # less than refresh_margin (20 m) left
    second = world.expect_session("second", DurationSeconds=3600)
    renewed = resolve(world.app(), "joe")

    world.sts.verify()
    assert (again.credentials, again.from_cache) == (first.credentials, True)
    assert renewed.credentials == second.credentials


def test_refresh_makes_a_new_session(world: World) -> None:
    world.expect_session("first", DurationSeconds=3600)
    resolve(world.app(), "joe")
    second = world.expect_session("second", DurationSeconds=3600)

    assert resolve(world.app(), "joe", refresh=True).credentials == second.credentials
    world.sts.verify()


def test_no_session_hands_out_the_keys_themselves_never_cached(world: World) -> None:
    resolution = resolve(world.app(), "joe", session=False)

    assert resolution.credentials == joe()
    assert resolution.credentials.expiration is None
    assert world.sts.calls == [] and world.cached_keys() == set()
    assert not resolution.from_cache and resolution.sts_calls == 0


def test_keys_stored_in_the_keyring_are_handed_out_as_a_session(world: World) -> None:
    KeyStore(world.keyring, world.clock).add("ann", ANN)
    made = world.expect_session(DurationSeconds=3600)

    resolution = resolve(world.app(), "ann")

    world.sts.verify()
    assert resolution.credentials == made.credentials
    assert world.sts.calls == [(ANN, None)]
    assert resolve(world.app(), "ann", session=False).credentials == ANN


def test_session_duration_and_region_of_a_base_profile(world: World) -> None:
    world.sandbox.write_rolehop('[profiles.joe]\nsession_duration = 7200\nregion = "eu-west-1"\n')
    world.expect_session(hours=2, DurationSeconds=7200)

    resolution = resolve(world.app(), "joe")

    world.sts.verify()
    assert world.sts.calls == [(joe(), "eu-west-1")]
    assert resolution.region == "eu-west-1"


def test_the_region_of_the_aws_profile_is_handed_out(world: World) -> None:
    world.sandbox.write_aws_config("[profile joe]\nregion = ap-south-1\n")
    world.expect_session(DurationSeconds=3600)

    assert resolve(world.app(), "joe").region == "ap-south-1"


# ---------------------------------------------------------------------------------------
# an MFA base: its MFA session, the one its chains use


MFA_BASE = f"""\
    [profiles.joe]
    mfa_serial = "{SERIAL}"

    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"
    """


@pytest.mark.parametrize("first", ["joe", "company"])
def test_one_mfa_code_for_the_base_and_its_roles(world: World, first: str) -> None:
    world.sandbox.write_rolehop(MFA_BASE)
    made = world.expect_session(
        "mfa", hours=12, SerialNumber=SERIAL, TokenCode="123456", DurationSeconds=43200
    )
    company = issue("company", COMPANY_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)

    results = {name: resolve(world.app(), name) for name in sorted({first, "joe", "company"})}

    world.sts.verify()
    assert world.codes.asked == [first] or world.codes.asked == ["company"]
    assert len(world.codes.asked) == 1
    assert results["joe"].credentials == made.credentials
    assert results["company"].credentials == company.credentials
    assert world.sts.calls[1][0] == made.credentials  # the role, from that very session


def test_no_session_on_an_mfa_base_is_its_keys_without_a_code(world: World) -> None:
    world.sandbox.write_rolehop(MFA_BASE)

    assert resolve(world.app(), "joe", session=False).credentials == joe()
    assert world.codes.asked == [] and world.sts.calls == []


# ---------------------------------------------------------------------------------------
# temporary or external credentials: as they come


@pytest.fixture
def process(world: World, tmp_path: Path) -> Path:
    """An AWS profile ``proc`` whose credential_process counts its runs in a file."""
    runs = tmp_path / "runs"
    document = {
        "Version": 1,
        "AccessKeyId": "ASIAPROCESS000000001",
        "SecretAccessKey": "processSecretAccessKey/0000000000001",
        "SessionToken": "processSessionToken//////////0000000001",
        "Expiration": (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    program = (
        f"import json, pathlib; p = pathlib.Path({str(runs)!r}); "
        f"p.write_text(p.read_text() + 'x' if p.exists() else 'x'); "
        f"print(json.dumps({document!r}))"
    )
    command = shlex.join([sys.executable, "-c", program])
    world.sandbox.write_aws_config(f"[profile proc]\ncredential_process = {command}\n")
    return runs


def test_credential_process_credentials_go_as_they_come_and_are_cached(
    world: World, process: Path
) -> None:
    first = resolve(world.app(), "proc")
    again = resolve(world.app(), "proc")

    assert world.sts.calls == []
    assert first.credentials.access_key_id == "ASIAPROCESS000000001"
    assert first.credentials.expiration == NOW + timedelta(hours=1)
    assert again.credentials == first.credentials and again.from_cache
    assert process.read_text() == "x"  # run once


def test_session_keys_in_the_credentials_file_go_as_they_come(world: World) -> None:
    world.sandbox.write_aws_credentials(
        "[temp]\naws_access_key_id = ASIATEMP000000000001\n"
        "aws_secret_access_key = tempSecret/0000000000000000001\n"
        "aws_session_token = tempSessionToken//////0001\n"
    )

    resolution = resolve(world.app(), "temp")

    assert world.sts.calls == []  # GetSessionToken refuses session credentials
    assert resolution.credentials.session_token == "tempSessionToken//////0001"


# ---------------------------------------------------------------------------------------
# the edges


def test_no_session_for_a_role_profile_is_a_usage_error(world: World) -> None:
    world.sandbox.write_rolehop(MFA_BASE)

    with pytest.raises(UsageError, match="--no-session: profile 'company' is a role profile"):
        resolve(world.app(), "company", session=False)
    assert world.sts.calls == []


def test_a_base_whose_credential_process_asks_for_itself_is_a_loop(world: World) -> None:
    environ = {**world.app().environ, "ROLEHOP_RESOLVING": "joe"}

    with pytest.raises(ChainLoopError, match="credential_process loop: resolving 'joe'"):
        resolve(world.app(environ), "joe")


def test_new_keys_forget_the_session_made_from_the_old_ones(world: World) -> None:
    KeyStore(world.keyring, world.clock).add("ann", ANN)
    world.expect_session(DurationSeconds=3600)
    resolve(world.app(), "ann")
    assert len(world.cached_keys()) == 1

    newer = Credentials("AKIAANN0000000000999", "newSecret/000000000000999")
    admin.add_keys(world.app(), "ann", newer)

    assert world.cached_keys() == set()


def test_doctor_knows_a_credential_process_asking_for_a_base(world: World) -> None:
    world.sandbox.write_aws_config(
        "[profile via-rolehop]\ncredential_process = rolehop credential-process joe\n\n"
        "[profile self]\ncredential_process = rolehop credential-process self\n"
    )
    config = world.app().config
    checks = aws_cli.credential_processes(config, {"PATH": ""}, lambda _: config, "/bin/rolehop")

    problems = [check.summary for check in checks if "not know" in check.summary]
    loops = [check for check in checks if "a loop" in check.summary]
    assert problems == []  # joe is a base: credential-process hands out its session
    assert [check.fix for check in loops] == ["name another profile than 'self' itself"]


@pytest.mark.usefixtures("restore_logging", "state")
@pytest.mark.parametrize("command", [["graph", "joe"], ["explain", "joe", "--dry-run"]])
def test_commands_about_roles_say_that_a_base_is_one(world: World, command: list[str]) -> None:
    """Not "profile 'joe' not found in ~/.aws/config", where it is."""
    outcome = rolehop_main(*command)

    assert (outcome.code, outcome.stdout) == (3, "")
    assert outcome.stderr == (
        f"rolehop: error: {world.sandbox.aws_credentials}:1: profile 'joe': is a base profile "
        "(no role_arn), which has no role to become: name it as the source_profile of a role "
        "profile (env, exec and credential-process hand out its own credentials)\n"
    )
