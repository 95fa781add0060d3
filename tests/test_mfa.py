"""MFA: one GetSessionToken per base for any number of roles, role-level MFA, code sources.

STS is real boto3 clients with botocore's ``Stubber`` behind ``context.build(sts=...)``:
every GetSessionToken and AssumeRole is checked parameter by parameter, a call that was not
queued fails, and ``StubSts.calls`` records the credentials each client signs with. The
MFA code source is a recorder, so how often a code is asked for is counted exactly.
:class:`rolehop.engine.mfa.MfaCodes` itself is tested with an injected terminal and real
``mfa_process`` commands.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.engine import admin, context
from rolehop.engine.compose import MFA_SESSION_MARGIN
from rolehop.engine.context import Context
from rolehop.engine.mfa import PROCESS_TIMEOUT, MfaCodes, Terminal
from rolehop.engine.providers.locked import Locks
from rolehop.engine.resolve import chain_of, resolve
from rolehop.errors import AccessDeniedError, MfaError
from rolehop.stores.cache import SERVICE, KeyringCache
from rolehop.stores.keys import KeyStore
from rolehop.stores.locks import FileLocks
from tests.conftest import Sandbox
from tests.support.held import held_for
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_ARN,
    JOE_CREDENTIALS,
    JOE_KEY_ID,
    JOE_SECRET,
    LEGACY_ROLE,
    NOW,
    RESEARCH_ROLE,
    Issued,
    StubWorld,
    issue,
    params,
)

SERIAL = "arn:aws:iam::111111111111:mfa/joe"
ROLE_SERIAL = "arn:aws:iam::111111111111:mfa/joe-role-device"
MARGIN = timedelta(minutes=20)  # rolehop's default refresh_margin
SESSION_HOURS = 12  # the default session_duration, 43200 s
ROLE_HOURS = 1

# joe is a TOML base profile with MFA; his keys are in ~/.aws/credentials (JOE_CREDENTIALS)
THREE_ROLES = f"""\
    [profiles.joe]
    mfa_serial = "{SERIAL}"

    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"

    [profiles.research]
    role_arn = "{RESEARCH_ROLE}"
    source_profile = "joe"

    [profiles.legacy]
    role_arn = "{LEGACY_ROLE}"
    source_profile = "joe"
    """

ROLES = {"company": COMPANY_ROLE, "research": RESEARCH_ROLE, "legacy": LEGACY_ROLE}


def joe() -> Credentials:
    return Credentials(JOE_KEY_ID, JOE_SECRET)


def mfa_session(tag: str, expiration: datetime) -> Issued:
    """The GetSessionToken answer: temporary keys of joe himself, no AssumedRoleUser."""
    key_id = f"ASIA{tag.upper():0<16}"[:20]
    secret = f"{tag}-mfa-secret-access-key-0123456789ab"
    token = f"{tag}-mfa-session-token-FwoGZXIvYXdzEJr///////wEaDA=="
    return Issued(
        response={
            "Credentials": {
                "AccessKeyId": key_id,
                "SecretAccessKey": secret,
                "SessionToken": token,
                "Expiration": expiration,
            }
        },
        credentials=Credentials(key_id, secret, token, expiration),
    )


# ---------------------------------------------------------------------------------------
# fixtures


@dataclass
class Codes:
    """An MFA code source that records every question and answers from a list."""

    answers: list[str] = field(default_factory=lambda: ["123456", "234567", "345678"])
    asked: list[tuple[str, str, str | None]] = field(default_factory=list)

    def __call__(self, serial: str, profile: str, mfa_process: str | None) -> str:
        self.asked.append((serial, profile, mfa_process))
        return self.answers[len(self.asked) - 1]


@dataclass
class World(StubWorld):
    codes: Codes = field(default_factory=Codes)

    def app(
        self,
        environ: Mapping[str, str] | None = None,
        busy: Busy = quiet,
        locks: Locks | None = None,
    ) -> Context:
        return self.context(
            environ,
            keys=KeyStore(self.keyring, self.clock),
            mfa_codes=self.codes,
            busy=busy,
            locks=locks,
        )

    def expect_session(
        self,
        tag: str = "session",
        *,
        code: str = "123456",
        serial: str = SERIAL,
        duration: int = 43200,
        hours: int = SESSION_HOURS,
    ) -> Issued:
        """Queue one GetSessionToken with exactly these parameters."""
        issued = mfa_session(tag, self.clock.now + timedelta(hours=hours))
        expected = {"SerialNumber": serial, "TokenCode": code, "DurationSeconds": duration}
        self.sts.expect(
            lambda stubber: stubber.add_response("get_session_token", issued.response, expected)
        )
        return issued

    def expect_role(self, name: str, tag: str | None = None, **extra: Any) -> Issued:
        """Queue one AssumeRole of ``name``'s role (exact parameters: ``params(...)``)."""
        role = ROLES[name]
        issued = issue(tag or name, role, self.clock.now + timedelta(hours=ROLE_HOURS))
        self.sts.expect_assume_role(params(role, **extra), issued.response)
        return issued


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    sandbox.write_aws_credentials(JOE_CREDENTIALS)
    return World(sandbox)


