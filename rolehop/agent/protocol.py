"""How a rolehop process talks to the agent: one JSON line each way over a Unix socket.

Imported on the hot path (``rolehop credential-process`` served by the agent), so it uses
nothing but the standard library's cheapest modules.

A request is ``{"v": PROTOCOL, "version": <rolehop version>, "op": ..., ...}``; the answer
carries the agent's own ``v`` and ``version``. A client that meets an agent of another
version (either number) asks it to stop and goes the direct way; the next call starts an
agent of its own version.
"""

from __future__ import annotations

# The hot path pays for every import: the C modules behind socket and hashlib spare it
# enum (socket.py) and OpenSSL (hashlib), and typing is for the type checker only.
import _socket
import json
import os
import sys
from collections.abc import Callable, Mapping

from rolehop import __version__

try:  # Python 3.12+: _sha2; 3.11: _sha256; elsewhere hashlib's
    from _sha2 import sha256  # type: ignore[import-not-found]
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = 1
# A served request takes a millisecond or a keyring read; anything slower is a sick agent,
# and the direct path is always there.
TIMEOUT = 2.0
MAX_MESSAGE = 1 << 22
# What decides which keyring an agent can reach: one agent per such environment.
SCOPE_VARIABLES = ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND", "HOME")
# AWS variables that do not reach the agent's STS clients: they are given credentials and a
# region explicitly, and ignore the caller's profile (rolehop use sets or changes these)
# A caller's own credentials: never part of the scope, never in the agent's environment
CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
NOT_SCOPE = frozenset(
    {
        *CREDENTIALS,
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    }
)
PROXIES = frozenset({"http_proxy", "https_proxy", "no_proxy", "all_proxy"})


def disabled_by(environ: Mapping[str, str]) -> bool:
    """``ROLEHOP_AGENT=0`` (or false/no/off): never use or start an agent."""
    return environ.get("ROLEHOP_AGENT", "").strip().lower() in ("0", "false", "no", "off")


class AgentUnavailable(Exception):
    """No agent could serve the request (none running, stale socket, timeout, mismatch...)."""


class AgentMismatch(AgentUnavailable):
    """The agent is of another protocol or rolehop version."""


def runtime_dir(environ: Mapping[str, str]) -> str | None:
    """Where the agent's socket lives: a per-user directory no one else can enter."""
    base = environ.get("XDG_RUNTIME_DIR")
    if not base and sys.platform == "darwin":
        base = environ.get("TMPDIR")  # per user on macOS (/var/folders/...), mode 0700
    if not base or not os.path.isdir(base):
        return None
    return os.path.join(base, "rolehop")


def scope(environ: Mapping[str, str]) -> list[str]:
    """What must be the same for two processes to share an agent: the keyring session, and
    every variable botocore reads for the agent's STS clients (its endpoint, config file,
    proxies, CA bundle...), but the credentials, profile and region it is always given."""
    shared = [f"{name}={environ.get(name, '')}" for name in SCOPE_VARIABLES]
    shared += sorted(
        f"{name}={value}"
        for name, value in environ.items()
        if (name.startswith("AWS_") and name not in NOT_SCOPE) or name.lower() in PROXIES
    )
    return shared


def socket_path(environ: Mapping[str, str]) -> str | None:
    directory = runtime_dir(environ)
    if directory is None or not hasattr(_socket, "AF_UNIX"):
        return None
    scope_text = "\0".join(scope(environ))
    digest = sha256(f"{os.getuid()}\0{scope_text}".encode()).hexdigest()[:12]
    return os.path.join(directory, f"agent-{digest}.sock")


def request(op: str, **fields: Any) -> dict[str, Any]:
    return {"v": PROTOCOL, "version": __version__, "op": op, **fields}


def compatible(message: Mapping[str, Any]) -> bool:
    return message.get("v") == PROTOCOL and message.get("version") == __version__


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class Lines:
    """JSON lines from a socket, one at a time (two may arrive in one read)."""

    def __init__(self, connection: _socket.socket) -> None:
        self.connection = connection
        self.buffer = b""

    def read(self) -> dict[str, Any]:
        """The next message (bounded in size; the socket's timeout applies)."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_MESSAGE:
                raise AgentUnavailable("message too large")
            chunk = self.connection.recv(65536)
            if not chunk:
                raise AgentUnavailable("connection closed mid-message")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message = json.loads(line)
        if not isinstance(message, dict):
            raise AgentUnavailable("not a JSON object")
        return message


def read_message(connection: _socket.socket) -> dict[str, Any]:
    """One JSON line from ``connection``."""
    return Lines(connection).read()


# How long a client waits for an agent that said it is working (STS calls, their retries
# and another process's lock): the longest the direct path could take, bounded.
WORK_TIMEOUT = 300.0


def exchange(
    path: str,
    message: Mapping[str, Any],
    timeout: float = TIMEOUT,
    working: Callable[[Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """:func:`call` without the version check: what ``stop`` needs, since an agent of any
    version must be told to go."""
    connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        connection.connect(path)
        connection.sendall(encode(message))
        lines = Lines(connection)
        answer = lines.read()
        while answer.get("working") and compatible(answer):
            if working is not None:
                working(answer)
            connection.settimeout(WORK_TIMEOUT)
            answer = lines.read()
    except (OSError, ValueError) as error:
        raise AgentUnavailable(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()
    return answer


def call(
    path: str,
    message: Mapping[str, Any],
    timeout: float = TIMEOUT,
    working: Callable[[Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Send one request to the agent at ``path`` and return its answer.

    An agent that does work for the request (cold credentials) first says
    ``{"working": ...}``: ``working`` is told, and the answer may then take up to
    :data:`WORK_TIMEOUT`. Raises :class:`AgentUnavailable` for every way this can fail.
    """
    answer = exchange(path, message, timeout, working)
    if not compatible(answer):
        raise AgentMismatch(
            f"agent speaks v{answer.get('v')} of rolehop {answer.get('version')}, "
            f"not v{PROTOCOL} of {__version__}"
        )
    return answer
