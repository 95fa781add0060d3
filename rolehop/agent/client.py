"""The direct path's side of the agent: start it, stop it, ask its status.

Everything here is best effort: an agent that is missing, slow or of another version only
means the direct path does the work, as it would with ``ROLEHOP_AGENT=0``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

from rolehop.agent.protocol import (
    CREDENTIALS,
    AgentUnavailable,
    NotOurs,
    call,
    disabled_by,
    exchange,
    request,
    socket_path,
    sts_environ,
)

log = logging.getLogger(__name__)


def _path(environ: Mapping[str, str]) -> str | None:
    if sys.platform == "win32":
        return None
    return socket_path(environ)


def ask(
    environ: Mapping[str, str], op: str, /, timeout: float = 1.0, **fields: Any
) -> dict[str, Any]:
    path = _path(environ)
    if path is None:
        raise AgentUnavailable("no runtime directory for the agent's socket")
    return call(path, request(op, **fields), timeout)


def status(environ: Mapping[str, str]) -> dict[str, Any] | None:
    try:
        return ask(environ, "status")
    except AgentUnavailable:
        return None


def every_status(environ: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Every agent of this user in this runtime directory (one per keyring), with its
    status; sockets nobody of this user answers at are left out."""
    try:
        path = _path(environ)
    except AgentUnavailable:
        return []
    if path is None:
        return []
    directory = os.path.dirname(path)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith("agent-") and name.endswith(".sock"):
            try:
                found.append(
                    (
                        os.path.join(directory, name),
                        call(os.path.join(directory, name), request("status"), 1.0),
                    )
                )
            except AgentUnavailable:
                continue
    return found


def stop(environ: Mapping[str, str]) -> bool:
    """Ask the agent to exit (whatever its version); True if one was there to ask."""
    try:
        path = _path(environ)
        return path is not None and bool(exchange(path, request("stop")).get("stopping"))
    except AgentUnavailable:
        return False


def start(
    environ: Mapping[str, str],
    idle_timeout: float,
    keyring_backend: str | None,
    warn: Callable[[str], None] = lambda message: None,
    keyring_usable: Callable[[], bool] = lambda: True,
) -> bool:
    """Start an agent in the background unless one answers; True if one was started.
    ``warn`` hears of an agent's place that is not this user's (then none is started);
    without a usable keyring none is started either (it would exit at once, every call)."""
    if disabled_by(environ):
        return False
    try:
        path = _path(environ)
        if path is None:
            return False
        call(path, request("status"), 1.0)
        return False  # one answers
    except NotOurs as error:
        warn(f"not using the agent: {error}")
        return False
    except AgentUnavailable:
        pass  # none (or a stale socket, or another version): start one
    if not keyring_usable():
        return False
    args = [sys.executable, "-m", "rolehop.agent", "--socket", str(path)]
    args += ["--idle-timeout", str(idle_timeout)]
    if keyring_backend:
        args += ["--keyring-backend", keyring_backend]
    env = {name: value for name, value in environ.items() if name not in CREDENTIALS}
    env.update(sts_environ(environ, os.getcwd()))  # the same files from / as from here
    try:
        subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            cwd="/",
        )
    except OSError as error:
        log.debug("agent: cannot start: %s", error)
        return False
    log.debug("agent: started for %s", path)
    return True
