"""Floods from another local user against rolehop's loopback servers: the credentials
server (``serve``, ``exec --server``) and ``login``'s one-time redirect.

The other user holds hundreds of connections that send half a request, keeps opening new
ones as the server drops the old, churns connect/close, and sends whole requests without a
token, for a few seconds (every loop of theirs is bounded by a deadline). Throughout, the
victim's own requests are answered within 1 s and the server's threads stay few.

The flood is paced (about 2,400 connections a second, far beyond any real client): an
attacker left to go as fast as it can is a race for the CPU, which on a busy two-core
machine a Python accept loop can lose by enough to push a request past 1 s.
"""

from __future__ import annotations

import http.client
import json
import select
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from rolehop.common.creds import Credentials
from rolehop.features.endpoint.credentials_server import PATH, CredentialsServer, serving
from rolehop.features.login.browser import OneTimeRedirect
from tests.security.conftest import OtherUser
from tests.support.stubs import FakeClock

HOLD = 400  # half-sent connections the other user opens first
RATE = 600  # connections a second for each of the other user's 4 threads
FLOOD_SECONDS = 6.0  # how long they go on after that
MEASURE_SECONDS = 3.0  # how long the victim measures, while they go on
LATENCY = 1.0  # the bound for every one of the victim's requests

FLOOD = r"""
import json, socket, sys, threading, time
port, hold, seconds, rate, half, whole = (
    int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]),
    sys.argv[5].encode(), sys.argv[6].encode(),
)
counts = {"connected": 0, "attempts": 0}
lock = threading.Lock()

def connect(payload):
    client = socket.socket()
    client.settimeout(2)
    try:
        client.connect(("127.0.0.1", port))
        client.sendall(payload)
        with lock:
            counts["connected"] += 1
        return client
    except OSError:
        client.close()
        return None
    finally:
        with lock:
            counts["attempts"] += 1

held = [client for client in (connect(half) for _ in range(hold)) if client is not None]
print(json.dumps({"holding": len(held)}), flush=True)
deadline = time.monotonic() + seconds

def paced(make):  # make() `rate` times a second until the deadline
    started, made = time.monotonic(), 0
    while time.monotonic() < deadline:
        make()
        made += 1
        time.sleep(max(0.0, started + made / rate - time.monotonic()))

def churn(payload):
    client = connect(payload)
    if client is not None:
        client.close()

def hold_more():  # a new half-sent connection, the oldest let go: the server must drop some
    client = connect(half)
    if client is not None:
        held.append(client)
        held.pop(0).close()

makers = [lambda payload=payload: churn(payload) for payload in (b"", half, whole)]
threads = [threading.Thread(target=paced, args=(make,)) for make in [*makers, hold_more]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for client in held:
    client.close()
print(json.dumps(counts), flush=True)
"""


@dataclass
class Measured:
    """The victim's requests during a flood: each one's status and seconds."""

    answers: list[tuple[int, float]] = field(default_factory=list)
    most_threads: int = 0

    def ask(self, request: Callable[[], int]) -> int:
        started = time.monotonic()
        status = request()
        self.answers.append((status, time.monotonic() - started))
        self.most_threads = max(self.most_threads, threading.active_count())
        return status

    @property
    def slowest(self) -> float:
        return max(seconds for _, seconds in self.answers)


def start_flood(other_user: OtherUser, port: int, half: str, whole: str) -> subprocess.Popen[str]:
    """The other user's flood, once it holds its connections."""
    flood = other_user.start_python(
        FLOOD, str(port), str(HOLD), str(FLOOD_SECONDS), str(RATE), half, whole
    )
    assert flood.stdout is not None
    ready, _, _ = select.select([flood.stdout], [], [], 30)
    assert ready, "the flood did not start"
    holding = json.loads(flood.stdout.readline())["holding"]
    assert holding >= HOLD // 2, flood.stderr.read() if flood.stderr else ""
    return flood


def end_flood(flood: subprocess.Popen[str]) -> dict[str, int]:
    """Its counts, once it stopped by itself."""
    assert flood.poll() is None, "the flood ended before the measuring did"
    out, err = flood.communicate(timeout=FLOOD_SECONDS + 30)
    assert flood.returncode == 0, err
    counts: dict[str, int] = json.loads(out.splitlines()[-1])
    assert counts["attempts"] >= HOLD + 4 * RATE * FLOOD_SECONDS // 2  # it was a flood
    return counts


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.getheader("Location")
    finally:
        connection.close()


def fetch() -> Credentials:
    return Credentials("ASIAFLOOD00000000001", "flood-secret", "flood-token", None)


def test_the_credentials_server_serves_its_client_through_a_flood(other_user: OtherUser) -> None:
    before = threading.active_count()
    server = CredentialsServer(fetch, "arn:aws:iam::111122223333:role/r", clock=FakeClock(),
                               report=print)  # fmt: skip
    serving(server)
    port = server.server_port
    half = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    whole = half + "\r\n"  # no token: a 401, answered without a worker
    measured = Measured()
    flood = start_flood(other_user, port, half, whole)
    try:
        with_token = {"Authorization": server.token}
        end = time.monotonic() + MEASURE_SECONDS
        while time.monotonic() < end:
            measured.ask(lambda: get(port, PATH, with_token)[0])
            time.sleep(0.02)
        counts = end_flood(flood)
    finally:
        flood.kill()
        flood.wait(timeout=30)
        server.shutdown()
        server.server_close()

    assert {status for status, _ in measured.answers} == {200}
    assert len(measured.answers) >= 10
    assert measured.slowest < LATENCY, measured.answers
    assert measured.most_threads <= before + 1 + 4  # the loop and at most 4 workers
    assert counts["connected"] >= HOLD


def test_the_login_redirect_serves_its_browser_through_a_flood(other_user: OtherUser) -> None:
    location = "https://signin.aws.amazon.com/federation?Action=login&SigninToken=victims"
    before = threading.active_count()
    measured = Measured()
    with OneTimeRedirect(location) as redirect:
        parts = urllib.parse.urlsplit(redirect.url)
        assert parts.port is not None
        port = parts.port
        half = f"GET {parts.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        flood = start_flood(other_user, port, half, half + "\r\n")
        try:
            end = time.monotonic() + MEASURE_SECONDS
            redirect_at = time.monotonic() + MEASURE_SECONDS / 2
            got: tuple[int, str | None] | None = None
            while time.monotonic() < end:
                if got is None and time.monotonic() > redirect_at:  # the browser comes
                    got = (measured.ask(lambda: get(port, parts.path)[0]), None)
                    assert got[0] == 302
                else:
                    assert measured.ask(lambda: get(port, "/favicon.ico")[0]) == 404
                time.sleep(0.02)
            end_flood(flood)
        finally:
            flood.kill()
            flood.wait(timeout=30)
        assert got is not None, measured.answers
        assert redirect.wait(5)

    assert len(measured.answers) >= 10
    assert measured.slowest < LATENCY, measured.answers
    assert measured.most_threads <= before + 1  # its loop, and no other thread
