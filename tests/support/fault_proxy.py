"""A fault-injecting HTTP proxy in front of the moto server, for the STS fault tests.

:class:`FaultProxy` listens on 127.0.0.1 (a free port) and forwards every request to the
upstream (the moto server) unless it was told, with :meth:`FaultProxy.fail`, to answer the
next N (matching) requests with a fault instead:

- ``"error"``: HTTP 500, an STS-style XML ``InternalFailure``;
- ``"throttle"``: HTTP 400 with ``<Code>Throttling</Code>``, the form STS uses;
- ``"hang"``: read the request and answer nothing for ``seconds``, then close;
- ``"close"``: read the request and close the connection without a response.

Every request is remembered (:attr:`FaultProxy.requests`) with its STS action and what was
done with it, so a test counts exactly what reached the endpoint. Everything is bounded: a
fault applies to at most N requests, a hang ends by itself (at the latest when the proxy
stops), forwarding has a timeout. Use :func:`running` to start and always stop one.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import sys
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["error", "throttle", "hang", "close"]
# what happened to a request: one of the modes, or "forwarded" (upstream's answer relayed)
# or "upstream-failed" (the proxy could not reach upstream: answered 502)
Outcome = Literal["forwarded", "upstream-failed", "error", "throttle", "hang", "close"]

MAX_HANG = 60.0  # no hang outlives a minute, even if the proxy is never stopped
FORWARD_TIMEOUT = 10.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te"}

_STS_ERROR = """\
<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>{kind}</Type>
    <Code>{code}</Code>
    <Message>{message}</Message>
  </Error>
  <RequestId>00000000-0000-0000-0000-fa0170000000</RequestId>
</ErrorResponse>
"""
_ANSWERS: dict[str, tuple[int, str]] = {
    "error": (
        500,
        _STS_ERROR.format(
            kind="Receiver", code="InternalFailure", message="injected by the fault proxy"
        ),
    ),
    "throttle": (
        400,
        _STS_ERROR.format(kind="Sender", code="Throttling", message="Rate exceeded"),
    ),
}


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the proxy received: its STS action and parameters (from the form body)."""

    method: str
    path: str
    params: dict[str, str]
    body: bytes = field(repr=False)

    @property
    def action(self) -> str | None:
        return self.params.get("Action")


Match = Callable[[ProxiedRequest], bool]


@dataclass
class _Fault:
    mode: Mode
    remaining: int
    match: Match | None
    seconds: float


@dataclass(frozen=True)
class Handled:
    request: ProxiedRequest
    outcome: Outcome


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"  # as STS: botocore may keep the connection alive

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        params = dict(urllib.parse.parse_qsl(body.decode("utf-8", errors="replace")))
        request = ProxiedRequest(self.command, self.path, params, body)
        fault = self.server._take_fault(request)
        if fault is None:
            outcome: Outcome = "forwarded" if self._forward(body) else "upstream-failed"
            self.server._record(request, outcome)
            return
        self.server._record(request, fault.mode)
        if fault.mode in _ANSWERS:
            status, text = _ANSWERS[fault.mode]
            self._send(status, [("Content-Type", "text/xml")], text.encode("utf-8"))
            return
        if fault.mode == "hang":
            self.server._stopping.wait(fault.seconds)
        self._drop()

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def _forward(self, body: bytes) -> bool:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))  # the signed Host header is kept as sent
        upstream = http.client.HTTPConnection(
            self.server.upstream_host, self.server.upstream_port, timeout=FORWARD_TIMEOUT
        )
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        except (OSError, http.client.HTTPException):
            self._send(502, [("Content-Type", "text/plain")], b"fault proxy: upstream failed")
            return False
        finally:
            upstream.close()
        self._send(response.status, kept, data)
        return True

    def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """Close the connection with no response at all."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have given up first
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or parsed.hostname is None or parsed.port is None:
            raise ValueError(f"upstream must be http://HOST:PORT, not {upstream!r}")
        self.upstream_host, self.upstream_port = parsed.hostname, parsed.port
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._handled: list[Handled] = []
        self._stopping = threading.Event()
        self.handler_errors: list[BaseException] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def fail(
        self,
        mode: Mode,
        times: int,
        *,
        match: Match | None = None,
        seconds: float = 30.0,
    ) -> None:
        """Answer the next ``times`` requests (those ``match`` accepts, if given) with
        ``mode``; a ``"hang"`` lasts ``seconds`` (at most :data:`MAX_HANG`)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        if mode not in ("error", "throttle", "hang", "close"):
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self._faults.append(_Fault(mode, times, match, min(seconds, MAX_HANG)))

    def clear(self) -> None:
        """Forget the faults not yet used up: every request is forwarded from now on."""
        with self._lock:
            self._faults.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self._handled.clear()

    def _take_fault(self, request: ProxiedRequest) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.match is None or fault.match(request)):
                    fault.remaining -= 1
                    return fault
        return None

    def _record(self, request: ProxiedRequest, outcome: Outcome) -> None:
        with self._lock:
            self._handled.append(Handled(request, outcome))

    @property
    def requests(self) -> list[Handled]:
        """Every request so far, in arrival order, with its outcome."""
        with self._lock:
            return list(self._handled)

    def outcomes(self, action: str | None = None) -> Counter[str]:
        """How many requests (of STS ``action`` only, if given) ended in each outcome."""
        return Counter(
            handled.outcome
            for handled in self.requests
            if action is None or handled.request.action == action
        )

    def count(self, action: str | None = None) -> int:
        """How many requests (of ``action`` only, if given) reached the proxy."""
        return sum(self.outcomes(action).values())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hung up mid-answer is no test failure; keep the rest for the test
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError | TimeoutError):
            self.handler_errors.append(error)

    def stop(self) -> None:
        """Release every hang, stop serving and close the socket."""
        self._stopping.set()
        self.shutdown()
        self.server_close()


@contextmanager
def running(upstream: str) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of ``upstream``, serving in a thread during the block."""
    proxy = FaultProxy(upstream)
    thread = threading.Thread(target=proxy.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.stop()
        thread.join(timeout=5)
