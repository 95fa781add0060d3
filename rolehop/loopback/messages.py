"""What the loopback servers read and write: one HTTP/1.x request head, one response.

Only what rolehop's loopback endpoints need: a request line in origin form
(``GET /path?query HTTP/1.1``) and headers. A body is never read: every answer ends its
connection (``Connection: close``), so nothing left unread can be taken for a next request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from http.client import responses

# an address as the socket module gives it: (host, port)
Address = tuple[str, int]
# (peer, local) addresses of a connection the server accepted
Link = tuple[Address, Address]

_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110: methods, field names
_MAX_FIELDS = 100
_TARGET = re.compile(r"/[!-~]*")  # origin form, visible ASCII only: nothing to smuggle into logs
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")


class BadRequest(Exception):
    """A request head the server answers with ``status`` and nothing else."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


class Headers:
    """A request's header fields, looked up without regard to case."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = [(name.lower(), value) for name, value in fields]

    def get(self, name: str) -> str | None:
        """The first field called ``name``; None if there is none."""
        return next(iter(self.get_all(name)), None)

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for field, value in self._fields if field == wanted]


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # as sent: the path and any query
    version: str
    headers: Headers
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
        lines = [f"HTTP/1.1 {self.status} {responses.get(self.status, 'Unknown')}"]
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
    line, *fields = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    words = line.split(" ")
    if len(words) != 3:
        raise BadRequest(400, "not a request line")
    method, target, version = words
    if not _TOKEN.fullmatch(method) or not _TARGET.fullmatch(target):
        raise BadRequest(400, "a bad method or target")
    if version not in _VERSIONS:
        raise BadRequest(505, "not HTTP/1.0 or HTTP/1.1")
    headers = Headers(_fields([field for field in fields if field]))
    if len(headers.get_all("Host")) > 1:
        raise BadRequest(400, "more than one Host header")
    return Request(method, target, version, headers, peer)


def _fields(lines: list[str]) -> list[tuple[str, str]]:
    if len(lines) > _MAX_FIELDS:
        raise BadRequest(431, "too many header fields")
    fields = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):  # also a folded line: it starts with space
            raise BadRequest(400, "a bad header field")
        fields.append((name, value.strip(" \t")))
    return fields
