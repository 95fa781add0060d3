"""The Python API: ``rolehop.session()`` and ``rolehop.credentials()`` (rolehop/api.py).

A stubbed STS behind an injected context (the ``world`` fixture) with a fake clock;
botocore's refresh reads the same clock, so moving it walks a session through botocore's
refresh windows (advisory: less than 15 minutes left; mandatory: less than 10) and rolehop's
cache margin (20 minutes).
Every AssumeRole must be queued: one that is not fails the test.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.credentials import ReadOnlyCredentials, RefreshableCredentials
from mypy_boto3_sts import STSClient

import rolehop
from rolehop import api
from rolehop.common.creds import Credentials
from rolehop.engine.context import Context
from rolehop.errors import AccessDeniedError, ProfileNotFoundError, RolehopError
from tests.conftest import REPO
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_CREDENTIALS,
    JOE_KEY_ID,
    JOE_SECRET,
    LEGACY_ROLE,
    NOW,
    RESEARCH_ROLE,
    StubWorld,
    issue,
    params,
)

HOUR = timedelta(hours=1)
ADVISORY = timedelta(minutes=15)  # botocore refreshes below this, without blocking others
MANDATORY = timedelta(minutes=10)  # ... and below this every caller waits for the refresh
SECOND = timedelta(seconds=1)

CONFIG = f"""\
    [profiles.research]
    role_arn = "{RESEARCH_ROLE}"
    source_profile = "joe"
    region = "eu-west-1"

    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"

    [profiles.legacy]
    role_arn = "{LEGACY_ROLE}"
    source_profile = "research"
    """


@dataclass
class World(StubWorld):
    def app(self, environ: Mapping[str, str] | None = None) -> Context:
        # os.environ itself, as rolehop.session's: a copy made while another thread
        # resolves would keep the core's ROLEHOP_RESOLVING mark (a loop, for it)
        return self.context(os.environ if environ is None else environ)

    def expect(self, tag: str, expiration: datetime, role: str = RESEARCH_ROLE) -> Credentials:
        """Queue one AssumeRole of ``role`` answering credentials that end at ``expiration``."""
        issued = issue(tag, role, expiration)
        self.sts.expect_assume_role(params(role), issued.response)
        return issued.credentials

    @property
    def assume_role_calls(self) -> int:
        return len(self.sts.calls)  # one STS client per AssumeRole


pytestmark = pytest.mark.world(kind=World, aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG)


def frozen(credentials: Credentials) -> ReadOnlyCredentials:
    account = credentials.arn.split(":")[4] if credentials.arn else None
    return ReadOnlyCredentials(
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token,
        account,
    )


def refreshable(session: boto3.Session) -> RefreshableCredentials:
    found = session.get_credentials()
    assert isinstance(found, RefreshableCredentials)
    return found


IDENTITY_XML = b"""\
<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::222222222222:assumed-role/research-ro/rolehop-tester</Arn>
    <UserId>AROARESEARCH:rolehop-tester</UserId>
    <Account>222222222222</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>
