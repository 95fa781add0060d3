"""An SSO profile as a source whose IAM Identity Center session is missing or expired.

rolehop says so in one line, names the fix (``rolehop sso login SESSION``) and exits 12,
with no traceback and none of botocore's own log warnings, in process and as a subprocess.
The token is the AWS CLI's, in the sandbox's ``~/.aws/sso/cache/<sha1 of the session name>.json``;
the OIDC refresh (when the cached token carries a refresh token) goes to a local stub that
refuses it, never to AWS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from rolehop.errors import SsoLoginRequired
from tests.conftest import RunRolehop, Sandbox
from tests.support.cli import StubbedState, rolehop_main
from tests.support.sso_stubs import SSO_CONFIG, START_URL
from tests.support.stubs import COMPANY_ROLE, StsHttpStub

pytestmark = pytest.mark.usefixtures("restore_logging")

ROLES = f"""\
    [profiles.x]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "dev-sso"

    [profiles.y]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "old-sso"
    """


def expected(target: str, session: str, expired: bool) -> str:
    state = "has expired" if expired else "is not signed in"
    return (
        f"rolehop: error: profile {target!r}: IAM Identity Center session {session!r} {state}: "
        f"run rolehop sso login {session}\n"
    )


@pytest.fixture
def oidc() -> Iterator[StsHttpStub]:
    """Where botocore's SSO OIDC refresh goes: refused, whatever it asks."""
    stub = StsHttpStub()
    yield stub
    stub.close()


@pytest.fixture
def sso(sandbox: Sandbox, oidc: StsHttpStub, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    sandbox.write_aws_config(SSO_CONFIG)
    sandbox.write_rolehop(ROLES)
    monkeypatch.setenv("AWS_ENDPOINT_URL", oidc.url)
    for _ in range(4):  # botocore's retries, if any
        oidc.answer(
            json.dumps({"error": "invalid_grant", "error_description": "expired"}),
            status=400,
            content_type="application/json",
        )
    return sandbox


def write_token(sandbox: Sandbox, name: str, *, refreshable: bool) -> None:
    """botocore's cached SSO token for ``name`` (session name or start URL), expired."""
    cache = sandbox.home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    token = {
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": "expiredAccessToken0000000000000001",
        "expiresAt": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if refreshable:
        token |= {
            "clientId": "client0000000001",
            "clientSecret": "clientSecret000000000000001",
            "refreshToken": "refreshToken0000000000000001",
            "registrationExpiresAt": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()
    (cache / f"{digest}.json").write_text(json.dumps(token))


CASES = {
    "no token": ("x", "dev-sso", None),
    "expired, refresh refused": ("x", "dev-sso", ("corp", True)),
    "expired, no refresh token": ("x", "dev-sso", ("corp", False)),
    "legacy profile, no token": ("y", "old-sso", None),
    "legacy profile, expired": ("y", "old-sso", (START_URL, False)),
}


@pytest.mark.parametrize(("target", "source", "token"), CASES.values(), ids=CASES)
def test_in_process_one_line_and_exit_12(
    sso: Sandbox,
    state: StubbedState,
    target: str,
    source: str,
    token: tuple[str, bool] | None,
) -> None:
    if token is not None:
        write_token(sso, token[0], refreshable=token[1])

    outcome = rolehop_main("credential-process", target)

    assert (outcome.code, outcome.stdout) == (SsoLoginRequired.exit_code, "")
    session = "corp" if source == "dev-sso" else START_URL
    assert outcome.stderr == expected(target, session, token is not None)
    assert state.sts.calls == []  # no AssumeRole without source credentials


@pytest.mark.parametrize(("target", "source", "token"), CASES.values(), ids=CASES)
def test_subprocess_one_line_and_exit_12(
    sso: Sandbox,
    oidc: StsHttpStub,
    run_rolehop: RunRolehop,
    target: str,
    source: str,
    token: tuple[str, bool] | None,
) -> None:
    if token is not None:
        write_token(sso, token[0], refreshable=token[1])

    result = run_rolehop("env", target, "--shell", "bash", env={"AWS_ENDPOINT_URL": oidc.url})

    assert (result.returncode, result.stdout) == (12, "")
    session = "corp" if source == "dev-sso" else START_URL
    assert result.stderr == expected(target, session, token is not None)
    if token == ("corp", True):  # rolehop did try to refresh, and was refused
        assert [request.path for request in oidc.requests][:1] == ["/token"]


def test_debug_says_the_refresh_was_refused(
    sso: Sandbox, oidc: StsHttpStub, run_rolehop: RunRolehop
) -> None:
    write_token(sso, "corp", refreshable=True)

    result = run_rolehop("--debug", "credential-process", "x", env={"AWS_ENDPOINT_URL": oidc.url})

    assert result.returncode == 12
    assert "sso: refresh of 'corp' refused" in result.stderr
    assert result.stderr.endswith(expected("x", "corp", True))
    for secret in ("clientSecret000000000000001", "refreshToken0000000000000001"):
        assert secret not in result.stderr
