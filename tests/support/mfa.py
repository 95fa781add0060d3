"""The MFA tests' world (tests/test_mfa_*.py): joe's MFA device and three roles, an MFA code
source that records every question, and STS's answers to GetSessionToken.

Joe is a TOML base profile with MFA in :data:`THREE_ROLES`; his keys are in
~/.aws/credentials (``JOE_CREDENTIALS``, which the modules' ``world`` marker writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.stub import Stubber

from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.engine.context import Context
from rolehop.engine.providers.locked import Locks
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_ARN,
    LEGACY_ROLE,
    RESEARCH_ROLE,
    Issued,
    StubWorld,
    issue,
    params,
)

SERIAL = "arn:aws:iam::111111111111:mfa/joe"
ROLE_SERIAL = "arn:aws:iam::111111111111:mfa/joe-role-device"
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
    """A StubWorld whose contexts ask :class:`Codes` for MFA codes and keep stored keys in
    the world's keyring."""

    codes: Codes = field(default_factory=Codes)

    def app(
        self,
        environ: Mapping[str, str] | None = None,
        busy: Busy = quiet,
        locks: Locks | None = None,
    ) -> Context:
        return self.context(
            environ,
            keys=self.stored_keys(),
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


def deny(stubber: Stubber, operation: str, message: str) -> None:
    """Queue STS's AccessDenied to ``operation``."""
    stubber.add_client_error(
        operation, service_error_code="AccessDenied", service_message=message, http_status_code=403
    )


def whoami(stubber: Stubber) -> None:
    """Queue GetCallerIdentity's answer: joe."""
    stubber.add_response(
        "get_caller_identity", {"UserId": "AIDAJOE", "Account": "111111111111", "Arn": JOE_ARN}, {}
    )
