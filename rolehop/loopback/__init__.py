"""Bounded HTTP/1.1 servers on 127.0.0.1 for rolehop's local endpoints.

:class:`LoopbackServer` holds what every one of them needs (bounded connections, time and
threads; see :mod:`rolehop.loopback.http_server`); :mod:`rolehop.loopback.peers` tells which
user holds the other end of a connection, for servers that serve this user only.
"""

from __future__ import annotations

from rolehop.loopback.connection import Limits
from rolehop.loopback.http_server import LOOPBACK, Admit, LoopbackServer, Respond, Work
from rolehop.loopback.messages import Address, Link, Request, Response

__all__ = [
    "LOOPBACK",
    "Address",
    "Admit",
    "Limits",
    "Link",
    "LoopbackServer",
    "Request",
    "Respond",
    "Response",
    "Work",
]