"""


class _Body:
    def stream(self) -> Iterator[bytes]:
        yield IDENTITY_XML


def answered_here(client: STSClient) -> list[str]:
    """Answer ``client``'s GetCallerIdentity calls here, never sending them; the list fills
    with the access key id that signed each request."""
    keys: list[str] = []

    def answer(request: AWSPreparedRequest, **_: object) -> AWSResponse:
        authorization = request.headers["Authorization"]
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        found = re.search(r"Credential=([^/]+)/", authorization)
        assert found is not None
        keys.append(found.group(1))
        return AWSResponse(request.url, 200, HTTPHeaders(), _Body())

    # a before-send handler's response is used instead of sending (the stubs say None)
    client.meta.events.register("before-send.sts.GetCallerIdentity", answer)  # type: ignore[arg-type]
    return keys


# ---------------------------------------------------------------------------------------
# session(): refreshed by rolehop, exactly when botocore's windows say


def test_session_credentials_are_rolehops_and_refreshable(world: World) -> None:
    first = world.expect("first", NOW + HOUR)

    session = api.session("research", ctx=world.app())

    credentials = refreshable(session)
    assert credentials.method == "rolehop"
    assert credentials.get_frozen_credentials() == frozen(first)
    assert credentials.get_frozen_credentials().account_id == "222222222222"
    # its clients sign with them
    client = session.client("sts")
    signed = answered_here(client)
    assert client.get_caller_identity()["Account"] == "222222222222"
    assert signed == [first.access_key_id]
    assert world.assume_role_calls == 1
    world.sts.verify()


def test_a_refresh_happens_when_botocore_asks_and_not_before(world: World) -> None:
    first = world.expect("first", NOW + HOUR)
    credentials = refreshable(api.session("research", ctx=world.app()))

    # past rolehop's 20-minute margin, but botocore does not ask until 15 minutes remain
    world.clock.now = NOW + HOUR - ADVISORY
    assert credentials.get_frozen_credentials() == frozen(first)
    assert world.assume_role_calls == 1

    second = world.expect("second", NOW + 2 * HOUR)
    world.clock.now = NOW + HOUR - ADVISORY + SECOND
    assert credentials.get_frozen_credentials() == frozen(second)
    assert world.assume_role_calls == 2

    # the new credentials hold until their own advisory window
    world.clock.now = NOW + 2 * HOUR - ADVISORY
    assert credentials.get_frozen_credentials() == frozen(second)
    assert world.assume_role_calls == 2
    world.sts.verify()


def test_a_refresh_before_the_margin_is_served_from_the_cache(world: World) -> None:
    first = world.expect("first", NOW + HOUR)
    api.session("research", ctx=world.app())

    world.clock.now = NOW + timedelta(minutes=30)
    metadata = api.refresher("research", world.app())()

    assert world.assume_role_calls == 1
    assert metadata == {
        "access_key": first.access_key_id,
        "secret_key": first.secret_access_key,
        "token": first.session_token,
        "expiry_time": "2030-01-01T13:00:00+00:00",
        "account_id": "222222222222",
    }
    assert datetime.fromisoformat(str(metadata["expiry_time"])) == first.expiration


def test_a_new_session_uses_the_cache(world: World) -> None:
    first = world.expect("first", NOW + HOUR)
    api.session("research", ctx=world.app())

    again = api.session("research", ctx=world.app())

    assert refreshable(again).get_frozen_credentials() == frozen(first)
    assert world.assume_role_calls == 1


# ---------------------------------------------------------------------------------------
# credentials(): frozen


def test_credentials_are_botocores_frozen_credentials(world: World) -> None:
    first = world.expect("first", NOW + HOUR)

    got = api.credentials("research", ctx=world.app())

    assert isinstance(got, ReadOnlyCredentials)
    assert got == frozen(first)
    assert (got.access_key, got.secret_key, got.token) == (
        first.access_key_id,
        first.secret_access_key,
        first.session_token,
    )
    # the same as a session's frozen credentials, from the cache
    session = api.session("research", ctx=world.app())
    assert refreshable(session).get_frozen_credentials() == got
    assert world.assume_role_calls == 1


def test_credentials_do_not_refresh(world: World) -> None:
    first = world.expect("first", NOW + HOUR)
    got = api.credentials("research", ctx=world.app())

    world.clock.now = NOW + HOUR + SECOND

    assert got == frozen(first)
    assert world.assume_role_calls == 1


# ---------------------------------------------------------------------------------------
# errors: rolehop's own classes, unwrapped


def deny(world: World) -> None:
    world.sts.expect(
        lambda stubber: stubber.add_client_error(
            "assume_role", service_error_code="AccessDenied", http_status_code=403
        )
    )


def test_errors_are_raised_by_session_itself(world: World) -> None:
    deny(world)

    with pytest.raises(AccessDeniedError, match="profile 'research'"):
        api.session("research", ctx=world.app())
    with pytest.raises(ProfileNotFoundError):
        api.session("nope", ctx=world.app())


def test_errors_are_raised_by_credentials(world: World) -> None:
    deny(world)

    with pytest.raises(AccessDeniedError):
        api.credentials("research", ctx=world.app())


def test_a_failed_mandatory_refresh_raises_rolehops_error(world: World) -> None:
    world.expect("first", NOW + HOUR)
    credentials = refreshable(api.session("research", ctx=world.app()))
    deny(world)
    world.clock.now = NOW + HOUR - MANDATORY + SECOND

    with pytest.raises(AccessDeniedError) as caught:
        credentials.get_frozen_credentials()

    assert isinstance(caught.value, RolehopError)
    world.sts.verify()


def test_a_client_call_raises_the_failed_refresh_as_is(world: World) -> None:
    world.expect("first", NOW + HOUR)
    client = api.session("research", ctx=world.app()).client("sts")
    signed = answered_here(client)
    deny(world)
    world.clock.now = NOW + HOUR - MANDATORY + SECOND

    with pytest.raises(AccessDeniedError, match="profile 'research'"):
        client.get_caller_identity()

    assert signed == []  # never sent
    world.sts.verify()


def test_a_failed_advisory_refresh_keeps_the_credentials(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    first = world.expect("first", NOW + HOUR)
    credentials = refreshable(api.session("research", ctx=world.app()))
    deny(world)
    world.clock.now = NOW + HOUR - ADVISORY + SECOND

    with caplog.at_level(logging.WARNING, logger="botocore.credentials"):
        assert credentials.get_frozen_credentials() == frozen(first)

    assert "advisory refresh period" in caplog.text
    world.sts.verify()


def test_public_functions_use_the_environments_configuration(world: World) -> None:
    # no STS is reached: the profile is unknown to the sandbox's configuration
    with pytest.raises(ProfileNotFoundError):
        rolehop.session("nope")
    with pytest.raises(ProfileNotFoundError):
        rolehop.credentials("nope")


def test_warnings_go_to_the_rolehop_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rolehop.api"):
        api.default_context().warn("profile 'x': duration_seconds lowered")

    assert [(record.name, record.getMessage()) for record in caplog.records] == [
        ("rolehop.api", "profile 'x': duration_seconds lowered")
    ]


# ---------------------------------------------------------------------------------------
# threads


THREADS = 16


def test_threads_sharing_a_session_refresh_it_once(world: World) -> None:
    world.expect("first", NOW + HOUR)
    session = api.session("research", ctx=world.app())
    second = world.expect("second", NOW + 2 * HOUR)
    world.clock.now = NOW + HOUR - MANDATORY + SECOND  # every thread must wait for it
    start = threading.Barrier(THREADS)

    def use(_: int) -> ReadOnlyCredentials:
        start.wait()
        return refreshable(session).get_frozen_credentials()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(use, range(THREADS)))

    assert results == [frozen(second)] * THREADS
    assert world.assume_role_calls == 2
    world.sts.verify()


def test_threads_sharing_a_client_refresh_it_once(world: World) -> None:
    world.expect("first", NOW + HOUR)
    client = api.session("research", ctx=world.app()).client("sts")
    signed = answered_here(client)
    second = world.expect("second", NOW + 2 * HOUR)
    world.clock.now = NOW + HOUR - MANDATORY + SECOND  # every thread must wait for it
    start = threading.Barrier(THREADS)

    def call(_: int) -> None:
        start.wait()
        for _ in range(3):
            client.get_caller_identity()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(call, range(THREADS)))

    assert signed == [second.access_key_id] * 3 * THREADS
    assert world.assume_role_calls == 2
    world.sts.verify()


def test_threads_opening_their_own_sessions_assume_the_role_once(world: World) -> None:
    first = world.expect("first", NOW + HOUR)
    start = threading.Barrier(THREADS)

    def open_one(_: int) -> ReadOnlyCredentials:
        start.wait()
        return refreshable(api.session("research", ctx=world.app())).get_frozen_credentials()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(open_one, range(THREADS)))

    assert results == [frozen(first)] * THREADS
    assert world.assume_role_calls == 1
    world.sts.verify()


SLOW_JOE = f"""\
import json, time
time.sleep(0.4)
keys = {{"AccessKeyId": "{JOE_KEY_ID}", "SecretAccessKey": "{JOE_SECRET}"}}
print(json.dumps({{"Version": 1, **keys}}))
"""


def test_threads_on_chains_through_one_another_share_the_hops(world: World) -> None:
    # legacy is assumed with research's credentials. Joe's keys come from a slow
    # credential_process, run while the core marks the chain (research) in os.environ: the
    # legacy threads, started meanwhile, must not take that mark for a loop of their own
    script = world.sandbox.root / "joe_keys.py"
    script.write_text(SLOW_JOE)
    world.sandbox.write_aws_credentials("")
    world.sandbox.write_aws_config(
        f"[profile joe]\ncredential_process = {sys.executable} {script}\n"
    )
    research = world.expect("research", NOW + HOUR)
    legacy = world.expect("legacy", NOW + HOUR, LEGACY_ROLE)
    half = THREADS // 2

    with ThreadPoolExecutor(THREADS) as pool:
        first = [pool.submit(api.credentials, "research", ctx=world.app()) for _ in range(half)]
        time.sleep(0.2)  # the first research thread is inside joe's credential_process
        then = [pool.submit(api.credentials, "legacy", ctx=world.app()) for _ in range(half)]
        results = [future.result() for future in first + then]

    assert results == [frozen(research)] * half + [frozen(legacy)] * half
    assert world.assume_role_calls == 2
    world.sts.verify()


# ---------------------------------------------------------------------------------------
# region


def test_region_argument_wins(world: World) -> None:
    world.expect("first", NOW + HOUR)

    assert api.session("research", region="ap-south-1", ctx=world.app()).region_name == (
        "ap-south-1"
    )


def test_region_of_the_profile(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    world.expect("first", NOW + HOUR)

    assert api.session("research", ctx=world.app()).region_name == "eu-west-1"


def test_default_region_setting(world: World) -> None:
    world.sandbox.write_rolehop('[settings]\ndefault_region = "sa-east-1"\n' + CONFIG)
    world.expect("company", NOW + HOUR, COMPANY_ROLE)

    assert api.session("company", ctx=world.app()).region_name == "sa-east-1"


@pytest.mark.parametrize(
    ("environ", "config", "region"),
    [
        ({}, "", None),
        ({"AWS_DEFAULT_REGION": "ca-central-1"}, "", "ca-central-1"),
        ({}, "[default]\nregion = eu-north-1\n", "eu-north-1"),
    ],
)
def test_without_a_region_boto3_decides(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    config: str,
    region: str | None,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    world.sandbox.write_aws_config(config)
    world.expect("company", NOW + HOUR, COMPANY_ROLE)

    assert api.session("company", ctx=world.app()).region_name == region


# ---------------------------------------------------------------------------------------
# `import rolehop` stays light: every `rolehop` run imports it


def test_import_rolehop_loads_nothing_else() -> None:
    probe = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import rolehop\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert json.loads(done.stdout) == ["rolehop"]


def test_public_names() -> None:
    assert rolehop.__all__ == ["__version__", "credentials", "session"]
    assert callable(rolehop.session) and callable(rolehop.credentials)
    assert rolehop.session.__doc__ and rolehop.credentials.__doc__
