"""A ``$BROWSER`` for the SSO tests: it plays the person who approves in the browser.

Usage: ``python tests/support/sso_browser.py URL`` (as ``$BROWSER``, with or without ``%s``:
webbrowser puts the address in its place, or after the command). It appends JSON lines to
the file named by ``SSO_BROWSER_LOG`` (if set), each with an ``event``:

- ``open``: the URL it was given (and ``argv``, ``mode``);
- ``hop``: a GET, without following: ``url``, ``status``, ``location`` (or ``error``);
- ``tampered``: ``from`` and ``to``, the redirect before and after its ``state`` changed;
- ``done``: nothing more will follow.

``SSO_BROWSER_MODE`` says what it does with the URL:

- ``follow`` (the default): GET it (a device page: that approves the code) and follow its
  redirects, to the client's loopback ``/oauth/callback`` too;
- ``record-only``: nothing but the ``open`` line (a browser that never loads the page);
- ``tamper-state``: follow, but change the ``state`` of the first redirect before following
  it, as an attacker's page would: the client must refuse the code.

It exits 0 at once. A client waits for its ``$BROWSER`` to exit (webbrowser does, for a
command), and only then answers on its loopback server, which is already listening: so the
first GET is made here, and the redirects are followed by a detached child of this script,
with timeouts. A test reads ``done`` in the log (or the client's callback) to know it is over.

Standard library only: it runs with any Python.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.parse
from typing import Any

TIMEOUT = 10  # seconds, for each connection and answer
MAX_HOPS = 5
MODES = ("follow", "record-only", "tamper-state")


def log(**record: Any) -> None:
    """Append ``record`` to the log, as one line (appends of one write do not interleave)."""
    path = os.environ.get("SSO_BROWSER_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")


def fetch(url: str) -> dict[str, Any]:
    """GET ``url`` without following a redirect: its status and Location, or the error."""
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.netloc, timeout=TIMEOUT)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target)
        answer = connection.getresponse()
        answer.read()
        return {"url": url, "status": answer.status, "location": answer.getheader("Location")}
    except OSError as error:
        return {"url": url, "error": f"{type(error).__name__}: {error}"}
    finally:
        connection.close()


def redirect_of(hop: dict[str, Any]) -> str | None:
    """Where ``hop`` redirects to (an absolute URL), if it does."""
    location = hop.get("location")
    if location and 300 <= hop.get("status", 0) < 400:
        return urllib.parse.urljoin(str(hop["url"]), str(location))
    return None


def tamper(url: str) -> str:
    """``url`` with another ``state`` in its query."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query["state"] = "tampered-" + query.get("state", "")
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def follow(url: str) -> None:
    """GET ``url`` and the redirects after it, then log ``done``."""
    for _ in range(MAX_HOPS):
        hop = fetch(url)
        log(event="hop", **hop)
        next_url = redirect_of(hop)
        if next_url is None:
            break
        url = next_url
    log(event="done")


def main(argv: list[str]) -> int:
    """Run as the browser (``URL``), or as its detached child (``--follow URL``)."""
    if len(argv) == 3 and argv[1] == "--follow":
        follow(argv[2])
        return 0
    if len(argv) != 2:
        print(f"usage: {argv[0]} URL", file=sys.stderr)
        return 2
    url, mode = argv[1], os.environ.get("SSO_BROWSER_MODE", "follow")
    if mode not in MODES:
        print(f"SSO_BROWSER_MODE must be one of {', '.join(MODES)}: {mode!r}", file=sys.stderr)
        return 2
    log(event="open", url=url, argv=argv, mode=mode)
    if mode == "record-only":
        log(event="done")
        return 0
    hop = fetch(url)
    log(event="hop", **hop)
    next_url = redirect_of(hop)
    if next_url is None:
        log(event="done")
        return 0
    if mode == "tamper-state":
        tampered = tamper(next_url)
        log(event="tampered", **{"from": next_url, "to": tampered})
        next_url = tampered
    subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--follow", next_url],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives this process, whatever its launcher does to it
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
