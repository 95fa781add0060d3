"""A web identity base: a profile with role_arn and web_identity_token_file (or
web_identity_token_process), started with AssumeRoleWithWebIdentity as the AWS CLI does.

STS is real boto3 clients with botocore's ``Stubber`` (``StubSts``): every call is checked
parameter by parameter, and ``calls`` shows which client was unsigned (``ANONYMOUS``).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from rolehop.aws.sts import ANONYMOUS
from rolehop.common.redact import redact
from rolehop.config import files as configs
from rolehop.engine import chain as chains
from rolehop.engine.resolve import resolve
from rolehop.errors import AccessDeniedError, ConfigError, SourceCredentialsError
from tests.conftest import Sandbox
from tests.support.cli import StubbedState, rolehop_main
from tests.support.stubs import COMPANY_ROLE, NOW, Issued, StubWorld, issue, params

pytestmark = pytest.mark.usefixtures("restore_logging", "token_file")

CI_ROLE = "arn:aws:iam::444444444444:role/ci"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm9yZy9yZXBvIn0.c2lnbmF0dXJlMDAwMQ"


def aws_config(token_line: str, extra: str = "", app_extra: str = "") -> str:
    return f"""\
        [profile webid]
        role_arn = {CI_ROLE}
        {token_line}
        role_session_name = gh-actions
        region = eu-west-1
        {extra}

        [profile app]
        role_arn = {COMPANY_ROLE}
        source_profile = webid
        {app_extra}
        """


@pytest.fixture
def token_file(sandbox: Sandbox) -> Path:
    """The token, and the AWS config whose web identity base ``webid`` reads it (every
    test's: the tests of ``world``, the shared fixture, resolve with them)."""
    path = sandbox.root / "oidc" / "token"
    path.parent.mkdir()
    path.write_text(TOKEN)
    sandbox.write_aws_config(aws_config(f"web_identity_token_file = {path}"))
    return path


def expect_web_identity(
    world: StubWorld, tag: str = "webid", hours: int = 2, **extra: Any
) -> Issued:
    issued = issue(tag, CI_ROLE, NOW + timedelta(hours=hours), session="gh-actions")
    expected = {**params(CI_ROLE, "gh-actions"), "WebIdentityToken": TOKEN, **extra}
    world.sts.expect(
        lambda stubber: stubber.add_response(
            "assume_role_with_web_identity", issued.response, expected
        )
    )
    return issued


def expect_app(world: StubWorld, tag: str = "app", **extra: Any) -> Issued:
    issued = issue(tag, COMPANY_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE, **extra), issued.response)
    return issued


# ---------------------------------------------------------------------------------------
# resolving


def test_a_role_on_a_web_identity_base_trades_the_token_then_assumes_the_role(
    world: StubWorld,
) -> None:
    web = expect_web_identity(world)
    app = expect_app(world)

    resolution = resolve(world.context(), "app")

    world.sts.verify()
    assert resolution.credentials == app.credentials
    assert resolution.chain.names == ("webid", "app")
    # the web identity call is unsigned, in the profile's region; the role is assumed with
    # what it returned
    assert world.sts.calls[0] == (ANONYMOUS, "eu-west-1")
    assert world.sts.calls[1][0] == web.credentials
    assert world.warnings == []


def test_the_web_identity_credentials_are_cached_like_any_hop(
    world: StubWorld, token_file: Path
) -> None:
    expect_web_identity(world, hours=2)
    expect_app(world, "first")
    app = world.context()
    resolve(app, "app")

    world.clock.now = NOW + timedelta(minutes=45)  # the role is due, the token's role not
    second = expect_app(world, "second")
    token_file.write_text("a-rotated-token-that-no-one-reads-this-time")
    resolution = resolve(world.context(), "app")

    world.sts.verify()
    assert resolution.credentials == second.credentials
    assert len(world.sts.calls) == 3  # no second AssumeRoleWithWebIdentity


def test_the_first_role_after_a_web_identity_base_is_role_chaining(
    world: StubWorld, sandbox: Sandbox, token_file: Path
) -> None:
    sandbox.write_aws_config(
        aws_config(f"web_identity_token_file = {token_file}", app_extra="duration_seconds = 7200")
    )
    expect_web_identity(world)
    expect_app(world, DurationSeconds=3600)

    resolve(world.context(), "app")

    world.sts.verify()
    assert world.warnings == [
        "profile 'app': duration_seconds 7200 lowered to 3600: AWS caps a role assumed with "
        "another role's credentials at 1 hour"
    ]


def test_duration_seconds_of_the_web_identity_profile_is_sent(
    world: StubWorld, sandbox: Sandbox, token_file: Path
) -> None:
    sandbox.write_aws_config(
        aws_config(f"web_identity_token_file = {token_file}", "duration_seconds = 900")
    )
    expect_web_identity(world, DurationSeconds=900)
    expect_app(world)

    resolve(world.context(), "app")

    world.sts.verify()


