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
import time
from collections.abc import Callable, Mapping

from rolehop.config.locations import absolute
from rolehop.stores import private
from rolehop.version import __version__

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

PROTOCOL = 2
# A served request takes a millisecond or a keyring read; anything slower is a sick agent,
# and the direct path is always there.
TIMEOUT = 2.0
# A request is a few variables and names (a cache clear of many profiles is the largest);
# an answer may be ``list``'s rows for ten thousand profiles.
MAX_REQUEST = 1 << 22
MAX_ANSWER = 1 << 26

# What decides which keyring an agent reaches: one agent per user and keyring. Everything
# else a request needs travels in the request (see REQUEST_VARIABLES), so the AWS CLI's
# children, which see AWS_DATA_PATH and more, talk to the same agent as the shell.
KEYRING_SCOPE = (
    "DBUS_SESSION_BUS_ADDRESS",
    "PYTHON_KEYRING_BACKEND",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
)
# The only variables a request carries: what the agent needs to read the same files, build
# the same chains and cache keys, and print the same output as the direct path. Never the
# caller's credentials, tokens or anything else of its environment.
REQUEST_VARIABLES = (
    *KEYRING_SCOPE,
    "USER",
    "LOGNAME",
    "LNAME",
    "USERNAME",
    "SHELL",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
    "ROLEHOP_CONFIG",
    "ROLEHOP_RESOLVING",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    # part of an SSO base's cache key (rolehop.engine.chain)
    "AWS_ENDPOINT_URL_SSO",
    "AWS_ENDPOINT_URL_SSO_OIDC",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
)
# Paths the direct path would resolve against its working directory: made absolute by the
# client, since the agent runs in /.
PATH_VARIABLES = {
    "ROLEHOP_CONFIG": "",
    "AWS_CONFIG_FILE": "~/.aws/config",
    "AWS_SHARED_CREDENTIALS_FILE": "~/.aws/credentials",
    "TMPDIR": "",
    "XDG_RUNTIME_DIR": "",
    "XDG_CACHE_HOME": "",
    "XDG_CONFIG_HOME": "",
    "XDG_DATA_HOME": "",
}
# Variables botocore reads as paths (a list of them for AWS_DATA_PATH): compared absolute
STS_PATHS = frozenset(
    {
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CA_BUNDLE",
        "AWS_DATA_PATH",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    }
)
# A caller's own credentials: never sent, never in the agent's environment
CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
# What botocore reads for the agent's own STS clients beside these: the agent makes cold
# credentials only for callers whose such variables are its own (compared as a digest, so
# that a proxy's password never travels).
NOT_FOR_STS_CLIENTS = frozenset(
    {
        *CREDENTIALS,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    }
)
PROXIES = frozenset({"http_proxy", "https_proxy", "no_proxy", "all_proxy"})
# requests' and urllib3's own CA variables, which botocore honours too
CA_BUNDLES = frozenset({"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"})


def disabled_by(environ: Mapping[str, str]) -> bool:
    """``ROLEHOP_AGENT=0`` (or false/no/off): never use or start an agent."""
    return environ.get("ROLEHOP_AGENT", "").strip().lower() in ("0", "false", "no", "off")


class AgentUnavailable(Exception):
    """No agent could serve the request (none running, stale socket, timeout, mismatch...)."""


class AgentMismatch(AgentUnavailable):
    """The agent is of another protocol or rolehop version."""


class NotOurs(AgentUnavailable):
    """The socket or its directory is not this user's: never talk to it (a warning)."""


def _digest(parts: list[str]) -> str:
    return str(sha256("\0".join(parts).encode()).hexdigest())


def sts_environ(environ: Mapping[str, str], cwd: str) -> dict[str, str]:
    """What botocore reads from the environment for an STS client, paths made absolute
    against ``cwd`` (a relative one means another file to a process elsewhere)."""
    found = {
        name: value
        for name, value in environ.items()
        if (name.startswith("AWS_") and name not in NOT_FOR_STS_CLIENTS)
        or name.lower() in PROXIES
        or name in CA_BUNDLES
    }
    for name in STS_PATHS & found.keys():
        parts = found[name].split(os.pathsep) if name == "AWS_DATA_PATH" else [found[name]]
        found[name] = os.pathsep.join(absolute(part, environ, cwd) for part in parts if part)
    return found


def sts_scope(environ: Mapping[str, str], cwd: str) -> str:
    """A digest of :func:`sts_environ`: a proxy's password never travels."""
    return _digest(sorted(f"{name}={value}" for name, value in sts_environ(environ, cwd).items()))


