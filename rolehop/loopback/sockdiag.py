"""Exact lookups of TCP sockets through netlink sock_diag (Linux), as ``ss`` does.

One request names a socket by its 4-tuple; the kernel finds it in its hash table and
answers with its state and owner. Reading /proc/net/tcp instead walks every bucket of that
table on every read (tens of milliseconds, more under load or when another user fills the
table), which a flood of connections turns into seconds. Addresses are compared as bytes:
this runs for every connection a flood makes.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator, Sequence

from rolehop.loopback.messages import Address, Link

# a socket's end as the kernel names it: family, address bytes, port
End = tuple[int, bytes, int]

NETLINK_SOCK_DIAG = 4  # not in the socket module
SOCK_DIAG_BY_FAMILY = 20
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
TCP_ESTABLISHED = 1
NO_COOKIE = 0xFFFFFFFF
TIMEOUT = 1.0  # seconds for the answers; the kernel answers as it reads the requests
V4_MAPPED = bytes(10) + b"\xff\xff"

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_REQUEST = struct.Struct("=BBBBI")  # inet_diag_req_v2: family, protocol, ext, pad, states
_ID = struct.Struct("!HH16s16s")  # inet_diag_sockid: ports, addresses (network order)
_ID_REST = struct.Struct("=III")  # interface, cookie
_MESSAGE = struct.Struct("=BBBB")  # inet_diag_msg: family, state, timer, retransmits
_OWNER = struct.Struct("=IIIII")  # expires, receive queue, send queue, uid, inode
_ERROR = struct.Struct("=i")
_UID_AT = _HEADER.size + _MESSAGE.size + _ID.size + _ID_REST.size + 3 * 4


def end(address: Address) -> End:
    """A socket module address as the kernel names it; v4-mapped IPv6 as IPv4."""
    host, port = address[0].partition("%")[0], address[1]
    try:
        return socket.AF_INET, socket.inet_pton(socket.AF_INET, host), port
    except OSError:
        return _unmapped(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host), port)


def _unmapped(family: int, raw: bytes, port: int) -> End:
    if family == socket.AF_INET6 and raw.startswith(V4_MAPPED):
        return socket.AF_INET, raw[12:], port
    return family, raw[:4] if family == socket.AF_INET else raw, port


def owners(links: Sequence[Link]) -> list[int | None]:
    """Who holds the client end of each (peer, local) connection: the uid of the
    ESTABLISHED socket whose local end is peer and whose remote end is local, or None
    where there is none. OSError where sock_diag cannot be used."""
    asked = {number: (end(peer), end(local)) for number, (peer, local) in enumerate(links, 1)}
    found: dict[int, int | None] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as netlink:
        netlink.settimeout(TIMEOUT)
        # one datagram holds every request: the kernel answers each in turn
        netlink.send(b"".join(_request(number, *ends) for number, ends in asked.items()))
        while len(found) < len(asked):
            for number, reply in _messages(netlink.recv(65536)):
                if number in asked:
                    found[number] = _uid(reply, *asked[number])
    return [found[number] for number in asked]


def _request(number: int, client: End, server: End) -> bytes:
    body = (
        _REQUEST.pack(client[0], socket.IPPROTO_TCP, 0, 0, 1 << TCP_ESTABLISHED)
        + _ID.pack(client[2], server[2], client[1], server[1])
        + _ID_REST.pack(0, NO_COOKIE, NO_COOKIE)
    )
    header = _HEADER.pack(_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, number, 0)
    return header + body


def _messages(datagram: bytes) -> Iterator[tuple[int, bytes]]:
    """The netlink messages in a datagram, by sequence number."""
    offset = 0
    while offset + _HEADER.size <= len(datagram):
        length, _, _, number, _ = _HEADER.unpack_from(datagram, offset)
        if length < _HEADER.size:
            raise OSError(errno.EPROTO, "a bad sock_diag answer")
        yield number, datagram[offset : offset + length]
        offset += (length + 3) & ~3


def _uid(reply: bytes, client: End, server: End) -> int | None:
    """The uid in an answer if it is the ESTABLISHED socket asked for; None for no socket
    (ENOENT), or another one (the kernel may offer a listener, or a TIME_WAIT socket, which
    shows uid 0)."""
    _, kind, _, _, _ = _HEADER.unpack_from(reply)
    if kind == NLMSG_ERROR:
        (error,) = _ERROR.unpack_from(reply, _HEADER.size)
        if -error == errno.ENOENT:
            return None
        raise OSError(-error, "sock_diag refused the request")
    if len(reply) < _UID_AT + 4 or client[0] != server[0]:
        return None
    family, state, _, _ = _MESSAGE.unpack_from(reply, _HEADER.size)
    local_port, remote_port, local, remote = _ID.unpack_from(reply, _HEADER.size + _MESSAGE.size)
    ends = (_unmapped(family, local, local_port), _unmapped(family, remote, remote_port))
    (uid,) = struct.unpack_from("=I", reply, _UID_AT)
    return uid if state == TCP_ESTABLISHED and ends == (client, server) else None
