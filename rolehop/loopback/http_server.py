"""A loopback HTTP/1.1 server whose cost is bounded whatever its clients do.

One thread runs a selector loop: it accepts connections, reads request heads and writes
answers, so a client that connects and says nothing (or half a request) costs a socket, not
a thread. The limits (:class:`Limits`): a cap on the request head, a deadline per
connection, a cap on open connections that drops the *oldest* connection still sending its
request (a flood cannot lock the newest client out), and a large listen backlog. Requests
that need real work (``respond`` gives a :data:`Work`) go to a small bounded pool of
threads; the others (refusals, redirects) are answered on the loop at once.

``admit`` sees each connection right at accept, before anything is read from it: a server
that only serves this user closes the others' connections there and then.
"""

from __future__ import annotations

import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from rolehop.loopback.connection import Connection, Limits, Waker, abort
from rolehop.loopback.messages import (
    Address,
    BadRequest,
    Link,
    Request,
    Response,
    head_length,
    parse_request,
)
from rolehop.loopback.workers import Workers

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
Work = Callable[[], Response]  # run by a worker; what it returns is the answer
Respond = Callable[[Request], Response | Work]
Admit = Callable[[Sequence[Link]], list[bool]]  # one verdict per new connection

T = TypeVar("T")
_READ_SIZE = 4096
_ACCEPT_BURST = 64  # accepts per turn (one admit call): then the reads get their turn
_SWEEP_EVERY = 0.1  # seconds between looks for connections past their deadline
_ACCEPT, _WAKE = object(), object()


