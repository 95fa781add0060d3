"""``rolehop login``'s one-time redirect against another local user who read its address
from the browser's argv: they must not get the 302, and must not use it up.

The victim is the test process (root here); its own client stands in for the browser.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from ipaddress import IPv4Address
from pathlib import Path

from rolehop.features.login.browser import OneTimeRedirect
from rolehop.loopback.peers import parse_row
from tests.security.conftest import OtherUser

TIME_WAIT = 0x06
LOCATION = "https://signin.aws.amazon.com/federation?Action=login&SigninToken=victims-token"

# as the other user: from each (address, port) asked, connect to the redirect server and GET
# the one-time path; one line of JSON: what came back each time
TAKE = r"""
import json, socket, sys
port, path, sources = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
results = []
for address, source_port in sources:
    client = socket.socket()
    client.settimeout(3)
    try:
        client.bind((address, source_port))
        client.connect(("127.0.0.1", port))
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        answer = client.recv(65536).decode("latin-1")
        results.append(answer.split("\r\n", 1)[0] if answer else "closed")
    except OSError as error:
        results.append(type(error).__name__)
    finally:
        client.close()
print(json.dumps(results))
"""


def take(other_user: OtherUser, url: str, sources: list[tuple[str, int]]) -> list[str]:
    parts = urllib.parse.urlsplit(url)
    assert parts.port is not None
    done = other_user.run_python(TAKE, str(parts.port), parts.path, json.dumps(sources))
    assert done.returncode == 0, done.stderr
    results: list[str] = json.loads(done.stdout)
    assert len(results) == len(sources)
    return results


def browse(url: str) -> tuple[int, str | None]:
    """The victim's browser: its status and Location, within 1 s."""
    parts = urllib.parse.urlsplit(url)
    started = time.monotonic()
    connection = http.client.HTTPConnection(parts.netloc, timeout=5)
    try:
        connection.request("GET", parts.path)
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    assert time.monotonic() - started < 1
    return answer.status, answer.getheader("Location")


def assert_nothing_taken(results: list[str], redirect: OneTimeRedirect) -> None:
    assert not any(" 302 " in result for result in results), results
    assert not redirect.wait(0)  # the refused attempts did not count as a browser


def test_the_port_pair_trick_gets_no_redirect(other_user: OtherUser) -> None:
    """Bound to 127.0.0.N:P, connecting to 127.0.0.1:P: the server's own row of that
    connection has the attacker's ports and the victim's uid."""
    with OneTimeRedirect(LOCATION) as redirect:
        port = urllib.parse.urlsplit(redirect.url).port
        assert port is not None
        results = take(other_user, redirect.url, [(f"127.0.0.{n}", port) for n in (2, 3, 4)])

        assert_nothing_taken(results, redirect)
        assert browse(redirect.url) == (302, LOCATION)
        assert redirect.wait(5)


def _root_time_wait_rows(port: int) -> tuple[list[int], int]:
    """Root's connections to the server, closed: TIME_WAIT rows that show uid 0. The ports
    of those on the client's side (it closed first), and how many on the server's."""
    server, server_address = (IPv4Address("127.0.0.1"), port), ("127.0.0.1", port)
    deadline = time.monotonic() + 10
    while True:
        with socket.create_connection(server_address, timeout=5) as client:
            client.sendall(b"GET /")  # half a request: the server admitted it and reads on
            time.sleep(0.05)
        with socket.create_connection(server_address, timeout=5) as client:
            client.sendall(b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            while client.recv(65536):
                pass  # the 404; the server closed first
        rows = [parse_row(line) for line in Path("/proc/net/tcp").read_text().splitlines()]
        waiting = [row for row in rows if row is not None and row.state == TIME_WAIT]
        client_side = [row.local[1] for row in waiting if row.remote == server]
        server_side = [row for row in waiting if row.local == server]
        if len(client_side) >= 4 and server_side:
            return client_side[:4], len(server_side)
        assert time.monotonic() < deadline, "no TIME_WAIT rows"


def test_leftover_time_wait_rows_of_root_give_no_redirect(other_user: OtherUser) -> None:
    with OneTimeRedirect(LOCATION) as redirect:
        port = urllib.parse.urlsplit(redirect.url).port
        assert port is not None
        client_ports, _ = _root_time_wait_rows(port)

        # the other user reuses root's client ports from another address, and the port pair
        sources = [("127.0.0.2", client_port) for client_port in client_ports]
        results = take(other_user, redirect.url, [*sources, ("127.0.0.3", port)])

        assert_nothing_taken(results, redirect)
        assert browse(redirect.url) == (302, LOCATION)
        assert redirect.wait(5)
