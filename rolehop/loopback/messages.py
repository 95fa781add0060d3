"""What the loopback servers read and write: one HTTP/1.x request head, one response.

Only what rolehop's loopback endpoints need: a request line in origin form
(``GET /path?query HTTP/1.1``) and headers. A body is never read: every answer ends its
connection (``Connection: close``), so nothing left unread can be taken for a next request.
"""

from __future__ import annotations

import http.client
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

# an address as the socket module gives it: (host, port)
Address = tuple[str, int]
# (peer, local) addresses of a connection the server accepted
Link = tuple[Address, Address]

_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_TARGET = re.compile(r"/[!-~]*")  # origin form, visible ASCII only: nothing to smuggle into logs
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")


class BadRequest(Exception):
    """A request head the server answers with ``status`` and nothing else."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # as sent: the path and any query
    version: str
    headers: http.client.HTTPMessage
    peer: Address

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    # called once every byte of the answer went to the kernel, not before (never for an
    # answer the client did not take)
    on_sent: Callable[[], None] | None = None

    def encode(self) -> bytes:
        fields = [*self.headers, ("Content-Length", str(len(self.body))), ("Connection", "close")]
        if any(_breaks_a_line(part) for field in fields for part in field):
            raise ValueError("a response header with a line break")
        lines = [f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}"]
        lines += [f"{name}: {value}" for name, value in fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def _breaks_a_line(text: str) -> bool:
    return "\r" in text or "\n" in text


def head_length(data: bytes | bytearray) -> int | None:
    """Bytes up to the end of the empty line that ends a request head; None before it came."""
    ends = [found + len(end) for end in _HEAD_ENDS if (found := data.find(end)) >= 0]
    return min(ends, default=None)


def parse_request(head: bytes, peer: Address) -> Request:
    """The request in ``head`` (a whole head, see :func:`head_length`); else BadRequest."""
    line, _, fields = head.partition(b"\n")
    words = line.rstrip(b"\r").decode("latin-1").split(" ")
    if len(words) != 3:
        raise BadRequest(400, "not a request line")
    method, target, version = words
    if not _METHOD.fullmatch(method) or not _TARGET.fullmatch(target):
        raise BadRequest(400, "a bad method or target")
    if version not in _VERSIONS:
        raise BadRequest(505, "not HTTP/1.0 or HTTP/1.1")
    try:
        headers = http.client.parse_headers(io.BytesIO(fields))
    except http.client.HTTPException:
        raise BadRequest(431, "too many headers") from None
    if len(headers.get_all("Host", [])) > 1:
        raise BadRequest(400, "more than one Host header")
    return Request(method, target, version, headers, peer)
