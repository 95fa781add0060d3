"""The agent process: a Unix socket in a 0700 directory, one request per connection.

One agent per socket path: it holds an ``flock`` on ``<socket>.lock`` for its whole life,
so a socket file without a lock holder is stale and is replaced. It serves peers of its own
uid only (SO_PEERCRED / LOCAL_PEERCRED, checked before a byte is read), exits after
``idle_timeout`` seconds without a request, when asked to stop, or when its socket file is
removed or replaced.

Bounded for its own user's clients too: requests are read by one selector loop (a slow
client costs a descriptor, not a thread), at most :data:`MAX_PENDING` at once (the oldest
incomplete one goes first), each within :data:`REQUEST_TIME` and :data:`MAX_REQUEST` bytes,
all together within :data:`MAX_BYTES_IN_FLIGHT`; complete requests are answered by at most
:data:`MAX_WORKERS` threads.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import json
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rolehop.agent.peer import peer_uid
from rolehop.agent.protocol import MAX_REQUEST, encode
from rolehop.agent.service import Service
from rolehop.common.hardening import harden as harden  # re-exported for rolehop.agent.__main__
from rolehop.stores import private

log = logging.getLogger(__name__)
START_WAIT = 2.0  # how long a new agent waits for an old one (asked to stop) to go
POLL = 0.5
MAX_PENDING = 256
MAX_WORKERS = 32
MAX_READY = 256  # complete requests waiting for a worker
MAX_BYTES_IN_FLIGHT = 16 << 20
REQUEST_TIME = 2.0
SEND_TIME = 10.0


def _take_lock(fd: int, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


@dataclass
class _Pending:
    """A connection whose request is still arriving."""

    connection: socket.socket
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)


class Agent:
    def __init__(
        self,
        path: str,
        service: Callable[[], Service],
        *,
        uid: int | None = None,
        peer: Callable[[socket.socket], int | None] = peer_uid,
    ) -> None:
        self.path = path
        self.make_service = service
        self.uid = os.getuid() if uid is None else uid
        self.peer = peer
        # by id(), oldest first (a descriptor number is reused once closed)
        self.pending: collections.OrderedDict[int, _Pending] = collections.OrderedDict()
        self.in_flight = 0  # bytes of requests read and not yet answered
        self.ready: collections.deque[tuple[socket.socket, dict[str, Any], int]] = (
            collections.deque()
        )
        self.workers = 0  # threads answering requests
        self.state = threading.Lock()  # for in_flight, ready and workers

    def run(self) -> int:
        """Serve until idle, stopped or replaced; 0 also when another agent already runs."""
        directory = private.open_directory(os.path.dirname(self.path), self.uid)
        try:
            name = os.path.basename(self.path) + ".lock"
            lock = private.open_file(directory, name, os.O_RDWR | os.O_CREAT, self.uid)
        finally:
            os.close(directory)
        try:
            if not _take_lock(lock, START_WAIT):
                log.debug("agent: another agent serves %s", self.path)
                return 0
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # stale: its agent would hold the lock
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old_umask = os.umask(0o177)
            try:
                listener.bind(self.path)
            finally:
                os.umask(old_umask)
            listener.listen(128)
            inode = os.stat(self.path).st_ino
            try:
                self._serve(listener, inode)
            finally:
                listener.close()
                with contextlib.suppress(OSError):
                    if os.stat(self.path).st_ino == inode:
                        os.unlink(self.path)
        finally:
            os.close(lock)
        return 0

    def _serve(self, listener: socket.socket, inode: int) -> None:
        service = self.make_service()
        selector = selectors.DefaultSelector()
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ)
        last = time.monotonic()
        try:
            while not service.stopping:
                events = selector.select(timeout=min(POLL, REQUEST_TIME / 4))
                for key, _ in events:
                    if key.data is None:
                        self._accept(listener, selector)
                        last = time.monotonic()
                    else:
                        self._read(key.data, selector, service)
                self._expire(selector)
                if events:
                    continue
                if service.busy() or self._busy():
                    last = time.monotonic()  # working for someone is not idle
                elif time.monotonic() - last > service.idle_timeout:
                    log.debug("agent: idle for %ss, exiting", service.idle_timeout)
                    return
                if not self._still_ours(inode):
                    log.debug("agent: socket removed or replaced, exiting")
                    return
        finally:
            for pending in list(self.pending.values()):
                self._drop(pending, selector)
            selector.close()

    def _busy(self) -> bool:
        with self.state:
            return self.workers > 0 or bool(self.ready)

    def _accept(self, listener: socket.socket, selector: selectors.BaseSelector) -> None:
        try:
            connection, _ = listener.accept()
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                if self.pending:  # out of descriptors: the oldest unfinished request goes
                    self._drop(next(iter(self.pending.values())), selector)
                return
            if error.errno in (errno.EINTR, errno.EAGAIN, errno.ECONNABORTED):
                return
            raise
        try:
            uid = self.peer(connection)
        except OSError:
            uid = None
        if uid != self.uid:  # unknown counts as someone else
            log.warning("agent: refused a peer of uid %s", uid)
            connection.close()
            return
        if len(self.pending) >= MAX_PENDING:  # the oldest incomplete request goes first
            self._drop(next(iter(self.pending.values())), selector)
        connection.setblocking(False)
        pending = _Pending(connection, time.monotonic() + REQUEST_TIME)
        self.pending[id(pending)] = pending
        selector.register(connection, selectors.EVENT_READ, pending)

    def _drop(self, pending: _Pending, selector: selectors.BaseSelector) -> None:
        if self.pending.pop(id(pending), None) is None:
            return  # dropped already
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(pending.connection)
        with self.state:
            self.in_flight -= len(pending.buffer)
        pending.connection.close()

    def _expire(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for pending in [p for p in self.pending.values() if p.deadline < now]:
            self._drop(pending, selector)

    def _read(self, pending: _Pending, selector: selectors.BaseSelector, service: Service) -> None:
        if id(pending) not in self.pending:
            return  # dropped earlier in this round of events
        try:
            chunk = pending.connection.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        too_large = len(pending.buffer) + len(chunk) > MAX_REQUEST + 1
        with self.state:
            fits = not too_large and self.in_flight + len(chunk) <= MAX_BYTES_IN_FLIGHT
            if fits:
                self.in_flight += len(chunk)  # counted once it is in the buffer
        if not chunk or not fits:
            self._drop(pending, selector)  # closed, or too much: that client goes direct
            return
        pending.buffer += chunk
        if b"\n" not in chunk:
            return
        self.pending.pop(id(pending))
        selector.unregister(pending.connection)
        try:
            message = json.loads(bytes(pending.buffer).partition(b"\n")[0])
        except ValueError:
            message = None
        if not isinstance(message, dict) or not self._dispatch(
            pending.connection, message, len(pending.buffer), service
        ):
            with self.state:
                self.in_flight -= len(pending.buffer)
            pending.connection.close()

    def _dispatch(
        self, connection: socket.socket, message: dict[str, Any], size: int, service: Service
    ) -> bool:
        """Queue a complete request (False: the queue is full); a worker thread answers it
        (a new one while fewer than MAX_WORKERS run: a cold chain's STS calls never hold up
        cache hits)."""
        with self.state:
            if len(self.ready) >= MAX_READY:
                return False
            self.ready.append((connection, message, size))
            start = self.workers < MAX_WORKERS
            if start:
                self.workers += 1
        if start:
            threading.Thread(target=self._work, args=(service,), daemon=True).start()
        return True

    def _work(self, service: Service) -> None:
        while True:
            with self.state:
                if not self.ready:
                    self.workers -= 1
                    return
                connection, message, size = self.ready.popleft()
            try:
                self._answer(connection, message, service)
            finally:
                with self.state:
                    self.in_flight -= size

    def _answer(self, connection: socket.socket, message: dict[str, Any], service: Service) -> None:
        with connection:
            try:
                # the answer may take STS calls; sending it may not take long
                connection.settimeout(SEND_TIME)
                answer = service.handle(message, lambda note: connection.sendall(encode(note)))
                connection.sendall(encode(answer))
            except Exception as error:  # one bad client never stops the agent
                log.debug("agent: request failed: %s", type(error).__name__)

    def _still_ours(self, inode: int) -> bool:
        try:
            return os.stat(self.path).st_ino == inode
        except OSError:
            return False
