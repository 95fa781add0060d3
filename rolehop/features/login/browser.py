"""Open a secret URL in the browser without putting it on the browser's command line.

A process's argv is readable by every user of the machine (``ps``, /proc/PID/cmdline), and
browsers keep theirs in session files. So the browser is given a one-time address,
``http://127.0.0.1:PORT/<random>``; rolehop answers that one request with a 302 to the
secret URL (``Cache-Control: no-store``, ``Referrer-Policy: no-referrer``), anything else
with a 404, and stops after the redirect or after a timeout.

Another user can read that address from the browser's argv, so on Linux the server admits
only connections whose client end a process of this user holds (the kernel is asked about
that exact connection: :mod:`rolehop.loopback.peers`): it checks right at accept and closes
another user's connection, or one whose owner it cannot find, before reading anything from
it. Such a connection uses nothing up. macOS has no such table: there the address itself
(32 random bytes, good for one request) is the only protection, as it was before.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import webbrowser
from collections.abc import Callable

from rolehop.errors import RolehopError
from rolehop.loopback import Admit, Limits, LoopbackServer, Request, Response
from rolehop.loopback.peers import same_user

TIMEOUT = 60.0  # seconds the browser has to come
# a browser opens a few connections at most; nothing here needs a worker
LIMITS = Limits(connections=32, workers=1, queued=0)

# opens a URL in a browser; False when none could be started
Browser = Callable[[str], bool]


class OneTimeRedirect:
    """A server on 127.0.0.1 that redirects one request, at an unguessable path, to
    ``location``; it serves while the ``with`` block runs.

    ``allow`` decides at accept which connections are served at all (see
    :func:`rolehop.loopback.peers.same_user`).
    """

    def __init__(self, location: str, *, allow: Admit = same_user) -> None:
        self._location = location
        self._path = "/" + secrets.token_urlsafe(32)
        self._claimed = False  # only the server's loop thread touches it
        self._served = threading.Event()
        self._server = LoopbackServer(
            self._respond, admit=allow, limits=LIMITS, name="one-time redirect"
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The one-time address: nothing secret, but good for one redirect."""
        return f"http://127.0.0.1:{self._server.server_port}{self._path}"

    def wait(self, timeout: float) -> bool:
        """True once a client took the redirect; False if ``timeout`` seconds passed first."""
        return self._served.wait(timeout)

    def _respond(self, request: Request) -> Response:
        if (
            request.method == "GET"
            and hmac.compare_digest(request.target.encode(), self._path.encode())
            and not self._claimed
        ):
            self._claimed = True  # once, even if the answer does not get through
            return _answer(302, (("Location", self._location),), on_sent=self._served.set)
        return _answer(404)

    def __enter__(self) -> OneTimeRedirect:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.server_close()
        self._thread.join(timeout=5)


def _answer(
    status: int,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    on_sent: Callable[[], None] | None = None,
) -> Response:
    fixed = (("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"))
    return Response(status, headers + fixed, on_sent=on_sent)


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
    allow: Admit = same_user,
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