def _cached_keys(world: World) -> set[str]:
    return {name for service, name in world.keyring.items if service == SERVICE} - {"index"}


def _deny(stubber: Stubber, operation: str, message: str) -> None:
    stubber.add_client_error(
        operation, service_error_code="AccessDenied", service_message=message, http_status_code=403
    )


def _whoami(stubber: Stubber) -> None:
    stubber.add_response(
        "get_caller_identity", {"UserId": "AIDAJOE", "Account": "111111111111", "Arn": JOE_ARN}, {}
    )


# ---------------------------------------------------------------------------------------
# an MFA base: one GetSessionToken, every role assumed with the session


def test_get_session_token_carries_exactly_serial_code_and_default_duration(
    world: World,
) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    company = world.expect_role("company")

    resolution = resolve(world.app(), "company")

    world.sts.verify()
    assert resolution.credentials == company.credentials
    assert world.sts.calls == [(joe(), None), (session.credentials, None)]
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert [(hop.name, hop.status) for hop in resolution.hops] == [("company", "miss")]
    assert resolution.chain.names == ("joe", "company")
    assert world.warnings == []


def test_session_duration_and_mfa_process_of_the_base_are_used(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "{SERIAL}"
        session_duration = 3600
        mfa_process = "ykman oath accounts code --single 'AWS joe'"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    world.expect_session(duration=3600, hours=1)
    world.expect_role("company")

    resolve(world.app(), "company")

    world.sts.verify()
    assert world.codes.asked == [(SERIAL, "company", "ykman oath accounts code --single 'AWS joe'")]


def test_three_roles_one_session_token_one_code(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    issued = {name: world.expect_role(name) for name in ("company", "research", "legacy")}
    app = world.app()

    resolved = {name: resolve(app, name) for name in ("company", "research", "legacy")}

    world.sts.verify()  # exactly one GetSessionToken, then three AssumeRole, in that order
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert world.sts.calls == [
        (joe(), None),
        (session.credentials, None),
        (session.credentials, None),
        (session.credentials, None),
    ]
    for name, resolution in resolved.items():
        assert resolution.credentials == issued[name].credentials
        assert [hop.status for hop in resolution.hops] == ["miss"]
    mfa = chain_of(app, "company").mfa
    assert mfa is not None
    assert {chain_of(app, name).mfa for name in issued} == {mfa}
    # the MFA session and the three roles are cached; nothing for joe's long-term keys
    assert _cached_keys(world) == {mfa.key, *(chain_of(app, name).keys[-1] for name in issued)}


def test_the_mfa_session_is_shared_by_a_new_rolehop_on_the_same_keyring(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    world.expect_role("company")
    research = world.expect_role("research")
    resolve(world.app(), "company")

    again = resolve(world.app(), "research")

    world.sts.verify()
    assert again.credentials == research.credentials
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert world.sts.calls[-1] == (session.credentials, None)


def test_roles_from_an_mfa_session_are_not_role_chained(world: World) -> None:
    """The 1 hour cap applies to a role assumed with a role's credentials, not a session's."""
    world.sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "{SERIAL}"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        duration_seconds = 7200
        """
    )
    world.expect_session()
    world.expect_role("company", DurationSeconds=7200)

    resolution = resolve(world.app(), "company")

    world.sts.verify()
    assert [hop.chained for hop in resolution.chain.hops] == [False]
    assert world.warnings == []


def test_the_second_hop_after_an_mfa_session_is_role_chained(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "{SERIAL}"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"

        [profiles.research]
        role_arn = "{RESEARCH_ROLE}"
        source_profile = "company"
        """
    )
    session = world.expect_session()
    company = world.expect_role("company")
    research = world.expect_role("research")

    resolution = resolve(world.app(), "research")

    world.sts.verify()
    assert resolution.credentials == research.credentials
    assert world.sts.calls == [
        (joe(), None),
        (session.credentials, None),
        (company.credentials, None),
    ]
    assert [hop.chained for hop in resolution.chain.hops] == [False, True]
    assert world.codes.asked == [(SERIAL, "research", None)]


# ---------------------------------------------------------------------------------------
# expiry and --refresh


def test_roles_expire_before_the_session_no_new_code(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    world.expect_role("company")
    app = world.app()
    resolve(app, "company")

    # the role (1 h) is stale, the session (12 h) still good for a second more than the margin
    world.clock.now = NOW + timedelta(hours=SESSION_HOURS) - MARGIN - timedelta(seconds=1)
    company2 = world.expect_role("company", "company2")
    again = resolve(app, "company")

    world.sts.verify()
    assert again.credentials == company2.credentials
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert world.sts.calls[-1] == (session.credentials, None)
    assert len(world.sts.calls) == 3


def test_an_expired_mfa_session_asks_for_a_code_and_calls_get_session_token_again(
    world: World,
) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.expect_session()
    world.expect_role("company")
    app = world.app()
    resolve(app, "company")

    # the session is used until 5 minutes before it ends (not refresh_margin: its
    # credentials go straight into AssumeRole calls, never to an SDK)
    world.clock.now = NOW + timedelta(hours=SESSION_HOURS) - MFA_SESSION_MARGIN
    session2 = world.expect_session("session2", code="234567")
    company2 = world.expect_role("company", "company2")
    again = resolve(app, "company")

    world.sts.verify()
    assert again.credentials == company2.credentials
    assert world.codes.asked == [(SERIAL, "company", None), (SERIAL, "company", None)]
    assert world.sts.calls[2:] == [(joe(), None), (session2.credentials, None)]
    # the new session is the one cached: another role needs no third code
    research = world.expect_role("research")
    assert resolve(app, "research").credentials == research.credentials
    assert len(world.codes.asked) == 2
    assert world.sts.calls[-1] == (session2.credentials, None)


def test_refresh_renews_the_roles_but_not_the_mfa_session(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    world.expect_role("company")
    app = world.app()
    resolve(app, "company")

    company2 = world.expect_role("company", "company2")
    again = resolve(app, "company", refresh=True)

    world.sts.verify()
    assert again.credentials == company2.credentials
    assert [hop.status for hop in again.hops] == ["refreshed"]
    assert world.codes.asked == [(SERIAL, "company", None)]
    assert world.sts.calls == [
        (joe(), None),
        (session.credentials, None),
        (session.credentials, None),
    ]


def test_mfa_token_is_the_code_sent_and_the_code_source_is_not_asked(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.expect_session(code="654321")
    company = world.expect_role("company")

    resolution = resolve(world.app(), "company", mfa_token="654321")

    world.sts.verify()
    assert resolution.credentials == company.credentials
    assert world.codes.asked == []


def test_stored_keys_with_an_mfa_base_profile(world: World) -> None:
    """Keys in the keyring, MFA in the TOML, no AWS shared files at all."""
    world.sandbox.aws_credentials.unlink()
    world.sandbox.write_rolehop(THREE_ROLES)
    stored = Credentials("AKIASTORED0000000009", "storedSecretAccessKey/00000000000000009")
    app = world.app()
    admin.add_keys(app, "joe", stored)
    session = world.expect_session()
    world.expect_role("company")

    resolve(app, "company")

    world.sts.verify()
    assert world.sts.calls == [(stored, None), (session.credentials, None)]
    assert world.codes.asked == [(SERIAL, "company", None)]


# ---------------------------------------------------------------------------------------
# MFA on the role, not the base


def test_role_mfa_serial_on_a_base_without_mfa_goes_with_the_assume_role(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        mfa_serial = "{ROLE_SERIAL}"
        mfa_process = "pass otp aws/company"
        """
    )
    company = world.expect_role("company", SerialNumber=ROLE_SERIAL, TokenCode="123456")
    app = world.app()

    first = resolve(app, "company")

    world.sts.verify()
    assert first.credentials == company.credentials
    assert first.chain.mfa is None
    assert world.sts.calls == [(joe(), None)]
    assert world.codes.asked == [(ROLE_SERIAL, "company", "pass otp aws/company")]

    # the role's credentials are cached: no code, no call
    second = resolve(app, "company")

    assert second.credentials == company.credentials
    assert [hop.status for hop in second.hops] == ["hit"]
    assert len(world.codes.asked) == 1
    assert len(world.sts.calls) == 1


def test_role_mfa_serial_under_an_mfa_base_needs_no_second_code(world: World) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "{SERIAL}"

        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        mfa_serial = "{ROLE_SERIAL}"
        """
    )
    world.expect_session()
    world.expect_role("company")  # no SerialNumber, no TokenCode: the session satisfies MFA

    resolve(world.app(), "company")

    world.sts.verify()
    assert world.codes.asked == [(SERIAL, "company", None)]


# ---------------------------------------------------------------------------------------
# AccessDenied with a code


def test_access_denied_on_get_session_token_names_the_serial_and_the_code(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    said = "MultiFactorAuthentication failed with invalid MFA one time pass code."

    def plan(stubber: Stubber) -> None:
        _deny(stubber, "get_session_token", said)
        _whoami(stubber)

    world.sts.expect(plan)

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert str(caught.value) == (
        f"profile 'company' (hop 'joe'): AccessDenied starting an MFA session as {JOE_ARN} "
        f"with MFA device {SERIAL}: the MFA code may be wrong or expired, or {SERIAL} is not "
        f"this user's device. (STS said: {said}); run: rolehop explain company"
    )
    assert caught.value.exit_code == 5
    assert world.keyring.items == {}  # nothing cached: the next run asks again


def test_access_denied_on_assume_role_with_a_code_names_the_code_and_serial(
    world: World,
) -> None:
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        mfa_serial = "{ROLE_SERIAL}"
        """
    )

    def plan(stubber: Stubber) -> None:
        _deny(stubber, "assume_role", "MultiFactorAuthentication failed")
        _whoami(stubber)

    world.sts.expect(plan)

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    assert str(caught.value) == (
        f"profile 'company': AccessDenied assuming {COMPANY_ROLE} as {JOE_ARN}. Both sides "
        f"must agree: the role's trust policy must trust {JOE_ARN}, and that caller's own "
        f"policy must allow sts:AssumeRole on {COMPANY_ROLE}. The MFA code may also be wrong "
        f"or expired (serial {ROLE_SERIAL}). (STS said: MultiFactorAuthentication failed); "
        "run: rolehop explain company"
    )
    assert world.codes.asked == [(ROLE_SERIAL, "company", None)]


def test_access_denied_on_assume_role_from_an_mfa_session_does_not_blame_a_code(
    world: World,
) -> None:
    """No code went with that AssumeRole: the session was fine, the role refused."""
    world.sandbox.write_rolehop(THREE_ROLES)
    session = world.expect_session()
    world.sts.expect(lambda stubber: _deny(stubber, "assume_role", "not authorized"))

    with pytest.raises(AccessDeniedError) as caught:
        resolve(world.app(), "company")

    world.sts.verify()
    # the session's credentials carry no ARN, so GetCallerIdentity was tried (unstubbed here)
    assert str(caught.value) == (
        f"profile 'company': AccessDenied assuming {COMPANY_ROLE} as the source credentials. "
        "Both sides must agree: the role's trust policy must trust the source credentials, "
        "and that caller's own policy must allow sts:AssumeRole on "
        f"{COMPANY_ROLE}. (STS said: not authorized); run: rolehop explain company"
    )
    assert world.sts.calls == [(joe(), None), (session.credentials, None)]


# ---------------------------------------------------------------------------------------
# the AWS config's own conventions


def test_aws_config_base_with_mfa_serial_works_the_same(world: World) -> None:
    """aws-vault's convention: mfa_serial on the profile that holds the keys."""
    world.sandbox.write_aws_config(
        f"""\
        [profile joe]
        mfa_serial = {SERIAL}
        mfa_process = ykman oath accounts code --single joe
        region = eu-west-1
        """
    )
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"

        [profiles.research]
        role_arn = "{RESEARCH_ROLE}"
        source_profile = "joe"
        """
    )
    session = world.expect_session()
    company = world.expect_role("company")
    research = world.expect_role("research")
    app = world.app()

    assert resolve(app, "company").credentials == company.credentials
    assert resolve(app, "research").credentials == research.credentials

    world.sts.verify()
    assert world.codes.asked == [(SERIAL, "company", "ykman oath accounts code --single joe")]
    assert world.sts.calls == [
        (joe(), None),
        (session.credentials, None),
        (session.credentials, None),
    ]


def test_mfa_serial_beside_role_arn_in_aws_config_is_the_roles(world: World) -> None:
    world.sandbox.write_aws_config(
        f"""\
        [profile legacy]
        role_arn = {LEGACY_ROLE}
        source_profile = joe
        mfa_serial = {ROLE_SERIAL}
        """
    )
    world.sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    legacy = world.expect_role("legacy", SerialNumber=ROLE_SERIAL, TokenCode="123456")
    company = world.expect_role("company")  # joe has no MFA: no code, no SerialNumber
    app = world.app()

    assert resolve(app, "legacy").credentials == legacy.credentials
    assert resolve(app, "company").credentials == company.credentials

    world.sts.verify()
    assert chain_of(app, "legacy").mfa is None
    assert chain_of(app, "company").mfa is None
    assert world.codes.asked == [(ROLE_SERIAL, "legacy", None)]
    assert world.sts.calls == [(joe(), None), (joe(), None)]


# ---------------------------------------------------------------------------------------
# MfaCodes: --mfa-token, then mfa_process, then the terminal


@dataclass
class FakeTerminal:
    """A terminal that answers ``readline`` from a list ("" once the list is used up)."""

    answers: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    reads: int = 0
    closed: bool = False

    def write(self, text: str) -> None:
        assert not self.closed
        self.written.append(text)

    def readline(self) -> str:
        assert not self.closed
        self.reads += 1
        return self.answers[self.reads - 1] if self.reads <= len(self.answers) else ""

    def close(self) -> None:
        self.closed = True


PROMPT = f"MFA code for {SERIAL} (profile company): "
RE_ASK = "An MFA code is 6 digits.\n"


def opens(terminal: FakeTerminal, opened: list[FakeTerminal]) -> Callable[[], Terminal]:
    def open_tty() -> Terminal:
        opened.append(terminal)
        return terminal

    return open_tty


def no_tty() -> Terminal:
    raise OSError(6, "No such device or address")


def must_not_open() -> Terminal:
    raise AssertionError("the terminal must not be opened")


def python(code: str, *args: str) -> str:
    """An mfa_process command line running ``code`` with this Python."""
    return shlex.join([sys.executable, "-c", code, *args])


def test_given_code_is_used_once_then_the_terminal_is_asked() -> None:
    terminal = FakeTerminal(["654321\n"])
    opened: list[FakeTerminal] = []
    codes = MfaCodes(" 123456\n", open_tty=opens(terminal, opened))

    assert codes(SERIAL, "company", None) == "123456"
    assert opened == []

    assert codes(SERIAL, "company", None) == "654321"
    assert opened == [terminal]
    assert terminal.written == [PROMPT]
    assert terminal.closed


def test_given_code_is_used_once_then_mfa_process_is_run() -> None:
    codes = MfaCodes("123456", open_tty=must_not_open)

    assert codes(SERIAL, "company", python("print('111111')")) == "123456"
    assert codes(SERIAL, "company", python("print('222222')")) == "222222"


@pytest.mark.parametrize("given", ["12345", "1234567", "abcdef", "12 345", "", "123456x"])
def test_malformed_given_code_is_an_mfa_error(given: str) -> None:
    codes = MfaCodes(given, open_tty=must_not_open)

    with pytest.raises(MfaError) as caught:
        codes(SERIAL, "company", None)

    assert str(caught.value) == f"--mfa-token: {given.strip()!r} is not a 6-digit code"
    assert caught.value.exit_code == 9


def test_mfa_process_prints_the_code_and_the_terminal_is_not_opened() -> None:
    codes = MfaCodes(open_tty=must_not_open)

    assert codes(SERIAL, "company", python("print('123456')")) == "123456"


def test_mfa_process_is_split_with_shlex_and_run_without_a_shell() -> None:
    codes = MfaCodes(open_tty=must_not_open)
    # a shell would run `echo 999999` too and two lines would not be one code; without a
    # shell, ";" "echo" "999999" are only arguments of the Python program
    command = python("import sys; print(sys.argv[1])", "654321") + " ; echo 999999"

    assert codes(SERIAL, "company", command) == "654321"


def test_mfa_process_with_a_quoted_program_path(tmp_path: Path) -> None:
    program = tmp_path / "my tools" / "otp"
    program.parent.mkdir()
    program.write_text(f"#!{sys.executable}\nprint('  246810  ')\n")
    program.chmod(0o755)

    command = f"'{program}' --account 'AWS joe'"

    assert MfaCodes(open_tty=must_not_open)(SERIAL, "company", command) == "246810"


def _process_error(command: str) -> MfaError:
    with pytest.raises(MfaError) as caught:
        MfaCodes(open_tty=must_not_open)(SERIAL, "company", command)
    assert caught.value.exit_code == 9
    return caught.value


def test_mfa_process_exiting_non_zero_is_a_clear_error() -> None:
    command = python("import sys; print('123456'); sys.exit(3)")

    error = _process_error(command)

    assert str(error) == (
        f"profile 'company': mfa_process {command!r} (for {SERIAL}): failed with exit status 3"
    )


@pytest.mark.parametrize(
    "output", ["touch your YubiKey", "12345", "123456\n654321", "", "code: 123456"]
)
def test_mfa_process_printing_no_code_is_a_clear_error(output: str) -> None:
    command = python("import sys; sys.stdout.write(sys.argv[1])", output)

    error = _process_error(command)

    assert str(error) == (
        f"profile 'company': mfa_process {command!r} (for {SERIAL}): printed no 6-digit code"
    )


def test_mfa_process_not_found_is_a_clear_error(tmp_path: Path) -> None:
    command = f"{tmp_path}/no-such-ykman oath accounts code"

    error = _process_error(command)

    assert str(error) == (
        f"profile 'company': mfa_process {command!r} (for {SERIAL}): command not found"
    )


def test_mfa_process_not_executable_is_a_clear_error(tmp_path: Path) -> None:
    program = tmp_path / "otp"
    program.write_text("#!/bin/sh\necho 123456\n")
    program.chmod(0o644)

    error = _process_error(str(program))

    assert str(error) == (
        f"profile 'company': mfa_process {str(program)!r} (for {SERIAL}): cannot run: "
        "Permission denied"
    )


def test_mfa_process_timeout_is_a_clear_error() -> None:
    seen: list[tuple[list[str], dict[str, Any]]] = []

    def run(argv: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        seen.append((argv, options))
        raise subprocess.TimeoutExpired(argv, PROCESS_TIMEOUT)

    codes = MfaCodes(open_tty=must_not_open, run=run)

    with pytest.raises(MfaError) as caught:
        codes(SERIAL, "company", "ykman oath accounts code --single 'AWS joe'")

    assert str(caught.value) == (
        "profile 'company': mfa_process \"ykman oath accounts code --single 'AWS joe'\" "
        f"(for {SERIAL}): no answer after 120 s"
    )
    assert seen == [
        (
            ["ykman", "oath", "accounts", "code", "--single", "AWS joe"],
            {
                "stdout": subprocess.PIPE,
                "stdin": subprocess.DEVNULL,
                "text": True,
                "timeout": 120,
                "check": False,
            },
        )
    ]


def test_terminal_accepts_a_good_code_and_is_closed() -> None:
    terminal = FakeTerminal(["  123456 \n"])
    opened: list[FakeTerminal] = []

    assert MfaCodes(open_tty=opens(terminal, opened))(SERIAL, "company", None) == "123456"

    assert opened == [terminal]
    assert terminal.written == [PROMPT]
    assert terminal.reads == 1
    assert terminal.closed


def test_terminal_re_asks_on_a_malformed_code() -> None:
    terminal = FakeTerminal(["12345\n", "\n", "123456\n"])

    assert MfaCodes(open_tty=opens(terminal, []))(SERIAL, "company", None) == "123456"

    assert terminal.written == [PROMPT, RE_ASK, PROMPT, RE_ASK, PROMPT]
    assert terminal.reads == 3
    assert terminal.closed


def test_terminal_gives_up_after_three_bad_codes() -> None:
    terminal = FakeTerminal(["1\n", "abcdef\n", "1234567\n", "123456\n"])

    with pytest.raises(MfaError) as caught:
        MfaCodes(open_tty=opens(terminal, []))(SERIAL, "company", None)

    assert str(caught.value) == f"profile 'company': no valid MFA code entered for {SERIAL}"
    assert caught.value.exit_code == 9
    assert terminal.reads == 3  # the fourth (good) answer is never read
    assert terminal.written == [PROMPT, RE_ASK, PROMPT, RE_ASK, PROMPT, RE_ASK]
    assert terminal.closed


def test_terminal_end_of_input_is_an_error_at_once() -> None:
    terminal = FakeTerminal([])

    with pytest.raises(MfaError) as caught:
        MfaCodes(open_tty=opens(terminal, []))(SERIAL, "company", None)

    assert str(caught.value) == f"profile 'company': no valid MFA code entered for {SERIAL}"
    assert terminal.reads == 1
    assert terminal.written == [PROMPT]
    assert terminal.closed


def test_terminal_re_asks_on_non_ascii_digits() -> None:
    terminal = FakeTerminal(["\uff11\uff12\uff13\uff14\uff15\uff16\n", "123456\n"])  # fullwidth

    assert MfaCodes(open_tty=opens(terminal, []))(SERIAL, "company", None) == "123456"

    assert terminal.written == [PROMPT, RE_ASK, PROMPT]


UNLOCK_HINT = (
    f"profile 'company' needs an MFA code for {SERIAL} and there is no terminal to ask: run "
    "`rolehop env company` in a terminal first (the session is then cached), or set "
    "mfa_process to a command that prints the code"
)


def test_no_terminal_fails_at_once_with_the_unlock_hint() -> None:
    started = time.monotonic()

    with pytest.raises(MfaError) as caught:
        MfaCodes(open_tty=no_tty)(SERIAL, "company", None)

    assert time.monotonic() - started < 2
    assert str(caught.value) == UNLOCK_HINT
    assert caught.value.exit_code == 9


def test_no_controlling_terminal_for_real_fails_within_two_seconds() -> None:
    """The real /dev/tty, in a process started in a new session (so with no terminal)."""
    script = (
        "from rolehop.errors import MfaError\n"
        "from rolehop.engine.mfa import MfaCodes\n"
        "try:\n"
        f"    MfaCodes()({SERIAL!r}, 'company', None)\n"
        "except MfaError as error:\n"
        "    print(error.exit_code, error)\n"
    )
    started = time.monotonic()

    done = subprocess.run(
        [sys.executable, "-c", script],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )

    assert time.monotonic() - started < 2
    assert (done.returncode, done.stdout, done.stderr) == (0, f"9 {UNLOCK_HINT}\n", "")


def test_no_terminal_through_rolehop_makes_no_sts_call_after_the_failure(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.sts.expect(lambda stubber: None)  # the GetSessionToken client: never called
    app = context.build(
        dict(os.environ),
        clock=world.clock,
        sts=world.sts,
        cache=KeyringCache(world.keyring, world.warnings.append, world.clock),
        keys=KeyStore(world.keyring, world.clock),
        mfa_codes=MfaCodes(open_tty=no_tty),
    )

    with pytest.raises(MfaError) as caught:
        resolve(app, "company")

    assert str(caught.value) == UNLOCK_HINT
    assert world.sts.calls == [(joe(), None)]
    world.sts.verify()
    assert world.keyring.items == {}


# ---------------------------------------------------------------------------------------
# long waits are announced (a spinner on a terminal), never over an MFA prompt


class Announced:
    """A ``busy`` recording each message with how many MFA codes had been asked by then."""

    def __init__(self, codes: Codes) -> None:
        self.codes = codes
        self.events: list[tuple[str, int]] = []

    @contextmanager
    def __call__(self, message: str) -> Iterator[None]:
        self.events.append((message, len(self.codes.asked)))
        yield


def test_sts_calls_are_announced_after_the_code_is_asked(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.expect_session()
    world.expect_role("company")
    busy = Announced(world.codes)

    resolve(world.app(busy=busy), "company")

    assert busy.events == [
        ("starting the MFA session of 'joe' for profile 'company'", 1),
        (f"assuming {COMPANY_ROLE} for profile 'company'", 1),
    ]


def _resolve_while_locked(world: World, profile: str, busy: Announced, tmp: Path) -> None:
    """Resolve ``profile`` while another thread holds its target hop's lock for 0.3 s."""
    locks = FileLocks(tmp)
    app = world.app(busy=busy, locks=locks)
    with held_for(locks, chain_of(app, profile).keys[-1], 0.3):
        resolve(app, profile)


def test_waiting_for_another_process_is_announced(world: World, tmp_path: Path) -> None:
    world.sandbox.write_rolehop(
        f'[profiles.company]\nrole_arn = "{COMPANY_ROLE}"\nsource_profile = "joe"\n'
    )
    world.expect_role("company")
    busy = Announced(world.codes)

    _resolve_while_locked(world, "company", busy, tmp_path)

    assert [message for message, _ in busy.events] == [
        "waiting for another rolehop process refreshing profile 'company'",
        f"assuming {COMPANY_ROLE} for profile 'company'",
    ]


def test_waiting_behind_a_possible_mfa_prompt_is_quiet(world: World, tmp_path: Path) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.expect_session()
    world.expect_role("company")
    busy = Announced(world.codes)

    _resolve_while_locked(world, "company", busy, tmp_path)

    assert not [message for message, _ in busy.events if message.startswith("waiting")]
    assert len(busy.events) == 2  # the STS calls still are