def test_the_environment_form_does_not_change_a_profile(
    world: StubWorld, token_file: Path, tmp_path: Path
) -> None:
    """AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are botocore's default chain (no profile
    named); a named source profile ignores them, in botocore as here."""
    other = tmp_path / "other-token"
    other.write_text("other-token-0000000000000000")
    expect_web_identity(world)
    expect_app(world)
    environ = {
        **world.context().environ,
        "AWS_ROLE_ARN": "arn:aws:iam::999999999999:role/other",
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(other),
        "AWS_ROLE_SESSION_NAME": "other",
    }

    resolve(world.context(environ), "app")

    world.sts.verify()


def test_the_token_from_web_identity_token_process(world: StubWorld, sandbox: Sandbox) -> None:
    """Split into argv literally (as mfa_process), never run by a shell."""
    program = f"import sys; assert sys.argv[1:] == ['a b', '$HOME'], sys.argv; print({TOKEN!r})"
    command = shlex.join([sys.executable, "-c", program]) + " 'a b' '$HOME'"
    sandbox.write_aws_config(aws_config(f"web_identity_token_process = {command}"))
    expect_web_identity(world)
    expect_app(world)

    resolve(world.context(), "app")

    world.sts.verify()


@pytest.mark.parametrize(
    ("token_line", "problem"),
    [
        ("web_identity_token_file = {missing}", "web_identity_token_file {missing}: cannot read: "),
        ("web_identity_token_file = {empty}", "the web identity token in {empty} is empty"),
        (
            "web_identity_token_process = {python} -c raise(SystemExit(3))",
            "web_identity_token_process '{python} -c raise(SystemExit(3))': failed with exit "
            "status 3",
        ),
        (
            "web_identity_token_process = /nonexistent/token-program",
            "web_identity_token_process '/nonexistent/token-program': command not found",
        ),
    ],
    ids=["missing file", "empty file", "failing process", "no such program"],
)
def test_no_token_is_one_clear_error_and_no_sts_call(
    world: StubWorld, sandbox: Sandbox, tmp_path: Path, token_line: str, problem: str
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    names = {"missing": tmp_path / "missing", "empty": empty, "python": sys.executable}
    sandbox.write_aws_config(aws_config(token_line.format(**names)))

    with pytest.raises(SourceCredentialsError) as raised:
        resolve(world.context(), "app")

    assert str(raised.value).startswith(
        f"profile 'app': source profile 'webid' ({sandbox.aws_config}:1): "
        + problem.format(**names)
    )
    assert world.sts.calls == []


@pytest.mark.parametrize(
    ("code", "kind", "says"),
    [
        ("InvalidIdentityToken", SourceCredentialsError, "STS did not accept the web identity"),
        ("ExpiredTokenException", SourceCredentialsError, "STS did not accept the web identity"),
        ("AccessDenied", AccessDeniedError, "the role's trust policy must trust the token"),
    ],
)
def test_sts_refusing_the_token_is_one_clear_error_without_the_token(
    world: StubWorld, token_file: Path, code: str, kind: type[Exception], says: str
) -> None:
    def refuse(stubber: Stubber) -> None:
        stubber.add_client_error("assume_role_with_web_identity", code, f"{code} ({TOKEN})", 400)

    world.sts.expect(refuse)

    with pytest.raises(kind) as raised:
        resolve(world.context(), "app")

    message = str(raised.value)
    assert message.startswith("profile 'app' (hop 'webid'): ")
    assert says in message and f"token in {token_file}" in message
    assert TOKEN not in redact(message)


# ---------------------------------------------------------------------------------------
# the cache key


def _base_key(sandbox: Sandbox, text: str, environ: dict[str, str] | None = None) -> str:
    sandbox.write_aws_config(text)
    env = {**os.environ, "USER": "tester", **(environ or {})}
    return chains.build(configs.load(env), "app", env).base.key


def test_what_changes_the_web_identity_key_and_what_does_not(
    sandbox: Sandbox, token_file: Path, tmp_path: Path
) -> None:
    line = f"web_identity_token_file = {token_file}"
    key = _base_key(sandbox, aws_config(line))
    token_file.write_text("rotated-token-0000000000000000")
    assert _base_key(sandbox, aws_config(line)) == key  # the token: a secret, rotated
    changed = {
        "role": aws_config(line).replace(CI_ROLE, "arn:aws:iam::444444444444:role/other"),
        "session name": aws_config(line).replace("gh-actions", "another"),
        "duration": aws_config(line, "duration_seconds = 900"),
        "token path": aws_config(f"web_identity_token_file = {tmp_path / 'elsewhere'}"),
        "token process": aws_config("web_identity_token_process = print-token"),
    }
    keys = {what: _base_key(sandbox, text) for what, text in changed.items()}
    keys["endpoint"] = _base_key(sandbox, aws_config(line), {"AWS_ENDPOINT_URL": "http://x:1"})
    keys["default session name"] = _base_key(
        sandbox, aws_config(line).replace("role_session_name = gh-actions", ""), {"USER": "x"}
    )
    assert len({key, *keys.values()}) == len(keys) + 1, keys
    assert TOKEN not in json.dumps(keys)


# ---------------------------------------------------------------------------------------
# configuration


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            "[profile webid]\nweb_identity_token_file = /t\n",
            "web_identity_token_file",
            "role_arn is required beside a web identity token",
        ),
        (
            f"[profile webid]\nrole_arn = {CI_ROLE}\nweb_identity_token_file = /t\n"
            "web_identity_token_process = p\n",
            "web_identity_token_process",
            "set either web_identity_token_file or web_identity_token_process, not both",
        ),
        (
            "[profile webid]\nrole_arn = nope\nweb_identity_token_file = /t\n",
            "role_arn",
            "'nope' is not an IAM role ARN",
        ),
        (
            f"[profile webid]\nrole_arn = {CI_ROLE}\nweb_identity_token_file = /t\n"
            "duration_seconds = 60\n",
            "duration_seconds",
            "60 is outside 900-43200 seconds",
        ),
    ],
    ids=["no role_arn", "file and process", "bad role_arn", "bad duration"],
)
def test_a_broken_web_identity_profile_is_an_error_where_it_is_used(
    sandbox: Sandbox, text: str, key: str, problem: str
) -> None:
    sandbox.write_aws_config(
        f"{text}\n[profile app]\nrole_arn = {COMPANY_ROLE}\nsource_profile = webid\n"
    )
    config = configs.load(os.environ)

    with pytest.raises(ConfigError) as raised:
        chains.build(config, "app", {})

    assert raised.value.key == key and raised.value.profile == "webid"
    assert problem in str(raised.value)
    assert "app" in config.profiles  # the rest of the file is usable


