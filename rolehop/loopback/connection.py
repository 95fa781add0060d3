"""The loopback server's plumbing: its limits, one client connection, and a waker."""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from rolehop.loopback.messages import Address


@dataclass(frozen=True)
class Limits:
    connections: int = 128  # open at once; beyond, the oldest still reading is dropped
    head_bytes: int = 8192  # request line and headers
    deadline: float = 10.0  # seconds to send a whole request head, and to take the answer
    workers: int = 4  # threads for work, started as needed
    queued: int = 16  # work waiting for a thread; beyond, 503
    # the listen queue (the kernel caps it, at 4096 by default): a full one drops new
    # clients' SYNs, and they try again only a second later
    backlog: int = 4096


@dataclass(eq=False)
class Connection:
    """One client's connection, as the loop sees it (only the loop's thread touches it)."""

    sock: socket.socket
    peer: Address
    deadline: float | None  # None while a worker answers: the pool bounds that
    received: bytearray = field(default_factory=bytearray)
    outgoing: bytes = b""
    on_sent: Callable[[], None] | None = None
    reading: bool = True  # still sending its request: the one kind a flood is made of
    events: int = 0  # what the selector watches it for
    closed: bool = False

    def watch(self, selector: selectors.BaseSelector, events: int) -> None:
        """Have ``selector`` watch for ``events`` (0: not at all)."""
        if events == self.events:
            return
        if not self.events:
            selector.register(self.sock, events, self)
        elif not events:
            selector.unregister(self.sock)
        else:
            selector.modify(self.sock, events, self)
        self.events = events

    def close(self, selector: selectors.BaseSelector, *, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(KeyError, ValueError):
            self.watch(selector, 0)
        if reset:
            abort(self.sock)
        else:
            self.sock.close()


def abort(sock: socket.socket) -> None:
    """Close with a reset: a refused or dropped connection leaves no TIME_WAIT behind."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Waker:
    """Wakes a selector loop from another thread: a byte on a socket pair."""

    def __init__(self) -> None:
        self.reader, self._writer = socket.socketpair()
        self.reader.setblocking(False)
        self._writer.setblocking(False)

    def wake(self) -> None:
        # full: a wake is pending anyway; closed: nothing is left to wake
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")

    def drain(self) -> None:
        try:
            while self.reader.recv(512):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self.reader.close()
        self._writer.close()
