"""Open a secret URL in the browser without putting it on the browser's command line.

A process's argv is readable by every user of the machine (``ps``, /proc/PID/cmdline), and
browsers keep theirs in session files. So the browser is given a one-time address,
``http://127.0.0.1:PORT/<random>``; rolehop answers that one request with a 302 to the
secret URL (``Cache-Control: no-store``, ``Referrer-Policy: no-referrer``), anything else
with a 404, and stops after the redirect or after a timeout.

On Linux the redirect goes only to a connection from this user's own processes
(/proc/net/tcp): another user who read the address from argv in time gets a 404.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import socketserver
import threading
import webbrowser
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from rolehop.errors import RolehopError

log = logging.getLogger(__name__)

TIMEOUT = 60.0  # seconds the browser has to come
_TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))

# (client port, server port) -> may this connection have the redirect?
Allow = Callable[[int, int], bool]
# opens a URL in a browser; False when none could be started
Browser = Callable[[str], bool]


def connection_uid(client_port: int, server_port: int, tables: Iterable[str]) -> int | None:
    """The uid owning the client end of a local TCP connection, from /proc/net/tcp texts."""
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            try:
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                uid = int(fields[7])
            except (IndexError, ValueError):
                continue
            if (local_port, remote_port) == (client_port, server_port):
                return uid
    return None


def same_user(client_port: int, server_port: int) -> bool:
    """Whether a process of this user holds the client end (True where that is unknown)."""
    tables = []
    for path in _TCP_TABLES:
        try:
            tables.append(path.read_text())
        except OSError:
            continue
    uid = connection_uid(client_port, server_port, tables)
    return uid is None or uid == os.getuid()


class _Server(HTTPServer):
    def __init__(self, location: str, secret_path: str, allow: Allow) -> None:
        self.location = location
        self.secret_path = secret_path
        self.allow = allow
        self.served = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer's own would look the name of 127.0.0.1 up (getfqdn): seconds, sometimes
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("one-time redirect: a request from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # a client that connects and says nothing cannot hold the one thread

    def do_GET(self) -> None:
        server = self.server
        if (
            hmac.compare_digest(self.path.encode(), server.secret_path.encode())
            and not server.served.is_set()
            and server.allow(self.client_address[1], server.server_port)
        ):
            server.served.set()  # once, even if the answer does not get through
            self._answer(302, server.location)
        else:
            self._answer(404)

    def _answer(self, status: int, location: str | None = None) -> None:
        self.close_connection = True
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("one-time redirect: " + format, *args)


class OneTimeRedirect:
    """A server on 127.0.0.1 that redirects one request, at an unguessable path, to
    ``location``; it serves while the ``with`` block runs."""

    def __init__(self, location: str, *, allow: Allow = same_user) -> None:
        self._server = _Server(location, "/" + secrets.token_urlsafe(32), allow)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The one-time address: nothing secret, but good for one redirect."""
        return f"http://127.0.0.1:{self._server.server_port}{self._server.secret_path}"

    def wait(self, timeout: float) -> bool:
        """True once the redirect was served; False if ``timeout`` seconds passed first."""
        return self._server.served.wait(timeout)

    def __enter__(self) -> OneTimeRedirect:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def default_browser(url: str) -> bool:
    """The first browser Python's :mod:`webbrowser` finds ($BROWSER first), and no other."""
    try:
        return webbrowser.get().open(url)
    except (webbrowser.Error, OSError):
        return False


def open_in_browser(
    url: str,
    *,
    timeout: float = TIMEOUT,
    browser: Browser = default_browser,
    allow: Allow = same_user,
) -> None:
    """Have a browser open ``url`` through a :class:`OneTimeRedirect`.

    Raises a clear error when no browser can be started, or none comes within ``timeout``.
    """
    with OneTimeRedirect(url, allow=allow) as redirect:
        if not browser(redirect.url) and not redirect.wait(0):
            raise RolehopError(
                "no browser could be started ($BROWSER, else the system's): use --print to "
                "print the sign-in URL instead"
            )
        if not redirect.wait(timeout):
            raise RolehopError(
                f"no browser came for the sign-in URL within {timeout:g} seconds: use --print "
                "to print it instead"
            )