def test_a_web_identity_profile_is_a_base_not_a_role(world: StubWorld) -> None:
    config = world.context().config

    assert "webid" not in config.profiles and "webid" not in config.broken
    web = config.aws_bases["webid"].web_identity
    assert web is not None and web.role_arn == CI_ROLE and web.role_session_name == "gh-actions"


# ---------------------------------------------------------------------------------------
# list and doctor


def test_list_describes_the_web_identity_base(
    world: StubWorld, state: StubbedState, token_file: Path
) -> None:
    outcome = rolehop_main("list", "--json")

    assert outcome.code == 0 and outcome.stderr == ""
    rows = {row["name"]: row for row in json.loads(outcome.stdout)["profiles"]}
    assert rows["app"]["chain"] == ["webid", "app"]
    assert rows["app"]["credentials"] == f"web identity token in {token_file}"
    assert rows["app"]["error"] is None


def test_doctor_describes_the_web_identity_base(
    world: StubWorld, state: StubbedState, token_file: Path
) -> None:
    outcome = rolehop_main("doctor", "--json")

    checks = json.loads(outcome.stdout)["checks"]
    assert {
        "topic": "profiles",
        "verdict": "ok",
        "summary": f"profile 'webid': web identity token in {token_file} "
        f"(AssumeRoleWithWebIdentity {CI_ROLE})",
        "fix": None,
    } in checks
    assert [c for c in checks if c["topic"] == "profiles" and c["verdict"] != "ok"] == []


def test_doctor_warns_of_a_token_file_that_is_not_there(
    world: StubWorld, state: StubbedState, sandbox: Sandbox, tmp_path: Path
) -> None:
    missing = tmp_path / "missing-token"
    sandbox.write_aws_config(aws_config(f"web_identity_token_file = {missing}"))

    outcome = rolehop_main("doctor", "--json")

    checks = json.loads(outcome.stdout)["checks"]
    [warned] = [c for c in checks if c["topic"] == "profiles" and c["verdict"] == "warn"]
    assert warned["summary"] == (
        f"profile 'webid' ({sandbox.aws_config}:1): web_identity_token_file {missing}: "
        "cannot read: No such file or directory"
    )


def test_the_web_identity_base_itself_is_handed_out_with_the_full_margin(
    world: StubWorld,
) -> None:
    first = expect_web_identity(world, hours=1)
    resolution = resolve(world.context(), "webid")
    assert (resolution.credentials, resolution.region) == (first.credentials, "eu-west-1")
    assert resolution.profile.role_arn == CI_ROLE

    world.clock.now = NOW + timedelta(minutes=45)  # enough for a chain, not for an SDK
    second = expect_web_identity(world, "second", hours=2)
    expect_app(world)
    renewed = resolve(world.context(), "webid")
    resolve(world.context(), "app")  # from the renewed ones, no third token trade

    world.sts.verify()
    assert renewed.credentials == second.credentials
    assert world.sts.calls[-1][0] == second.credentials
