"""rolehop.loopback's server: what it costs a client to hold it up (a socket, never a
thread), and what the client that asks properly gets, over real loopback sockets."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pytest

from rolehop.loopback import Admit, Limits, Link, LoopbackServer, Request, Response, Work

GET = b"GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
OK = Response(200, (("Content-Type", "text/plain"),), b"ok")


class Recorder:
    """A handler that answers OK and keeps what it was asked."""

    def __init__(self) -> None:
        self.seen: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        return OK


@contextmanager
def running(
    respond: Callable[[Request], Response | Work],
    limits: Limits = Limits(),  # noqa: B008
    admit: Admit | None = None,
) -> Iterator[LoopbackServer]:
    server = LoopbackServer(respond, limits=limits, admit=admit, name="test server")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


def connect(server: LoopbackServer) -> socket.socket:
    return socket.create_connection(server.server_address, timeout=5)


def ask(server: LoopbackServer, head: bytes) -> bytes:
    """What the server answers ``head`` with, up to its closing the connection."""
    with connect(server) as client:
        client.sendall(head)
        return read_all(client)


def read_all(client: socket.socket) -> bytes:
    answer = b""
    while chunk := client.recv(65536):
        answer += chunk
    return answer


def refused(server: LoopbackServer) -> tuple[str, int]:
    """Asks, expecting a reset without an answer (in connect, send or read); the client's
    address."""
    with socket.socket() as client:
        client.settimeout(5)
        client.bind(("127.0.0.1", 0))
        with pytest.raises(ConnectionError):
            client.connect(server.server_address)
            client.sendall(GET)
            read_all(client)
        host, port = client.getsockname()
        return host, port


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_request_is_answered_and_the_connection_closed() -> None:
    recorder = Recorder()
    with running(recorder) as server:
        answer = ask(server, GET)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 200 OK",
        b"Content-Type: text/plain",
        b"Content-Length: 2",
        b"Connection: close",
    ]
    assert body == b"ok"
    [request] = recorder.seen
    assert (request.method, request.target, request.path) == ("GET", "/x?y=1", "/x")
    assert request.headers.get("host") == request.headers.get("HOST") == "127.0.0.1"
    assert request.headers.get("Authorization") is None
    assert request.peer[0] == "127.0.0.1"


def test_bare_newlines_end_a_head_too() -> None:
    with running(lambda request: OK) as server:
        assert status(ask(server, b"GET / HTTP/1.0\nHost: h\n\n")) == 200


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"GET http://evil.example/ HTTP/1.1\r\n\r\n", 400),
        (b"GET /\x1b[2J HTTP/1.1\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400),  # a folded line
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n", 400),  # space before the colon
    ],
)
def test_a_bad_head_gets_an_error_and_never_reaches_the_handler(head: bytes, expected: int) -> None:
    recorder = Recorder()
    with running(recorder) as server:
        assert status(ask(server, head)) == expected
    assert recorder.seen == []


def test_a_head_over_the_cap_gets_431_without_waiting_for_its_end() -> None:
    with running(lambda request: OK, Limits(head_bytes=1024)) as server, connect(server) as client:
        client.sendall(b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 2000)  # no end
        assert status(read_all(client)) == 431


def test_a_silent_connection_is_dropped_at_its_deadline() -> None:
    with running(lambda request: OK, Limits(deadline=0.3)) as server, connect(server) as client:
        client.sendall(b"GET / HTTP/1.1\r\n")  # and then nothing
        started = time.monotonic()
        with pytest.raises(ConnectionResetError):  # dropped: a reset, no answer
            read_all(client)
        assert 0.2 < time.monotonic() - started < 3


def test_at_the_cap_the_oldest_unfinished_connection_makes_room() -> None:
    with running(lambda request: OK, Limits(connections=4)) as server:
        held = [connect(server) for _ in range(4)]
        for client in held:
            client.sendall(b"GET / HTTP/1.1\r\n")
        wait_for(lambda: server.open_connections == 4)

        assert status(ask(server, GET)) == 200  # the newest is served

        with pytest.raises(ConnectionResetError):
            read_all(held[0])  # the oldest was dropped for it
        held[1].sendall(b"Host: h\r\n\r\n")
        assert status(read_all(held[1])) == 200  # the others were kept
        for client in held:
            client.close()


def test_work_runs_on_a_bounded_pool_and_the_loop_goes_on_meanwhile() -> None:
    release = threading.Event()
    running_work: list[str] = []

    def slow() -> Response:
        running_work.append(threading.current_thread().name)
        release.wait(10)
        return OK

    def respond(request: Request) -> Response | Work:
        return slow if request.path == "/slow" else Response(404)

    before = threading.active_count()
    with running(respond, Limits(workers=1, queued=1)) as server:
        first, second = connect(server), connect(server)
        for client in (first, second):
            client.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
        wait_for(lambda: len(running_work) == 1)

        started = time.monotonic()
        assert status(ask(server, b"GET /slow HTTP/1.1\r\n\r\n")) == 503  # pool and queue full
        assert status(ask(server, b"GET /other HTTP/1.1\r\n\r\n")) == 404  # no worker needed
        assert time.monotonic() - started < 1
        assert threading.active_count() <= before + 2  # the loop and one worker

        release.set()
        assert status(read_all(first)) == status(read_all(second)) == 200
        assert running_work == ["test server worker 1"] * 2
        first.close()
        second.close()


@pytest.mark.parametrize("in_a_worker", [False, True])
def test_a_failing_handler_gets_500_and_is_logged_at_debug_only(
    in_a_worker: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> Response:
        raise RuntimeError("secret-value")

    def respond(request: Request) -> Response | Work:
        return fail if in_a_worker else fail()

    caplog.set_level(logging.DEBUG, logger="rolehop")
    with running(respond) as server:
        answer = ask(server, GET)
    assert status(answer) == 500 and b"secret-value" not in answer
    assert [record.levelno for record in caplog.records if record.exc_info] == [logging.DEBUG]


def test_an_answer_with_a_line_break_in_a_header_is_not_sent() -> None:
    with running(lambda request: Response(302, (("Location", "/a\r\nSet-Cookie: x"),))) as server:
        answer = ask(server, GET)
    assert status(answer) == 500 and b"Set-Cookie" not in answer


def test_admit_sees_each_connection_before_anything_is_read() -> None:
    asked: list[Link] = []
    recorder = Recorder()

    def admit(links: Sequence[Link]) -> list[bool]:
        asked.extend(links)
        return [False] * len(links)

    with running(recorder, admit=admit) as server:
        client = refused(server)
        [(peer, local)] = asked
        assert local == server.server_address and peer == client
    assert recorder.seen == []


def _raises(links: Sequence[Link]) -> list[bool]:
    raise OSError("no table")


@pytest.mark.parametrize(
    "admit", [_raises, lambda links: [], lambda links: [True] * (len(links) + 1)]
)
def test_an_admit_that_fails_refuses_and_the_server_goes_on(admit: Admit) -> None:
    with running(lambda request: OK, admit=admit) as server:
        refused(server)
        refused(server)


def test_on_sent_runs_once_the_answer_is_out() -> None:
    sent = threading.Event()
    with running(lambda request: Response(200, on_sent=sent.set)) as server:
        assert not sent.is_set()
        assert status(ask(server, GET)) == 200
        assert sent.wait(5)


def test_shutdown_and_close_free_the_port_and_may_be_repeated() -> None:
    server = LoopbackServer(lambda request: OK)
    server.shutdown()  # before it ever ran: no wait
    server.serve_forever()  # returns at once after a shutdown
    server.server_close()
    server.server_close()
    with pytest.raises(OSError):
        socket.create_connection(server.server_address, timeout=5)
