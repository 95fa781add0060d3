"""A local credentials endpoint in the format of the ECS container credentials provider.

For processes that run for hours (``rolehop exec --server``, ``rolehop serve``): every AWS
SDK knows how to fetch credentials from ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with the
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` header, and fetches again before they expire. Each
request asks rolehop for the profile's credentials, so the SDK always gets credentials the
cache considers good for ``refresh_margin`` (more than the SDKs' 15 minutes).

Only for the process it was made for: bound to 127.0.0.1 and nothing else, a random port,
a token of 32 random bytes compared in constant time (no token: 401, a wrong one: 403), and
a ``Host`` header that must name the loopback address (a web page cannot rebind a name of
its own to it; a request without one is refused too). Secrets are never logged; refused
requests are, at debug level.

Another local user can reach the port (the token is what authenticates, and a user may
hand it to another account on purpose), so a flood must not take it down: the server is a
:class:`rolehop.loopback.LoopbackServer`. Refusals are answered on its loop without a
thread; only requests with the token wait for one of its few workers (a fetch may call STS).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rolehop.common.creds import Credentials, format_expiration
from rolehop.errors import RolehopError
from rolehop.loopback import LOOPBACK, Limits, LoopbackServer, Request, Response, Work

log = logging.getLogger(__name__)
PATH = "/rolehop/credentials"
HOST_NAMES = ("127.0.0.1", "localhost")
# one refresh runs at a time (the lock below): a few workers and a short queue are plenty
LIMITS = Limits(connections=128, workers=4, queued=16)


class CredentialsServer(LoopbackServer):
    """Serves ``fetch()`` (the profile's credentials, from rolehop's cache or STS).

    When ``fetch`` fails, credentials fetched before are served while they have not
    expired, and ``report`` is told why (an STS outage must not stop a long job at once).
    """

    def __init__(
        self,
        fetch: Callable[[], Credentials],
        role_arn: str,
        *,
        clock: Callable[[], datetime],
        report: Callable[[str], None],
        token: str | None = None,
    ) -> None:
        super().__init__(self._respond, limits=LIMITS, name="credentials server")
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

    def _respond(self, request: Request) -> Response | Work:
        """On the server's loop: refusals at once, the credentials through a worker."""
        if request.method != "GET":
            return _json(405, {"message": "GET only"})
        refusal = self._refusal(request)
        if refusal is not None:
            status, why = refusal
            log.debug("credentials server: refused %s %s: %s", request.method, request.path, why)
            return _json(status, {"message": why})
        return self._serve

    def _serve(self) -> Response:
        credentials = self.credentials()
        if credentials is None:
            return _json(500, {"message": "no credentials: see rolehop's error output"})
        return _json(200, self.document(credentials))

    def _refusal(self, request: Request) -> tuple[int, str] | None:
        host = (request.headers.get("Host") or "").strip().lower()
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
        if name not in HOST_NAMES or (port and port != str(self.server_port)):
            return 403, "Host is not this loopback endpoint"
        if request.path != PATH:
            return 404, "not found"
        given = request.headers.get("Authorization")
        if given is None:
            return 401, "no authorization token"
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return 403, "wrong authorization token"
        return None


def _json(status: int, document: dict[str, Any]) -> Response:
    headers = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))
    return Response(status, headers, json.dumps(document).encode())


def serving(server: CredentialsServer) -> threading.Thread:
    """Serve in a daemon thread; ``server.shutdown()`` ends it."""
    thread = threading.Thread(target=server.serve_forever, name="credentials-server")
    thread.daemon = True
    thread.start()
    return thread
