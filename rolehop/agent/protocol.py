"""How a rolehop process talks to the agent: one JSON line each way over a Unix socket.

Imported on the hot path (``rolehop credential-process`` served by the agent), so it uses
nothing but the standard library's cheapest modules.

A request is ``{"v": PROTOCOL, "version": <rolehop version>, "op": ..., ...}``; the answer
carries the agent's own ``v`` and ``version``. A client that meets an agent of another
version (either number) asks it to stop and goes the direct way; the next call starts an
agent of its own version.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

from rolehop import __version__

PROTOCOL = 1
# A served request takes a millisecond or a keyring read; anything slower is a sick agent,
# and the direct path is always there.
TIMEOUT = 2.0
MAX_MESSAGE = 1 << 22
# What decides which keyring an agent can reach: one agent per such environment.
SCOPE_VARIABLES = ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND")


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


def socket_path(environ: Mapping[str, str]) -> str | None:
    directory = runtime_dir(environ)
    if directory is None or not hasattr(socket, "AF_UNIX"):
        return None
    scope = "\0".join(environ.get(name, "") for name in SCOPE_VARIABLES)
    digest = hashlib.sha256(f"{os.getuid()}\0{scope}".encode()).hexdigest()[:12]
    return os.path.join(directory, f"agent-{digest}.sock")


def request(op: str, **fields: Any) -> dict[str, Any]:
    return {"v": PROTOCOL, "version": __version__, "op": op, **fields}


def compatible(message: Mapping[str, Any]) -> bool:
    return message.get("v") == PROTOCOL and message.get("version") == __version__


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def read_message(connection: socket.socket) -> dict[str, Any]:
    """One JSON line from ``connection`` (bounded in size; its timeout applies)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            break
        if size > MAX_MESSAGE:
            raise AgentUnavailable("message too large")
    data = b"".join(chunks)
    if not data.endswith(b"\n"):
        raise AgentUnavailable("connection closed mid-message")
    message = json.loads(data)
    if not isinstance(message, dict):
        raise AgentUnavailable("not a JSON object")
    return message


def call(path: str, message: Mapping[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
    """Send one request to the agent at ``path`` and return its answer.

    Raises :class:`AgentUnavailable` for every way this can fail.
    """
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        connection.connect(path)
        connection.sendall(encode(message))
        answer = read_message(connection)
    except (OSError, ValueError) as error:
        raise AgentUnavailable(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()
    if not compatible(answer):
        raise AgentMismatch(
            f"agent speaks v{answer.get('v')} of rolehop {answer.get('version')}, "
            f"not v{PROTOCOL} of {__version__}"
        )
    return answer
