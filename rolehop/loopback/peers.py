"""Which user holds the other end of a loopback TCP connection.

The client end of a connection the server accepted from ``peer`` on ``local`` is the
ESTABLISHED socket whose local address is ``peer`` and whose remote address is ``local``:
the whole 4-tuple, because another user can choose a client address whose *ports* match
the server's own end (binding 127.0.0.N:P to reach 127.0.0.1:P), and TIME_WAIT entries
show uid 0 for any user's closed connection.

On Linux the kernel is asked for that one socket through sock_diag
(:mod:`rolehop.loopback.sockdiag`); where that cannot be used, its tables /proc/net/tcp and
tcp6 are read and parsed. Other systems (macOS) have neither: there a connection's owner is
not checked.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rolehop.loopback import sockdiag
from rolehop.loopback.messages import Address, Link

log = logging.getLogger(__name__)

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Endpoint = tuple[IP, int]
ByteOrder = Literal["little", "big"]
# the uid holding the client end of each (peer, local) connection, None where unknown; None
# for them all where the system cannot tell
OwnerLookup = Callable[[Sequence[Link]], list[int | None] | None]

ESTABLISHED = 0x01
TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


@dataclass(frozen=True)
class Row:
    local: Endpoint
    remote: Endpoint
    state: int
    uid: int


def parse_row(line: str, byteorder: ByteOrder = sys.byteorder) -> Row | None:
    """One line of /proc/net/tcp or tcp6; None for the heading or a line it cannot read.

    Addresses are hex 32-bit words as the kernel holds them (host byte order); an IPv6
    socket talking IPv4 shows v4-mapped addresses, given here as the IPv4 ones.
    """
    fields = line.split()
    if len(fields) < 8:
        return None
    try:
        local, remote = _endpoint(fields[1], byteorder), _endpoint(fields[2], byteorder)
        return Row(local, remote, int(fields[3], 16), int(fields[7]))
    except ValueError:
        return None


def _endpoint(field: str, byteorder: ByteOrder) -> Endpoint:
    words, _, port = field.partition(":")
    if len(words) not in (8, 32) or len(port) != 4:
        raise ValueError(f"not an address: {field!r}")
    raw = b"".join(
        int(words[start : start + 8], 16).to_bytes(4, byteorder)
        for start in range(0, len(words), 8)
    )
    return _unmapped(ipaddress.ip_address(raw)), int(port, 16)


def _unmapped(ip: IP) -> IP:
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return mapped or ip


def endpoint(address: Address) -> Endpoint:
    """A socket module address as the tables' rows give it."""
    return _unmapped(ipaddress.ip_address(address[0])), address[1]


def established_to(text: str, port: int, byteorder: ByteOrder = sys.byteorder) -> Iterator[Row]:
    """The ESTABLISHED rows of one table whose remote port is ``port``.

    The table can hold many thousand rows (other users make them at will), so the others
    are skipped by a plain text search, not parsed: ``:PORT 01 `` only occurs as a remote
    port followed by the ESTABLISHED state.
    """
    needle = f":{port:04X} {ESTABLISHED:02X} "
    found = text.find(needle)
    while found >= 0:
        start = text.rfind("\n", 0, found) + 1
        end = text.find("\n", found)
        end = len(text) if end < 0 else end
        row = parse_row(text[start:end], byteorder)
        if row is not None and row.state == ESTABLISHED and row.remote[1] == port:
            yield row
        found = text.find(needle, end)


class _Index:
    """The uids holding the established connections to some local ports, from TCP tables."""

    def __init__(self, tables: Iterable[str], ports: Iterable[int], byteorder: ByteOrder) -> None:
        self._uids: defaultdict[tuple[Endpoint, Endpoint], set[int]] = defaultdict(set)
        wanted = set(ports)
        for table in tables:
            for port in wanted:
                for row in established_to(table, port, byteorder):
                    self._uids[row.local, row.remote].add(row.uid)

    def uid(self, client: Address, server: Address) -> int | None:
        """Who holds the client end of client→server; None unless exactly one uid does."""
        uids = self._uids.get((endpoint(client), endpoint(server)), set())
        return next(iter(uids)) if len(uids) == 1 else None


def connection_uid(
    client: Address, server: Address, tables: Iterable[str], byteorder: ByteOrder = sys.byteorder
) -> int | None:
    """The uid holding the client end of the connection client→server, from table texts."""
    return _Index(tables, [server[1]], byteorder).uid(client, server)


def read_tables() -> Iterator[str]:
    """/proc/net/tcp, then tcp6, each read when asked for."""
    for path in TABLES:
        try:
            yield path.read_text()
        except OSError:
            continue  # no tcp6 without IPv6; no table at all leaves every owner unknown


class FromTables:
    """An :data:`OwnerLookup` that reads the TCP tables, tcp6 only for the connections tcp
    does not list."""

    def __init__(
        self, read: Callable[[], Iterable[str]] = read_tables, byteorder: ByteOrder = sys.byteorder
    ) -> None:
        self._read = read
        self._byteorder = byteorder

    def __call__(self, links: Sequence[Link]) -> list[int | None]:
        owners: list[int | None] = [None] * len(links)
        ports = {local[1] for _, local in links}
        for table in self._read():
            found = _Index([table], ports, self._byteorder)
            owners = [
                known if known is not None else found.uid(peer, local)
                for known, (peer, local) in zip(owners, links, strict=True)
            ]
            if None not in owners:
                break
        return owners


def from_kernel(links: Sequence[Link]) -> list[int | None] | None:
    """The :data:`OwnerLookup` of this system: sock_diag, else the tables; None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return sockdiag.owners(links)
    except OSError:
        log.debug("sock_diag cannot be used: reading the TCP tables", exc_info=True)
        return FromTables()(links)


class SameUser:
    """Admits the connections whose client end a process of ``uid`` (this user) holds.

    Fails closed: a connection whose owner is unknown is refused. Where the system cannot
    tell owners at all (``owners`` gives None: macOS) every connection is admitted.
    """

    def __init__(self, owners: OwnerLookup = from_kernel, *, uid: int | None = None) -> None:
        self._owners = owners
        self._uid = uid

    def __call__(self, links: Sequence[Link]) -> list[bool]:
        owners = self._owners(links)
        if owners is None:
            return [True] * len(links)
        uid = os.getuid() if self._uid is None else self._uid
        for (peer, _), owner in zip(links, owners, strict=True):
            if owner != uid:
                held_by = "an unknown user" if owner is None else f"uid {owner}"
                log.debug("connection from %s:%d is held by %s, not uid %d", *peer, held_by, uid)
        return [owner == uid for owner in owners]


same_user = SameUser()
