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
import logging
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable

from rolehop.agent.peer import peer_uid
from rolehop.agent.protocol import encode, read_message
from rolehop.agent.service import Service
from rolehop.hardening import harden as harden  # re-exported for rolehop.agent.__main__

log = logging.getLogger(__name__)
START_WAIT = 2.0  # how long a new agent waits for an old one (asked to stop) to go
POLL = 0.5


class UnsafeDirectory(Exception):
    pass


def private_directory(path: str, uid: int) -> None:
    """Create ``path`` 0700, or accept it only if it is ours and no one else's to enter."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and info.st_mode & 0o077:
        os.chmod(path, 0o700)  # ours, made by a mkdir -p with the default mode
        info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        raise UnsafeDirectory(f"{path} must be a directory of uid {uid} with mode 0700")


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

    def run(self) -> int:
        """Serve until idle, stopped or replaced; 0 also when another agent already runs."""
        private_directory(os.path.dirname(self.path), self.uid)
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
            # one thread a connection: a cold chain's STS calls never hold up cache hits
            threading.Thread(
                target=self._serve_one, args=(connection, service), daemon=True
            ).start()

    def _serve_one(self, connection: socket.socket, service: Service) -> None:
        with connection:
            self._one(connection, service)

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
            message = read_message(connection)
            connection.settimeout(None)  # the answer may take STS calls
            answer = service.handle(message, lambda note: connection.sendall(encode(note)))
            connection.sendall(encode(answer))
        except Exception as error:  # one bad client never stops the agent
            log.debug("agent: request failed: %s", type(error).__name__)