def socket_path(environ: Mapping[str, str]) -> str | None:
    """The agent's socket for this user and keyring; None without a runtime directory (or
    a Unix socket). Raises :class:`NotOurs` for a runtime directory not this user's alone."""
    if not hasattr(_socket, "AF_UNIX") or sys.platform == "win32":
        return None
    try:
        directory = private.runtime_directory(environ)
    except private.UnsafePath as error:
        raise NotOurs(str(error)) from None
    if directory is None:
        return None
    return os.path.join(directory, socket_name(environ))


def socket_name(environ: Mapping[str, str]) -> str:
    """``agent-<hash>.sock``: the hash of the uid and the keyring scope (with keyring's
    own KEYRING_PROPERTY_* settings of its backends). Not a secret."""
    scope = [f"{name}={environ.get(name, '')}" for name in KEYRING_SCOPE]
    scope += sorted(f"{k}={v}" for k, v in environ.items() if k.startswith("KEYRING_PROPERTY_"))
    return f"agent-{_digest([str(os.getuid()), *scope])[:12]}.sock"


def request_environ(environ: Mapping[str, str], cwd: str) -> dict[str, str]:
    """The variables a request carries (REQUEST_VARIABLES), paths made absolute (the AWS
    files' too when they are the defaults: ``~`` without HOME is relative)."""
    sent = {name: environ[name] for name in REQUEST_VARIABLES if environ.get(name)}
    for name, default in PATH_VARIABLES.items():
        if sent.get(name) or default:
            sent[name] = absolute(sent.get(name) or default, environ, cwd)
    return sent


def request(op: str, **fields: Any) -> dict[str, Any]:
    return {"v": PROTOCOL, "version": __version__, "op": op, **fields}


def answer(ok: bool = True, **fields: Any) -> dict[str, Any]:
    """An agent's answer: this protocol and version, ``ok``, and the answer's fields."""
    return {"v": PROTOCOL, "version": __version__, "ok": ok, **fields}


def compatible(message: Mapping[str, Any]) -> bool:
    return message.get("v") == PROTOCOL and message.get("version") == __version__


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class Lines:
    """JSON lines from a socket, one at a time (two may arrive in one read), each at most
    ``limit`` bytes and, with a ``deadline`` (``time.monotonic()``), read by then."""

    def __init__(
        self, connection: _socket.socket, limit: int = MAX_ANSWER, deadline: float | None = None
    ) -> None:
        self.connection = connection
        self.buffer = b""
        self.limit = limit
        self.deadline = deadline

    def read(self) -> dict[str, Any]:
        """The next message (bounded in size; the socket's timeout applies)."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > self.limit:
                raise AgentUnavailable("message too large")
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise AgentUnavailable("message too slow")
                self.connection.settimeout(left)
            chunk = self.connection.recv(65536)
            if not chunk:
                raise AgentUnavailable("connection closed mid-message")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message = json.loads(line)
        if not isinstance(message, dict):
            raise AgentUnavailable("not a JSON object")
        return message


def read_message(
    connection: _socket.socket, limit: int = MAX_ANSWER, deadline: float | None = None
) -> dict[str, Any]:
    """One JSON line from ``connection``."""
    return Lines(connection, limit, deadline).read()


# <sys/un.h> on macOS and the BSDs: getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED) gives a
# struct xucred { u_int cr_version; uid_t cr_uid; ... } of 76 bytes
SOL_LOCAL, LOCAL_PEERCRED, XUCRED_SIZE = 0, 0x001, 76


def peer_uid(connection: _socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket, None where the OS cannot
    say. Linux: struct ucred { pid_t pid; uid_t uid; gid_t gid; }."""
    if hasattr(_socket, "SO_PEERCRED"):
        raw = connection.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        return linux_uid(raw)
    if sys.platform == "darwin" or "bsd" in sys.platform:
        return xucred_uid(connection.getsockopt(SOL_LOCAL, LOCAL_PEERCRED, XUCRED_SIZE))
    return None


def linux_uid(raw: bytes) -> int:
    return int.from_bytes(raw[4:8], sys.byteorder)


def xucred_uid(raw: bytes) -> int:
    return int.from_bytes(raw[4:8].ljust(4, b"\0"), sys.byteorder)


def check_peer(connection: _socket.socket, path: str) -> None:
    """Raise :class:`NotOurs` unless a process of this user listens at ``path``: the
    directory was checked, but whoever listens is what counts (a socket moved into it)."""
    try:
        uid = peer_uid(connection)
    except OSError:
        uid = None
    if uid is None:
        raise NotOurs(f"{path}: the owner of the process listening there cannot be told")
    if uid != os.getuid():
        raise NotOurs(f"{path} is served by a process of uid {uid}, not by this user")


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
        check_peer(connection, path)  # before a byte is sent
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
