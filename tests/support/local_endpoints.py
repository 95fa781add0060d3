"""Local stand-ins for the keys, MFA and credential_source integration tests.

- :class:`FakeEndpoint`: a tiny HTTP server on 127.0.0.1 (a free port) in a thread, answering
  with a function of the request and remembering every request: the ECS container
  credentials endpoint, EC2 instance metadata (IMDSv2) and an STS that says no are played
  by it. Its ``Date`` header tells the real time, or its own ``clock``'s.
- :func:`sts_recording`: moto's request recorder, writing outside the test's ``tmp_path``
  (the recording holds session tokens, and some tests check that no file there does), and
  :class:`StsCall`, one recorded STS request: its action, parameters and the access key
  (and session token) that signed it. moto's ``data.json`` lists AssumeRole calls only;
  the recorder also sees GetSessionToken and who signed each call.

Not a test module: shared by the integration tests; the ``recording`` fixture
(tests/integration/conftest.py) wraps :func:`sts_recording`.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Seen:
    """One request a :class:`FakeEndpoint` received."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


# what a fake answers: (HTTP status, body)
Respond = Callable[[Seen], tuple[int, str]]


class _Handler(BaseHTTPRequestHandler):
    server: FakeEndpoint

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        seen = Seen(self.command, self.path, dict(self.headers.items()), body)
        self.server.seen.append(seen)
        status, body = self.server.respond(seen)
        data = body.encode("utf-8")
        self.send_response(status)
        kind = {"{": "application/json", "<": "text/xml"}.get(body[:1], "text/plain")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = _answer

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is None and self.server.clock is not None:
            timestamp = self.server.clock().timestamp()
        return super().date_time_string(timestamp)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeEndpoint(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, respond: Respond, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond = respond
        self.seen: list[Seen] = []
        # the time of the Date header (None: the real time); a test comparing clocks sets it
        self.clock = clock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@contextmanager
def serving(
    respond: Respond, clock: Callable[[], datetime] | None = None
) -> Iterator[FakeEndpoint]:
    """A :class:`FakeEndpoint` running in a thread for as long as the block runs."""
    endpoint = FakeEndpoint(respond, clock)
    thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.shutdown()
        endpoint.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class StsCall:
    action: str
    params: dict[str, str]
    key_id: str
    session_token: str | None


def _post(url: str) -> None:
    request = urllib.request.Request(url, method="POST")  # noqa: S310 - loopback only
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
        pass


# the key rolehop.features.demo.Emulator signs its own set-up calls with (seed, admin_of)
SETUP_KEY = "demo"


class StsRecording:
    """What moto's recorder saw since :func:`sts_recording` started it, but the
    emulator's own set-up calls."""

    def __init__(self, moto_url: str) -> None:
        self.moto_url = moto_url

    def _recorded(self) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
        """(form parameters, lower-cased headers) of every recorded request."""
        url = f"{self.moto_url}/moto-api/recorder/download-recording"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
            text = response.read().decode("utf-8")
        for line in text.splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8")
            headers = {name.lower(): value for name, value in entry["headers"].items()}
            yield dict(urllib.parse.parse_qsl(body)), headers

    def unsigned(self, action: str) -> list[dict[str, str]]:
        """The parameters of every recorded ``action`` request sent without a signature."""
        return [
            params
            for params, headers in self._recorded()
            if params.get("Action") == action and "authorization" not in headers
        ]

    def calls(self, action: str | None = None) -> list[StsCall]:
        """Recorded STS requests (of ``action`` only, if given), in call order."""
        calls = []
        for params, headers in self._recorded():
            authorization = headers.get("authorization", "")
            if "/sts/aws4_request" not in authorization or "Action" not in params:
                continue
            key_id = authorization.split("Credential=", 1)[1].split("/", 1)[0]
            if key_id == SETUP_KEY:
                continue
            call = StsCall(
                params.pop("Action"), params, key_id, headers.get("x-amz-security-token")
            )
            if action is None or call.action == action:
                calls.append(call)
        return calls


@contextmanager
def sts_recording(
    moto_url: str, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StsRecording]:
    """Record every request to the moto server into ``directory`` while the block runs.

    The server is a ThreadedMotoServer in this process, so its recorder is this module
    object; the recording's path is read only at import, hence the attribute.
    """
    from moto.moto_api import recorder

    monkeypatch.setattr(recorder, "_location", str(directory / "moto-recording.jsonl"))
    _post(f"{moto_url}/moto-api/recorder/reset-recording")
    _post(f"{moto_url}/moto-api/recorder/start-recording")
    try:
        yield StsRecording(moto_url)
    finally:
        _post(f"{moto_url}/moto-api/recorder/stop-recording")
