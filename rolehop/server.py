"""A local credentials endpoint in the format of the ECS container credentials provider.

For processes that run for hours (``rolehop exec --server``, ``rolehop serve``): every AWS
SDK knows how to fetch credentials from ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with the
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` header, and fetches again before they expire. Each
request asks rolehop for the profile's credentials, so the SDK always gets credentials the
cache considers good for ``refresh_margin`` (more than the SDKs' 15 minutes).

Only for the process it was made for: bound to 127.0.0.1 and nothing else, a random port,
a token of 32 random bytes compared in constant time (no token: 401, a wrong one: 403), and
a ``Host`` header that must name the loopback address (a web page cannot rebind a name of
its own to it). Secrets are never logged; refused requests are, at debug level.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rolehop.creds import Credentials, format_expiration
from rolehop.errors import RolehopError

log = logging.getLogger(__name__)
PATH = "/rolehop/credentials"
LOOPBACK = "127.0.0.1"
HOST_NAMES = ("127.0.0.1", "localhost")


class CredentialsServer(ThreadingHTTPServer):
    """Serves ``fetch()`` (the profile's credentials, from rolehop's cache or STS).

    When ``fetch`` fails, credentials fetched before are served while they have not
    expired, and ``report`` is told why (an STS outage must not stop a long job at once).
    """

    daemon_threads = True

    def __init__(
        self,
        fetch: Callable[[], Credentials],
        role_arn: str,
        *,
        clock: Callable[[], datetime],
        report: Callable[[str], None],
        token: str | None = None,
    ) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.fetch = fetch
        self.role_arn = role_arn
        self.clock = clock
        self.report = report
        self.token = token or secrets.token_urlsafe(32)
        self.last: Credentials | None = None
        self.lock = threading.Lock()  # one refresh at a time; the others get its result

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_port}{PATH}"

    def child_environment(self) -> dict[str, str]:
        """What a process needs to use this endpoint (and no static keys)."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.token,
        }

    def credentials(self) -> Credentials | None:
        """Fresh from rolehop, or the last ones while they are valid, or None."""
        with self.lock:
            try:
                self.last = self.fetch()
            except RolehopError as error:
                usable = self.last is not None and (
                    self.last.expiration is None or self.last.expiration > self.clock()
                )
                self.report(
                    f"credentials server: {error}"
                    + ("; still serving the previous credentials" if usable else "")
                )
                return self.last if usable else None
            return self.last

    def document(self, credentials: Credentials) -> dict[str, Any]:
        document: dict[str, Any] = {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "Token": credentials.session_token or "",
            "RoleArn": self.role_arn,
        }
        if credentials.expiration is not None:
            document["Expiration"] = format_expiration(credentials.expiration)
        return document


class _Handler(BaseHTTPRequestHandler):
    server: CredentialsServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        refusal = self._refusal()
        if refusal is not None:
            status, why = refusal
            log.debug("credentials server: refused %s %s: %s", self.command, self.path, why)
            self._send(status, {"message": why})
            return
        credentials = self.server.credentials()
        if credentials is None:
            self._send(500, {"message": "no credentials: see rolehop's error output"})
            return
        self._send(200, self.server.document(credentials))

    def do_POST(self) -> None:
        self._send(405, {"message": "GET only"})

    do_PUT = do_DELETE = do_POST

    def _refusal(self) -> tuple[int, str] | None:
        host = (self.headers.get("Host") or "").strip().lower()
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
        if name not in HOST_NAMES or (port and port != str(self.server.server_port)):
            return 403, "Host is not this loopback endpoint"
        if self.path.split("?", 1)[0] != PATH:
            return 404, "not found"
        given = self.headers.get("Authorization")
        if given is None:
            return 401, "no authorization token"
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            return 403, "wrong authorization token"
        return None

    def _send(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # http.server would print every request line to stderr


def serving(server: CredentialsServer) -> threading.Thread:
    """Serve in a daemon thread; ``server.shutdown()`` ends it."""
    thread = threading.Thread(target=server.serve_forever, name="credentials-server")
    thread.daemon = True
    thread.start()
    return thread
