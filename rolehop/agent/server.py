"""The agent process: a Unix socket in a 0700 directory, one request per connection.

One agent per socket path: it holds an ``flock`` on ``<socket>.lock`` for its whole life,
so a socket file without a lock holder is stale and is replaced. It serves peers of its own
uid only (SO_PEERCRED / LOCAL_PEERCRED), exits after ``idle_timeout`` seconds without a
request, when asked to stop, or when its socket file is removed or replaced.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from rolehop import private
from rolehop.agent.peer import peer_uid
from rolehop.agent.protocol import MAX_REQUEST, AgentUnavailable, encode
from rolehop.agent.service import Service

log = logging.getLogger(__name__)
START_WAIT = 2.0  # how long a new agent waits for an old one (asked to stop) to go
POLL = 0.5
# Bounds for the agent's own user's clients (others are refused unread): connections served
# at once (one thread each; the next ones are closed at once and go the direct way), the
# bytes of requests being read, and the time a request may take to arrive.
MAX_CONNECTIONS = 32
MAX_BYTES_IN_FLIGHT = 16 << 20
REQUEST_TIME = 2.0


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


def harden() -> None:
    """Keep the credentials in memory out of core dumps and other processes' ptrace."""
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


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
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.in_flight = 0  # bytes of requests being read, all connections together
        self.in_flight_lock = threading.Lock()

    def _read(self, connection: socket.socket) -> dict[str, Any]:
        """One request: at most MAX_REQUEST bytes, within REQUEST_TIME, and only while
        all requests being read stay under MAX_BYTES_IN_FLIGHT."""
        deadline = time.monotonic() + REQUEST_TIME
        buffer = b""
        try:
            while b"\n" not in buffer:
                left = deadline - time.monotonic()
                if left <= 0 or len(buffer) > MAX_REQUEST:
                    raise AgentUnavailable("request too slow or too large")
                connection.settimeout(left)
                chunk = connection.recv(65536)
                if not chunk:
                    raise AgentUnavailable("connection closed mid-request")
                with self.in_flight_lock:
                    if self.in_flight + len(chunk) > MAX_BYTES_IN_FLIGHT:
                        raise AgentUnavailable("too many bytes in flight")
                    self.in_flight += len(chunk)
                buffer += chunk
        finally:
            with self.in_flight_lock:
                self.in_flight -= len(buffer)
        message = json.loads(buffer.partition(b"\n")[0])
        if not isinstance(message, dict):
            raise AgentUnavailable("not a JSON object")
        return message

    def run(self) -> int:
        """Serve until idle, stopped or replaced; 0 also when another agent already runs."""
        os.close(private.open_directory(os.path.dirname(self.path), self.uid))
        lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
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
            listener.listen(64)
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
        last = time.monotonic()
        while not service.stopping:
            ready, _, _ = select.select([listener], [], [], POLL)
            if not ready:
                if service.busy():
                    last = time.monotonic()  # working for someone is not idle
                elif time.monotonic() - last > service.idle_timeout:
                    log.debug("agent: idle for %ss, exiting", service.idle_timeout)
                    return
                if not self._still_ours(inode):
                    log.debug("agent: socket removed or replaced, exiting")
                    return
                continue
            try:
                connection, _ = listener.accept()
            except OSError as error:
                if error.errno in (errno.EINTR, errno.EAGAIN, errno.ECONNABORTED):
                    continue
                raise
            last = time.monotonic()
            if not self.slots.acquire(blocking=False):
                connection.close()  # too many at once: that client goes the direct way
                continue
            # one thread a connection: a cold chain's STS calls never hold up cache hits
            threading.Thread(
                target=self._serve_one, args=(connection, service), daemon=True
            ).start()

    def _serve_one(self, connection: socket.socket, service: Service) -> None:
        try:
            with connection:
                self._one(connection, service)
        finally:
            self.slots.release()

    def _still_ours(self, inode: int) -> bool:
        try:
            return os.stat(self.path).st_ino == inode
        except OSError:
            return False

    def _one(self, connection: socket.socket, service: Service) -> None:
        connection.settimeout(2.0)
        try:
            uid = self.peer(connection)
        except OSError:
            uid = None
        if uid != self.uid:
            log.warning("agent: refused a peer of uid %s", uid)
            return
        try:
            message = self._read(connection)
            connection.settimeout(None)  # the answer may take STS calls
            answer = service.handle(message, lambda note: connection.sendall(encode(note)))
            connection.sendall(encode(answer))
        except Exception as error:  # one bad client never stops the agent
            log.debug("agent: request failed: %s", type(error).__name__)
