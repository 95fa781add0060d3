"""rolehop.features.endpoint.credentials_server: who gets credentials from the local
endpoint, and what they get."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from rolehop.common.creds import Credentials
from rolehop.errors import StsError
from rolehop.features.endpoint.credentials_server import PATH, CredentialsServer, serving
from tests.support.stubs import NOW, FakeClock

ROLE = "arn:aws:iam::111122223333:role/r"


class Fetches:
    """What the server asks rolehop for: new credentials each time, or a failure."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.count = 0
        self.failing = False

    def __call__(self) -> Credentials:
        if self.failing:
            raise StsError("profile 'p': AssumeRole failed: InternalFailure")
        self.count += 1
        return Credentials(
            f"ASIAFETCH{self.count:011d}",
            f"secret-{self.count}-0123456789abcdefghij",
            f"token-{self.count}-FwoGZXIvYXdzEJr",
            self.clock() + timedelta(hours=1),
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fetches(clock: FakeClock) -> Fetches:
    return Fetches(clock)


@pytest.fixture
def reports() -> list[str]:
    return []


@pytest.fixture
def server(fetches: Fetches, clock: FakeClock, reports: list[str]) -> Iterator[CredentialsServer]:
    endpoint = CredentialsServer(fetches, ROLE, clock=clock, report=reports.append)
    serving(endpoint)
    yield endpoint
    endpoint.shutdown()
    endpoint.server_close()


def _get(
    server: CredentialsServer,
    token: str | None,
    *,
    host: str | None = None,
    path: str = PATH,
    method: str = "GET",
) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    headers = {"Host": host or f"127.0.0.1:{server.server_port}"}
    if token is not None:
        headers["Authorization"] = token
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    return response.status, body


def test_the_sdk_gets_the_container_credentials_document(
    server: CredentialsServer, fetches: Fetches
) -> None:
    status, document = _get(server, server.token)

    assert status == 200
    assert document == {
        "AccessKeyId": "ASIAFETCH00000000001",
        "SecretAccessKey": "secret-1-0123456789abcdefghij",
        "Token": "token-1-FwoGZXIvYXdzEJr",
        "Expiration": (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RoleArn": ROLE,
    }


def test_each_request_asks_rolehop_again(server: CredentialsServer, fetches: Fetches) -> None:
    for _ in range(3):
        assert _get(server, server.token)[0] == 200
    assert fetches.count == 3  # rolehop's cache decides what is fresh, not the server


@pytest.mark.parametrize(
    ("token", "status"), [(None, 401), ("wrong", 403), ("", 403), ("x" * 500, 403)]
)
def test_no_or_a_wrong_token_is_refused(
    server: CredentialsServer, fetches: Fetches, token: str | None, status: int
) -> None:
    got, body = _get(server, token)
    assert got == status and "AccessKeyId" not in body
    assert fetches.count == 0


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1:1", "[::1]"])
def test_another_host_is_refused(server: CredentialsServer, fetches: Fetches, host: str) -> None:
    """A web page that rebinds its own name to 127.0.0.1 still sends its own Host."""
    got, _ = _get(server, server.token, host=host)
    assert got == 403 and fetches.count == 0


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_a_request_without_host_is_refused(
    server: CredentialsServer, fetches: Fetches, version: str
) -> None:
    status, body = _raw(server, f"GET {PATH} {version}\r\nAuthorization: {server.token}\r\n\r\n")
    assert status == 403 and body == {"message": "Host is not this loopback endpoint"}
    assert fetches.count == 0


def test_two_host_headers_are_refused(server: CredentialsServer, fetches: Fetches) -> None:
    host = f"127.0.0.1:{server.server_port}"
    request = f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\n"
    status, _ = _raw(server, request + f"Authorization: {server.token}\r\n\r\n")
    assert status == 400 and fetches.count == 0


def _raw(server: CredentialsServer, request: str) -> tuple[int, dict[str, str]]:
    """``request`` sent as it is (http.client always adds a Host header)."""
    with socket.create_connection(server.server_address, timeout=5) as connection:
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else {}


def test_refusals_are_answered_while_every_worker_waits_on_sts(
    fetches: Fetches, clock: FakeClock
) -> None:
    """Answering 401/403/404 takes no worker: a slow STS does not hold refusals up, and
    many requests with the token wait for the few workers without a thread each."""
    release = threading.Event()

    def slow_sts() -> Credentials:
        release.wait(10)
        return fetches()

    endpoint = CredentialsServer(slow_sts, ROLE, clock=clock, report=print)
    before = threading.active_count()
    serving(endpoint)
    waiting = [threading.Thread(target=_get, args=(endpoint, endpoint.token)) for _ in range(8)]
    try:
        for thread in waiting:
            thread.start()
        deadline = time.monotonic() + 5
        while threading.active_count() < before + 1 + 4 + 8:  # every worker has a request
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.01)
        started = time.monotonic()
        assert _get(endpoint, None)[0] == 401
        assert _get(endpoint, "wrong")[0] == 403
        assert _get(endpoint, endpoint.token, path="/")[0] == 404
        assert time.monotonic() - started < 1
        # the loop, at most 4 workers, and the 8 client threads of this test
        assert threading.active_count() <= before + 1 + 4 + 8
    finally:
        release.set()
        for thread in waiting:
            thread.join(timeout=10)
        endpoint.shutdown()
        endpoint.server_close()
    assert fetches.count == 8


def test_localhost_is_this_host(server: CredentialsServer) -> None:
    assert _get(server, server.token, host=f"localhost:{server.server_port}")[0] == 200


def test_other_paths_and_methods_get_nothing(server: CredentialsServer, fetches: Fetches) -> None:
    assert _get(server, server.token, path="/")[0] == 404
    assert _get(server, server.token, method="POST")[0] == 405
    assert fetches.count == 0


def test_it_binds_the_loopback_address_only(server: CredentialsServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")
    assert server.child_environment() == {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": server.token,
    }


def test_the_token_is_long_and_random(fetches: Fetches, clock: FakeClock) -> None:
    tokens = {CredentialsServer(fetches, ROLE, clock=clock, report=print).token for _ in range(3)}
    assert len(tokens) == 3 and all(len(token) >= 43 for token in tokens)  # >= 32 bytes


def test_a_failed_refresh_serves_the_previous_credentials_while_valid(
    server: CredentialsServer, fetches: Fetches, clock: FakeClock, reports: list[str]
) -> None:
    _, first = _get(server, server.token)
    fetches.failing = True
    clock.now += timedelta(minutes=50)

    status, again = _get(server, server.token)

    assert (status, again) == (200, first)
    assert reports == [
        "credentials server: profile 'p': AssumeRole failed: InternalFailure; still serving "
        "the previous credentials"
    ]
    clock.now += timedelta(minutes=11)  # now they have expired
    status, body = _get(server, server.token)
    assert status == 500 and "AccessKeyId" not in body
    assert not any("secret" in report for report in reports)