class LoopbackServer:
    """Serves ``respond`` on 127.0.0.1 (a random port) while :meth:`serve_forever` runs."""

    def __init__(
        self,
        respond: Respond,
        *,
        admit: Admit | None = None,
        limits: Limits = Limits(),  # noqa: B008 (frozen)
        name: str = "loopback server",
    ) -> None:
        self.name = name
        self._respond, self._admit, self._limits = respond, admit, limits
        self._listener = socket.create_server((LOOPBACK, 0), backlog=limits.backlog)
        self._listener.setblocking(False)
        self.server_address: Address = self._listener.getsockname()
        self._waker = Waker()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, _ACCEPT)
        self._selector.register(self._waker.reader, selectors.EVENT_READ, _WAKE)
        self._open: dict[Connection, None] = {}  # in the order they came
        self._done: queue.SimpleQueue[tuple[Connection, Response]] = queue.SimpleQueue()
        self._workers = Workers(limits.workers, limits.queued, name)
        self._lock = threading.Lock()
        self._stopping = self._closed = False
        self._idle = threading.Event()  # set while no loop runs
        self._idle.set()
        self._next_sweep = 0.0

    @property
    def server_port(self) -> int:
        return self.server_address[1]

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def serve_forever(self) -> None:
        """Run the loop until :meth:`shutdown`; returns at once if that came first."""
        with self._lock:
            if self._stopping:
                return
            self._idle.clear()
        try:
            while not self._stopping:
                self._turn()
        finally:
            self._idle.set()

    def shutdown(self) -> None:
        """Stop the loop and wait for it to end (no wait when none runs)."""
        with self._lock:
            self._stopping = True
        self._waker.wake()
        self._idle.wait()

    def server_close(self) -> None:
        """Stop, and close the port and every connection."""
        self.shutdown()
        if self._closed:
            return
        self._closed = True
        for connection in list(self._open):
            self._drop(connection, "the server closed")
        self._workers.close()
        self._selector.close()
        self._listener.close()
        self._waker.close()

    def _turn(self) -> None:
        for key, events in self._selector.select(_SWEEP_EVERY):
            try:
                self._handle(key.data, events)
            except Exception:  # a bug must cost one connection, not the server
                log.debug("%s: an event failed", self.name, exc_info=True)
                if isinstance(key.data, Connection):
                    self._drop(key.data, "failed")
        self._answer_done()
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + _SWEEP_EVERY

    def _handle(self, what: object, events: int) -> None:
        if what is _ACCEPT:
            self._accept()
        elif what is _WAKE:
            self._waker.drain()
        elif isinstance(what, Connection):
            (self._read if events & selectors.EVENT_READ else self._write)(what)

    # -- accepting -----------------------------------------------------------------------

    def _accept(self) -> None:
        arrived: list[tuple[socket.socket, Address]] = []
        for _ in range(_ACCEPT_BURST):
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                break
            except OSError:
                log.debug("%s: accept failed", self.name, exc_info=True)
                break
            arrived.append((sock, (peer[0], peer[1])))
        for (sock, peer), admitted in zip(arrived, self._verdicts(arrived), strict=True):
            if admitted:
                self._add(sock, peer)
            else:
                log.debug("%s: closed the connection from %s:%d at once", self.name, *peer)
                abort(sock)

    def _verdicts(self, arrived: Sequence[tuple[socket.socket, Address]]) -> list[bool]:
        if self._admit is None or not arrived:
            return [True] * len(arrived)
        try:
            verdicts = self._admit([(peer, self.server_address) for _, peer in arrived])
            if len(verdicts) == len(arrived):
                return verdicts
        except Exception:
            log.debug("%s: admit failed", self.name, exc_info=True)
        return [False] * len(arrived)  # refuse what cannot be vetted

    def _add(self, sock: socket.socket, peer: Address) -> None:
        sock.setblocking(False)
        if len(self._open) >= self._limits.connections:
            oldest = next((c for c in self._open if c.reading), None)
            if oldest is None:  # every one is being answered: they go first
                abort(sock)
                return
            self._drop(oldest, "dropped for a newer connection")
        connection = Connection(sock, peer, time.monotonic() + self._limits.deadline)
        self._open[connection] = None
        self._read(connection)  # a request often comes with its connection: no need to watch
        if connection.reading and not connection.closed:
            connection.watch(self._selector, selectors.EVENT_READ)

    # -- reading and answering -------------------------------------------------------------

    def _read(self, connection: Connection) -> None:
        if connection.closed or not connection.reading:
            return
        try:
            data = connection.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # it closed first: a plain close leaves its TIME_WAIT on its side
            log.debug("%s: %s:%d closed before a whole request", self.name, *connection.peer)
            self._close(connection)
            return
        connection.received += data
        end = head_length(connection.received)
        if end is None and len(connection.received) < self._limits.head_bytes:
            return
        if end is None or end > self._limits.head_bytes:
            self._answer(connection, Response(431))
            return
        try:
            request = parse_request(bytes(connection.received[:end]), connection.peer)
        except BadRequest as bad:
            log.debug("%s: %s:%d sent %s", self.name, *connection.peer, bad)
            self._answer(connection, Response(bad.status))
            return
        self._dispatch(connection, request)

    def _dispatch(self, connection: Connection, request: Request) -> None:
        answer = _run(lambda: self._respond(request), self.name)
        if isinstance(answer, Response):
            self._answer(connection, answer)
            return
        work: Work = answer
        connection.reading, connection.deadline = False, None
        connection.watch(self._selector, 0)

        def job() -> None:
            self._done.put((connection, _run(work, self.name)))
            self._waker.wake()

        if not self._workers.submit(job):
            log.debug("%s: every worker busy: 503 for %s:%d", self.name, *connection.peer)
            self._answer(connection, Response(503, (("Retry-After", "1"),)))

    def _answer_done(self) -> None:
        while True:
            try:
                connection, response = self._done.get_nowait()
            except queue.Empty:
                return
            if not connection.closed:
                self._answer(connection, response)

    def _answer(self, connection: Connection, response: Response) -> None:
        try:
            connection.outgoing = response.encode()
        except ValueError:
            log.debug("%s: an answer could not be encoded", self.name, exc_info=True)
            response = Response(500)
            connection.outgoing = response.encode()
        connection.on_sent = response.on_sent
        connection.reading = False
        connection.deadline = time.monotonic() + self._limits.deadline
        self._write(connection)

    def _write(self, connection: Connection) -> None:
        if connection.closed:
            return
        try:
            sent = connection.sock.send(connection.outgoing)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(connection, "gone before taking the answer")
            return
        connection.outgoing = connection.outgoing[sent:]
        if connection.outgoing:
            connection.watch(self._selector, selectors.EVENT_WRITE)
            return
        self._close(connection)
        if connection.on_sent is not None:
            _run(connection.on_sent, self.name)

    # -- closing -------------------------------------------------------------------------

    def _sweep(self, now: float) -> None:
        for connection in list(self._open):
            if connection.deadline is not None and connection.deadline < now:
                self._drop(connection, "past its deadline")

    def _drop(self, connection: Connection, why: str) -> None:
        log.debug("%s: connection from %s:%d %s", self.name, *connection.peer, why)
        self._close(connection, reset=True)

    def _close(self, connection: Connection, *, reset: bool = False) -> None:
        self._open.pop(connection, None)
        connection.close(self._selector, reset=reset)


def _run(call: Callable[[], T], name: str) -> T | Response:
    """``call()``, or a 500 answer if it fails (logged at debug, without the request)."""
    try:
        return call()
    except Exception:
        log.debug("%s: a request failed", name, exc_info=True)
        return Response(500)
