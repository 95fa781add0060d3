"""A deterministic STS on 127.0.0.1: the n-th call of a server always issues the same
credentials, whoever runs it.

Two worlds that make the same STS calls in the same order get byte-identical credentials,
so their outputs can be compared as they are: the differential agent test runs one world
with the agent and one without, each with its own server, and any call one of them makes
and the other does not shows in every later output. Answers follow botocore's STS model
(the query protocol's XML); expirations are fixed, far in the future, so that only the
entries a test plants itself are old or inside the refresh margin.
"""

from __future__ import annotations

import hashlib
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.support.local_endpoints import FakeEndpoint, Seen, serving

EXPIRES = "2099-01-01T00:00:00Z"
ACCOUNT = "111122223333"
NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def _signer(seen: Seen) -> str:
    """The access key id that signed a request (SigV4 ``Credential=AKID/...``)."""
    authorization = seen.header("Authorization") or ""
    return authorization.partition("Credential=")[2].partition("/")[0]


@dataclass
class FakeSts:
    """The calls it answered: (action, role ARN or "", the signer's access key id)."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)
    endpoint: FakeEndpoint | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.endpoint is not None
        return self.endpoint.url

    def count(self, action: str) -> int:
        return sum(1 for call in self.calls if call[0] == action)

    def respond(self, seen: Seen) -> tuple[int, str]:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(seen.body).items()}
        action = form.get("Action", "")
        role = form.get("RoleArn", "")
        with self.lock:
            self.calls.append((action, role, _signer(seen)))
            n = len(self.calls)
        if action == "GetCallerIdentity":
            signer = _signer(seen)
            return 200, _document(
                action,
                f"<Arn>arn:aws:iam::{ACCOUNT}:user/{signer}</Arn>"
                f"<UserId>{signer}</UserId><Account>{ACCOUNT}</Account>",
            )
        if action not in ("AssumeRole", "GetSessionToken", "AssumeRoleWithWebIdentity"):
            return 400, "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>"
        digest = hashlib.sha256(f"{n}\0{action}\0{role}\0{_signer(seen)}".encode()).hexdigest()
        credentials = (
            f"<Credentials><AccessKeyId>ASIA{digest[:16].upper()}</AccessKeyId>"
            f"<SecretAccessKey>secret{digest[16:48]}</SecretAccessKey>"
            f"<SessionToken>token{digest[32:64]}</SessionToken>"
            f"<Expiration>{EXPIRES}</Expiration></Credentials>"
        )
        user = ""
        if role:
            name = role.rsplit("/", 1)[-1]
            session = form.get("RoleSessionName", "session")
            user = (
                f"<AssumedRoleUser><AssumedRoleId>AROA{digest[:12].upper()}:{session}"
                f"</AssumedRoleId><Arn>arn:aws:sts::{role.split(':')[4]}:assumed-role/"
                f"{name}/{session}</Arn></AssumedRoleUser>"
            )
        return 200, _document(action, credentials + user)


def _document(action: str, result: str) -> str:
    return (
        f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></{action}Response>"
    )


@contextmanager
def fake_sts() -> Iterator[FakeSts]:
    sts = FakeSts()
    with serving(sts.respond) as endpoint:
        sts.endpoint = endpoint
        yield sts
