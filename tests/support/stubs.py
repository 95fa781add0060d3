"""A stubbed STS for tests: shared constants, AssumeRole answers, and two kinds of stub.

:class:`StubSts` hands real boto3 STS clients with botocore's ``Stubber`` to an in-process
:func:`rolehop.engine.context.build` (its ``sts``). :class:`StsHttpStub` is an HTTP server
for ``python -m rolehop`` subprocesses, reached through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import boto3.session
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.stub import Stubber
from mypy_boto3_sts import STSClient

if TYPE_CHECKING:
    from tests.conftest import Sandbox

from rolehop.aws.sts import ANONYMOUS
from rolehop.common.creds import Credentials
from rolehop.engine import context
from rolehop.engine.context import Context
from rolehop.stores.cache import SERVICE, KeyringCache
from rolehop.stores.keys import KeyStore
from rolehop.stores.memory_keyring import MemoryKeyring

# ---------------------------------------------------------------------------------------
# the world the stubs answer for: a fixed clock, the base user joe and three roles

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)  # what FakeClock says unless told otherwise

JOE_KEY_ID = "AKIAJOE0000000000001"
JOE_SECRET = "joeSecretAccessKey/0000000000000000000001"
JOE_ARN = "arn:aws:iam::111111111111:user/joe"

COMPANY_ROLE = "arn:aws:iam::111111111111:role/company-admin"
RESEARCH_ROLE = "arn:aws:iam::222222222222:role/research-ro"
LEGACY_ROLE = "arn:aws:iam::333333333333:role/legacy"

# ~/.aws/credentials with joe's long-term keys (JOE_KEY_ID, JOE_SECRET), for write_aws_credentials
JOE_CREDENTIALS = """\
    [joe]
    aws_access_key_id = AKIAJOE0000000000001
    aws_secret_access_key = joeSecretAccessKey/0000000000000000000001
    """

# rolehop.toml: joe -> company -> research, each asking for 2 hours (AWS caps research's at
# 1: it is assumed with company's credentials)
CHAIN_CONFIG = f"""\
    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"
    duration_seconds = 7200

    [profiles.research]
    role_arn = "{RESEARCH_ROLE}"
    source_profile = "company"
    duration_seconds = 7200
    """


@dataclass
class FakeClock:
    """A clock for ``context.build(clock=...)`` that says ``now`` until a test moves it."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


# ---------------------------------------------------------------------------------------
# the stubbed STS

Plan = Callable[[Stubber], None]  # queues the responses (and errors) of one STS client

_sessions: list[boto3.session.Session] = []


def shared_session() -> boto3.session.Session:
    """One boto3 session for the whole run: service models load once.

    It ignores ``AWS_PROFILE``/``AWS_DEFAULT_PROFILE``, so that a test that sets them (for
    ``exec``, say) cannot break the stub itself.
    """
    if not _sessions:
        unscoped = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        _sessions.append(boto3.session.Session(botocore_session=unscoped))
    return _sessions[0]


@dataclass
class StubSts:
    """An ``StsClientFactory``: real STS clients, each with a Stubber fed by the next plan.

    ``calls`` records the (credentials, region) of every client asked for. A client asked
    for when no plan is queued gets an empty Stubber, so any call on it raises.
    """

    plans: deque[Plan] = field(default_factory=deque)
    calls: list[tuple[Credentials, str | None]] = field(default_factory=list)
    stubbers: list[Stubber] = field(default_factory=list)

    def expect(self, plan: Plan) -> None:
        self.plans.append(plan)

    def expect_assume_role(self, params: dict[str, Any], response: dict[str, Any]) -> None:
        self.expect(lambda stubber: stubber.add_response("assume_role", response, params))

    def __call__(self, credentials: Credentials, region: str | None) -> STSClient:
        self.calls.append((credentials, region))
        if credentials is ANONYMOUS:  # as rolehop's own factory: a client that signs nothing
            client = shared_session().client(
                "sts", region_name=region or "us-east-1", config=Config(signature_version=UNSIGNED)
            )
        else:
            client = shared_session().client(
                "sts",
                region_name=region or "us-east-1",
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )
        stubber = Stubber(client)
        if self.plans:
            self.plans.popleft()(stubber)
        stubber.activate()
        self.stubbers.append(stubber)
        return client

    def verify(self) -> None:
        """Every queued plan was used and every queued response consumed."""
        assert not self.plans, f"{len(self.plans)} STS client(s) expected but never asked for"
        for stubber in self.stubbers:
            stubber.assert_no_pending_responses()


@dataclass
class Issued:
    """One AssumeRole answer: the response to stub and the Credentials rolehop must make."""

    response: dict[str, Any]
    credentials: Credentials


def issue(tag: str, role_arn: str, expiration: datetime, session: str = "rolehop-tester") -> Issued:
    """The AssumeRole answer for ``role_arn``, with keys and token derived from ``tag``."""
    account, role = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
    arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
    key_id = f"ASIA{tag.upper():0<16}"[:20]
    secret = f"{tag}-secret-access-key-0123456789abcdef"
    token = f"{tag}-session-token-FwoGZXIvYXdzEJr//////////wEaDA=="
    return Issued(
        response={
            "Credentials": {
                "AccessKeyId": key_id,
                "SecretAccessKey": secret,
                "SessionToken": token,
                "Expiration": expiration,
            },
            "AssumedRoleUser": {"AssumedRoleId": f"AROA{tag.upper()}:{session}", "Arn": arn},
        },
        credentials=Credentials(key_id, secret, token, expiration, arn),
    )


