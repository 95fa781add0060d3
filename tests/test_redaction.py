"""No secret on stderr: ``rolehop.common.redact`` itself, ``--debug`` logs and tracebacks.

``--debug`` turns on botocore's request and response logs. The end-to-end tests run
``python -m rolehop --debug`` against an STS stub over HTTP, so that botocore really logs the
XML bodies and signed headers that carry the secrets; the in-process ones use the Stubber.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from rolehop.cli.state import AppState
from rolehop.common.creds import Credentials
from rolehop.common.redact import MASK, RedactingFormatter, redact, register
from rolehop.engine.context import Context
from rolehop.errors import StsError
from tests.conftest import RunRolehop, Sandbox
from tests.support.cli import (
    CONFIG,
    Outcome,
    expect_company,
    rolehop_main,
)
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_CREDENTIALS,
    JOE_SECRET,
    Issued,
    StsHttpStub,
    StubSts,
    assume_role_xml,
    issue,
    sts_error_xml,
)

pytestmark = [
    pytest.mark.usefixtures("restore_logging"),
    # the in-process tests' sts (the shared fixture): rolehop_main over these files
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG),
]

# the base profile's temporary keys: botocore signs AssumeRole with the token as a header
JOE_TEMP_KEY_ID = "ASIAJOE0000000000002"
JOE_TEMP_SECRET = "joeTemporarySecret/000000000000000000002"
JOE_TEMP_TOKEN = "joeSessionToken//////////0000000002+AbC="


class SecretLeakError(AssertionError):
    """A secret was found where it must not be."""


def assert_no_secret(text: str, *secrets: str | None) -> None:
    for secret in secrets:
        assert secret, "nothing to look for"
        if secret in text:
            line = next(line for line in text.splitlines() if secret in line)
            raise SecretLeakError(f"secret {secret[:6]}... leaked in: {line[:300]}")


def unique_secret(prefix: str) -> str:
    """A value no other test registered, so that a test sees only its own registration."""
    return f"{prefix}-{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------------------
# redact()


def test_xml_secret_access_key_and_session_token_are_masked() -> None:
    body = (
        "b'<AssumeRoleResponse>\\n  <Credentials>\\n"
        "    <AccessKeyId>ASIAXML0000000000001</AccessKeyId>\\n"
        "    <SecretAccessKey>xmlSecret/abc+def0123456789</SecretAccessKey>\\n"
        "    <SessionToken>xmlToken//////////abc+def=</SessionToken>\\n"
        "    <Expiration>2030-01-01T13:00:00Z</Expiration>\\n"
        "  </Credentials>\\n</AssumeRoleResponse>'"
    )

    assert redact(body) == (
        "b'<AssumeRoleResponse>\\n  <Credentials>\\n"
        "    <AccessKeyId>ASIAXML0000000000001</AccessKeyId>\\n"
        "    <SecretAccessKey>****</SecretAccessKey>\\n"
        "    <SessionToken>****</SessionToken>\\n"
        "    <Expiration>2030-01-01T13:00:00Z</Expiration>\\n"
        "  </Credentials>\\n</AssumeRoleResponse>'"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"AccessKeyId": "ASIAJSON000000000001", "SessionToken": "jsonTok//+abc=="}',
            '{"AccessKeyId": "ASIAJSON000000000001", "SessionToken": "****"}',
        ),
        (
            '{"SecretAccessKey":"jsonSecret/abc+def","Expiration":"2030-01-01T13:00:00Z"}',
            '{"SecretAccessKey":"****","Expiration":"2030-01-01T13:00:00Z"}',
        ),
        (
            "{'SecretAccessKey': 'reprSecret/abc', 'SessionToken': 'reprToken+abc'}",
            "{'SecretAccessKey': '****', 'SessionToken': '****'}",
        ),
        ('{"Token": "ecsToken/abc=", "RoleArn": "r"}', '{"Token": "****", "RoleArn": "r"}'),
        ("aws_secret_access_key = iniSecret/abc", "aws_secret_access_key = ****"),
        ("aws_session_token=iniToken+abc", "aws_session_token=****"),
        (  # botocore's AWSPreparedRequest repr, with a token rolehop never registered
            "headers={'X-Amz-Security-Token': b'hdrToken//abc+=', 'User-Agent': b'Boto3'}",
            "headers={'X-Amz-Security-Token': b'****', 'User-Agent': b'Boto3'}",
        ),
        ("{'x-amz-security-token': b'hdrToken//abc+='}", "{'x-amz-security-token': b'****'}"),
        ("x-amz-security-token:hdrToken//abc+=\nhost:x", "x-amz-security-token:****\nhost:x"),
        (
            "Credential=ASIAXX/20300101/us-east-1/sts/aws4_request, Signature=0123abcdef",
            "Credential=ASIAXX/20300101/us-east-1/sts/aws4_request, Signature=****",
        ),
    ],
)
def test_secret_shapes_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_text_without_secrets_is_unchanged() -> None:
    text = (
        "AssumeRole arn:aws:iam::111111111111:role/company-admin as "
        "arn:aws:sts::111111111111:assumed-role/x/rolehop-tester, AccessKeyId ASIAX, "
        "{'RoleArn': 'arn:aws:iam::1:role/r', 'RoleSessionName': 'rolehop-tester'}"
    )
    assert redact(text) == text


def test_registered_secrets_are_masked_anywhere() -> None:
    secret = unique_secret("registered/secret+value")
    register(secret)

    assert redact(f"boom: {secret}!") == "boom: ****!"
    assert redact(f"url?x={secret}&y=1 {secret}") == "url?x=****&y=1 ****"
    assert redact(repr(secret.encode())) == "b'****'"
    assert MASK == "****"


def test_registering_ignores_short_and_empty_values() -> None:
    register("short12", "", None)

    assert redact("a short12 b") == "a short12 b"


def test_longer_registered_secret_wins_over_its_prefix() -> None:
    secret = unique_secret("prefix-secret")
    register(secret[:20], secret)

    assert redact(f"[{secret}]") == "[****]"


def test_credentials_register_their_secrets() -> None:
    secret, token = unique_secret("credsecret"), unique_secret("credtoken")
    credentials = Credentials("ASIACRED000000000001", secret, token)

    assert redact(f"{secret} {token} {credentials.access_key_id}") == (
        "**** **** ASIACRED000000000001"
    )
    assert secret not in repr(credentials)
    assert token not in repr(credentials)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'b\'{"roleCredentials": {"accessKeyId": "ASIASSO", '
            '"secretAccessKey": "ssoSecret/abc+def"}}\'',
            'b\'{"roleCredentials": {"accessKeyId": "ASIASSO", "secretAccessKey": "****"}}\'',
        ),
        (
            "headers={'x-amz-sso_bearer_token': b'aoaBearer0123456789'}",
            "headers={'x-amz-sso_bearer_token': b'****'}",
        ),
    ],
    ids=["secretAccessKey", "sso-bearer-token"],
)
def test_sso_secret_shapes_are_masked(text: str, expected: str) -> None:
    """What botocore logs of an SSO base profile: GetRoleCredentials' body, the bearer."""
    assert redact(text) == expected


