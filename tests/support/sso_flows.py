"""The client's side of the Identity Center stand-in (:mod:`rolehop.features.demo.sso_standin`), for
tests: a fake clock, botocore clients pointed at the stand-in, the sign-in flows as the AWS
CLI v2 runs them, the AWS CLI's loopback end of the authorization-code redirect, and the log
of the ``$BROWSER`` that approves (tests/support/sso_browser.py).

Not a test module: shared by tests/test_sso_standin.py and tests/test_sso_browser.py.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.config

from rolehop.features.demo.sso_standin import (
    ACCOUNT_ACCESS,
    DEVICE_GRANT,
    IdentityCenter,
    identity_center,
    reserved_role_name,
)

RESEARCH, COMPANY, WAREHOUSE = "111122223333", "444455556666", "777788889999"
START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
CALLBACK = "http://127.0.0.1/oauth/callback"  # what the AWS CLI v2 registers
STATE = "4c6f2c1e-7f0b-4d8e-9a55-0d1f4b3c2a10"  # the AWS CLI's: a UUID
VERIFIER = "rolehop-tests-pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz-._~"
BROWSER = Path(__file__).resolve().parent / "sso_browser.py"
UNSIGNED = botocore.config.Config(signature_version=botocore.UNSIGNED)
# where no moto server listens: tests without one never ask for role credentials
NO_MOTO = "http://127.0.0.1:9"


class FakeClock:
    """The stand-in's time: it moves when a test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def seeded_center(moto_url: str, clock: FakeClock) -> Iterator[IdentityCenter]:
    """A running stand-in where the user has roles in three accounts: research (ReadOnly,
    Admin), company (ReadOnly), warehouse (A, B, C)."""
    with identity_center(moto_url, clock=clock) as center:
        center.add_account(RESEARCH, "Research", "research@example.com", ["ReadOnly", "Admin"])
        center.add_account(COMPANY, "Company", "company@example.com", ["ReadOnly"])
        center.add_account(WAREHOUSE, "Warehouse", "wh@example.com", ["A", "B", "C"])
        yield center


def client(service: str, center: IdentityCenter, **config: Any) -> Any:
    """A botocore client of ``service`` (sso-oidc, sso) at the stand-in, unsigned as the
    AWS CLI's and botocore's own SSO clients are; ``config``: more botocore Config."""
    session: Any = boto3.session.Session()
    settings = UNSIGNED.merge(botocore.config.Config(**config))
    return session.client(
        service, endpoint_url=center.url, region_name="us-east-1", config=settings
    )


def register(oidc: Any, **extra: Any) -> dict[str, str]:
    """RegisterClient; the client's clientId and clientSecret."""
    registered = oidc.register_client(
        clientName="botocore-client-corp", clientType="public", **extra
    )
    return {"clientId": registered["clientId"], "clientSecret": registered["clientSecret"]}


def device_login(center: IdentityCenter, oidc: Any, **extra: Any) -> dict[str, Any]:
    """A device-flow sign-in, approved: the CreateToken answer, and the client's ``keys``."""
    keys = register(oidc, **extra)
    started = oidc.start_device_authorization(startUrl=center.start_url, **keys)
    center.approve(started["userCode"])
    token: dict[str, Any] = oidc.create_token(
        grantType=DEVICE_GRANT, deviceCode=started["deviceCode"], **keys
    )
    return token | {"keys": keys}


def auth_code_client(oidc: Any, center: IdentityCenter) -> dict[str, str]:
    """A client registered as the AWS CLI v2 registers one for the authorization-code flow."""
    return register(
        oidc,
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=[CALLBACK],
        issuerUrl=center.start_url,
        scopes=[ACCOUNT_ACCESS],
    )


def authorize_url(center: IdentityCenter, client_id: str, redirect: str, challenge: str) -> str:
    """The /authorize address as the AWS CLI v2 builds it (the challenge appended raw)."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "state": STATE,
        "code_challenge_method": "S256",
        "scopes": ACCOUNT_ACCESS,
    }
    return f"{center.url}/authorize?{urllib.parse.urlencode(query)}&code_challenge={challenge}"


def fetch_once(url: str) -> http.client.HTTPResponse:
    """GET ``url`` without following a redirect (the body read)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        answer = connection.getresponse()
        answer.read()
        return answer
    finally:
        connection.close()


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def keys_of(issued: dict[str, Any]) -> dict[str, str]:
    """boto3 client arguments for STS's Credentials, or the portal's roleCredentials."""
    return {
        "aws_access_key_id": issued.get("AccessKeyId") or issued["accessKeyId"],
        "aws_secret_access_key": issued.get("SecretAccessKey") or issued["secretAccessKey"],
        "aws_session_token": issued.get("SessionToken") or issued["sessionToken"],
    }


def sso_user_arn(account_id: str, role: str, user: str = "joe") -> str:
    """Who STS says the portal's credentials for ``role`` in ``account_id`` are."""
    return f"arn:aws:sts::{account_id}:assumed-role/{reserved_role_name(account_id, role)}/{user}"


def trusting(principal_arn: str) -> str:
    """A trust policy letting ``principal_arn`` assume the role."""
    statement = {"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class LoopbackReceiver:
    """The AWS CLI's end of the redirect: listening before the browser starts, answering
    (one request) only once the browser command has returned, as the CLI does."""

    def __init__(self) -> None:
        queries: list[dict[str, str]] = []

        class Callback(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                queries.append(query_of(self.path))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.queries = queries
        self.server = HTTPServer(("127.0.0.1", 0), Callback)
        self.server.timeout = 10
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_port}/oauth/callback"

    def answer_one(self) -> dict[str, str]:
        """Answer the next request (waiting 10 s at most); the query it brought."""
        self.server.handle_request()
        assert self.queries, "no callback came"
        return self.queries[0]

    def close(self) -> None:
        self.server.server_close()


def browser_events(log: Path) -> list[dict[str, Any]]:
    """The browser's log once it says ``done`` (its detached child may still be writing)."""
    seen: list[dict[str, Any]] = []
    for _ in range(200):  # 10 s
        seen = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        if seen and seen[-1]["event"] == "done":
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the browser did not finish: {seen}")


def run_browser(url: str, mode: str) -> None:
    """Run the browser script on ``url`` in ``mode`` (SSO_BROWSER_LOG: the caller's)."""
    env = {**os.environ, "SSO_BROWSER_MODE": mode}
    subprocess.run([sys.executable, str(BROWSER), url], env=env, timeout=30, check=True)