def params(role_arn: str, session: str = "rolehop-tester", **extra: Any) -> dict[str, Any]:
    """The AssumeRole parameters rolehop is expected to send, for the Stubber to check."""
    return {"RoleArn": role_arn, "RoleSessionName": session, **extra}


# ---------------------------------------------------------------------------------------
# STS over HTTP, for subprocesses


@dataclass(frozen=True)
class StubRequest:
    """One request :class:`StsHttpStub` received, with its form-encoded body parsed."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


class _StubServer(ThreadingHTTPServer):
    stub: StsHttpStub


class _StubHandler(BaseHTTPRequestHandler):
    server: _StubServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        form = {key: values[0] for key, values in parse_qs(body).items()}
        stub = self.server.stub
        stub.requests.append(StubRequest(self.command, self.path, dict(self.headers), form))
        if stub.answers:
            status, content_type, text = stub.answers.popleft()
        else:
            status, content_type = 400, "text/xml"
            text = sts_error_xml("StubNotQueued", f"no answer queued for {form or self.path}")
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


class StsHttpStub:
    """An HTTP server on 127.0.0.1 that answers requests with queued bodies, in order.

    Point ``AWS_ENDPOINT_URL`` at ``url`` and a ``python -m rolehop`` subprocess talks to it
    with real botocore (signing, retries, XML parsing, debug logs).
    """

    def __init__(self) -> None:
        self.answers: deque[tuple[int, str, str]] = deque()
        self.requests: list[StubRequest] = []
        self._server = _StubServer(("127.0.0.1", 0), _StubHandler)
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, body: str, status: int = 200, content_type: str = "text/xml") -> None:
        self.answers.append((status, content_type, body))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"


def assume_role_xml(issued: Issued) -> str:
    """The AssumeRoleResponse body STS would send for ``issued``, for :class:`StsHttpStub`."""
    credentials = issued.credentials
    assert credentials.expiration is not None and credentials.arn is not None
    role_id = issued.response["AssumedRoleUser"]["AssumedRoleId"]
    return (
        f'<AssumeRoleResponse xmlns="{STS_XMLNS}">\n'
        "  <AssumeRoleResult>\n"
        "    <Credentials>\n"
        f"      <AccessKeyId>{credentials.access_key_id}</AccessKeyId>\n"
        f"      <SecretAccessKey>{credentials.secret_access_key}</SecretAccessKey>\n"
        f"      <SessionToken>{credentials.session_token}</SessionToken>\n"
        f"      <Expiration>{credentials.expiration:%Y-%m-%dT%H:%M:%SZ}</Expiration>\n"
        "    </Credentials>\n"
        "    <AssumedRoleUser>\n"
        f"      <AssumedRoleId>{role_id}</AssumedRoleId>\n"
        f"      <Arn>{credentials.arn}</Arn>\n"
        "    </AssumedRoleUser>\n"
        "  </AssumeRoleResult>\n"
        "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>"
        "</ResponseMetadata>\n"
        "</AssumeRoleResponse>\n"
    )


def sts_error_xml(code: str, message: str) -> str:
    """An STS ErrorResponse body (send it with a 4xx status) for :class:`StsHttpStub`."""
    return (
        f'<ErrorResponse xmlns="{STS_XMLNS}">\n'
        f"  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\n"
        "  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
        "</ErrorResponse>\n"
    )


# ---------------------------------------------------------------------------------------
# a core in a test: stubbed STS, a fixed clock, an in-memory keyring


def joe() -> Credentials:
    """Joe's long-term keys, as JOE_CREDENTIALS has them: what his first STS client signs with."""
    return Credentials(JOE_KEY_ID, JOE_SECRET)


@dataclass
class StubWorld:
    """What an engine test needs around a context: a stubbed STS, a fixed clock, an
    in-memory keyring (for the cache, and for stored keys if a test asks) and the warnings.

    Tests get one from the ``world`` fixture (tests/support/worlds.py), which a module sets
    up with its ``world`` marker: the files to write, and the subclass to make if the module
    has helpers or wiring of its own (an MFA code source, stored keys...): such a subclass
    overrides :meth:`app`, the context its tests resolve with.
    """

    sandbox: Sandbox
    sts: StubSts = field(default_factory=lambda: StubSts())
    clock: FakeClock = field(default_factory=FakeClock)
    keyring: MemoryKeyring = field(default_factory=MemoryKeyring)
    warnings: list[str] = field(default_factory=list)

    def context(self, environ: Mapping[str, str] | None = None, **extra: Any) -> Context:
        """A context over the sandbox's files (a copy of os.environ unless ``environ``), with
        this world's STS, clock, keyring cache and warnings; ``extra`` for the rest, or in
        place of any of these (``cache=None``: rolehop's own, over the sandbox's keyring)."""
        parts: dict[str, Any] = {
            "clock": self.clock,
            "sts": self.sts,
            "cache": KeyringCache(self.keyring, self.warnings.append, self.clock),
            "warn": self.warnings.append,
        }
        return context.build(
            dict(os.environ) if environ is None else environ, **{**parts, **extra}
        )

    def app(self, environ: Mapping[str, str] | None = None) -> Context:
        """The context this module's tests resolve with: :meth:`context`, unless a subclass
        wires in more."""
        return self.context(environ)

    def stored_keys(self) -> KeyStore:
        """Stored keys in this world's keyring (beside the cache), on this world's clock."""
        return KeyStore(self.keyring, self.clock)

    def cached_keys(self) -> set[str]:
        """The cache keys of every credentials cached in this world's keyring."""
        return {name for service, name in self.keyring.items if service == SERVICE} - {"index"}