def test_redacting_formatter_masks_message_and_traceback() -> None:
    secret = unique_secret("formatter-secret")
    register(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("rolehop.tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"bad value {secret}")
        except ValueError:
            logger.exception("while handling %s", secret)
    finally:
        logger.removeHandler(handler)

    output = stream.getvalue()
    assert_no_secret(output, secret)
    lines = output.splitlines()
    assert lines[0] == "ERROR while handling ****"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: bad value ****"


# ---------------------------------------------------------------------------------------
# the CLI in process (stubbed STS)


def test_debug_credential_process_keeps_secrets_off_stderr(sts: StubSts) -> None:
    company = expect_company(sts)

    outcome = rolehop_main("--debug", "credential-process", "company")

    assert outcome.code == 0
    assert json.loads(outcome.stdout)["SecretAccessKey"] == company.credentials.secret_access_key
    assert "company: AssumeRole via https://sts.eu-west-1.amazonaws.com as " in outcome.stderr
    assert "botocore" in outcome.stderr
    assert_no_secret(
        outcome.stderr,
        company.credentials.secret_access_key,
        company.credentials.session_token,
        JOE_SECRET,
    )


@pytest.fixture
def broken_resolve(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Make the commands' ``resolve`` raise the exception the test appends."""
    raised: list[BaseException] = []

    def broken(ctx: Context, name: str, **options: object) -> None:
        raise raised[0]

    monkeypatch.setattr("rolehop.engine.targets.resolve", broken)
    return raised


def test_debug_traceback_of_an_internal_error_is_redacted(
    sts: StubSts, broken_resolve: list[BaseException]
) -> None:
    secret = unique_secret("traceback/secret")
    register(secret)
    broken_resolve.append(RuntimeError(f"boom with {secret} inside"))

    outcome = rolehop_main("--debug", "env", "company")

    assert (outcome.code, outcome.stdout) == (70, "")
    assert_no_secret(outcome.stderr, secret)
    lines = outcome.stderr.splitlines()
    start = lines.index("Traceback (most recent call last):")
    assert lines[start:][-2:] == [
        "RuntimeError: boom with **** inside",
        "rolehop: internal error: RuntimeError: boom with **** inside "
        "(run with --debug for the traceback)",
    ]


def test_debug_traceback_of_a_rolehop_error_is_redacted(
    sts: StubSts, broken_resolve: list[BaseException]
) -> None:
    secret = unique_secret("sts-error-secret")
    register(secret)
    broken_resolve.append(StsError(f"profile 'company': STS said {secret}"))

    outcome = rolehop_main("--debug", "credential-process", "company")

    assert (outcome.code, outcome.stdout) == (4, "")
    assert_no_secret(outcome.stderr, secret)
    lines = outcome.stderr.splitlines()
    assert "Traceback (most recent call last):" in lines
    assert lines[-2:] == [
        "rolehop.errors.StsError: profile 'company': STS said ****",
        "rolehop: error: profile 'company': STS said ****",
    ]


def test_error_line_without_debug_is_redacted(
    sts: StubSts, broken_resolve: list[BaseException]
) -> None:
    secret = unique_secret("plain-error-secret")
    register(secret)
    broken_resolve.append(StsError(f"leaky {secret}"))

    outcome = rolehop_main("env", "company")

    assert outcome == Outcome(4, "", "rolehop: error: leaky ****\n")


def test_warnings_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    secret = unique_secret("warning-secret")
    register(secret)

    AppState().warn(f"keyring said {secret}")

    assert capsys.readouterr().err == "rolehop: warning: keyring said ****\n"


# ---------------------------------------------------------------------------------------
# end to end: python -m rolehop --debug against STS over HTTP


@pytest.fixture
def sts_http() -> Iterator[StsHttpStub]:
    stub = StsHttpStub()
    yield stub
    stub.close()


def _temporary_joe(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials(
        f"""\
        [joe]
        aws_access_key_id = {JOE_TEMP_KEY_ID}
        aws_secret_access_key = {JOE_TEMP_SECRET}
        aws_session_token = {JOE_TEMP_TOKEN}
        """
    )
    sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )


def _issued_now() -> Issued:
    return issue(
        "company", COMPANY_ROLE, datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    )


def test_debug_run_over_http_never_prints_the_secrets(
    sandbox: Sandbox, sts_http: StsHttpStub, run_rolehop: RunRolehop
) -> None:
    _temporary_joe(sandbox)
    company = _issued_now()
    sts_http.answer(assume_role_xml(company))

    result = run_rolehop(
        "--debug", "credential-process", "company", env={"AWS_ENDPOINT_URL": sts_http.url}
    )

    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert document["SecretAccessKey"] == company.credentials.secret_access_key
    assert document["SessionToken"] == company.credentials.session_token
    [request] = sts_http.requests
    assert request.form["Action"] == "AssumeRole"
    assert request.headers["X-Amz-Security-Token"] == JOE_TEMP_TOKEN
    # botocore did log the body and the signed headers, with the secrets masked
    assert "Response body:" in result.stderr
    assert "<AccessKeyId>ASIACOMPANY000000000</AccessKeyId>" in result.stderr
    assert "<SecretAccessKey>****</SecretAccessKey>" in result.stderr
    assert "<SessionToken>****</SessionToken>" in result.stderr
    assert "'X-Amz-Security-Token': " in result.stderr  # botocore logged the signed headers
    assert_no_secret(
        result.stderr,
        company.credentials.secret_access_key,
        company.credentials.session_token,
        JOE_TEMP_SECRET,
        JOE_TEMP_TOKEN,
    )


def test_debug_error_over_http_redacts_the_traceback(
    sandbox: Sandbox, sts_http: StsHttpStub, run_rolehop: RunRolehop
) -> None:
    """STS echoes the caller's session token in its message: rolehop must not print it."""
    _temporary_joe(sandbox)
    sts_http.answer(
        sts_error_xml("ValidationError", f"bad token {JOE_TEMP_TOKEN} in request"),
        status=400,
    )

    result = run_rolehop(
        "--debug", "credential-process", "company", env={"AWS_ENDPOINT_URL": sts_http.url}
    )

    assert (result.returncode, result.stdout) == (4, "")
    lines = result.stderr.splitlines()
    assert "Traceback (most recent call last):" in lines
    message = (
        f"profile 'company': AssumeRole {COMPANY_ROLE} via {sts_http.url} failed: "
        "ValidationError: bad token **** in request"
    )
    assert lines[-2:] == [f"rolehop.errors.StsError: {message}", f"rolehop: error: {message}"]
    assert_no_secret(result.stderr, JOE_TEMP_TOKEN, JOE_TEMP_SECRET)


def test_debug_run_with_an_sso_base_profile_never_prints_its_secrets(
    sandbox: Sandbox, sts_http: StsHttpStub, run_rolehop: RunRolehop
) -> None:
    start_url = "https://example.awsapps.com/start"
    bearer = "ssoBearerAccessToken0000000000001"
    sso_secret = "ssoRoleSecretAccessKey/0000000000000001"
    sso_token = "ssoRoleSessionToken//////0001"
    sandbox.write_aws_config(
        f"""\
        [profile joe]
        sso_start_url = {start_url}
        sso_region = us-east-1
        sso_account_id = 111111111111
        sso_role_name = Developer
        """
    )
    token_cache = sandbox.home / ".aws" / "sso" / "cache"
    token_cache.mkdir(parents=True)
    name = hashlib.sha1(start_url.encode(), usedforsecurity=False).hexdigest()
    (token_cache / f"{name}.json").write_text(
        json.dumps(
            {
                "startUrl": start_url,
                "region": "us-east-1",
                "accessToken": bearer,
                "expiresAt": "2099-01-01T00:00:00Z",
            }
        )
    )
    sandbox.write_rolehop(
        f"""\
        [profiles.company]
        role_arn = "{COMPANY_ROLE}"
        source_profile = "joe"
        """
    )
    expires_ms = int((datetime.now(UTC) + timedelta(hours=1)).timestamp() * 1000)
    sts_http.answer(
        json.dumps(
            {
                "roleCredentials": {
                    "accessKeyId": "ASIASSO0000000000001",
                    "secretAccessKey": sso_secret,
                    "sessionToken": sso_token,
                    "expiration": expires_ms,
                }
            }
        ),
        content_type="application/json",
    )
    company = _issued_now()
    sts_http.answer(assume_role_xml(company))

    result = run_rolehop(
        "--debug", "credential-process", "company", env={"AWS_ENDPOINT_URL": sts_http.url}
    )

    # the run itself works: SSO credentials, then AssumeRole signed with them
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["AccessKeyId"] == company.credentials.access_key_id
    assert [(request.method, request.path.split("?")[0]) for request in sts_http.requests] == [
        ("GET", "/federation/credentials"),
        ("POST", "/"),
    ]
    assert sts_http.requests[0].headers["x-amz-sso_bearer_token"] == bearer
    assert sts_http.requests[1].headers["X-Amz-Security-Token"] == sso_token
    assert_no_secret(
        result.stderr,
        company.credentials.secret_access_key,
        company.credentials.session_token,
        sso_token,
        sso_secret,
        bearer,
    )


@pytest.mark.parametrize(
    "prose",
    [
        "Error loading SSO Token: Token for https://example.awsapps.com/start does not exist",
        "The security token included in the request is invalid.",
        "password: required",
    ],
)
def test_prose_about_tokens_is_left_alone(prose: str) -> None:
    assert redact(prose) == prose
