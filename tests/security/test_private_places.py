"""Directories, locks and requests: what another local user could squat on or read.

- A lock directory another user made (or may write) is not used: no flock of theirs can
  hold a refresh, and the call does not wait for them (exit 10 before).
- Under ``umask 000`` every directory rolehop makes is still 0700.
- The lead-wait reply of an agent names a cache key, never a path: whatever it says, the
  client creates no file outside its own lock directory.
- A request to the agent carries only the variables named in the protocol.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rolehop import entry
from rolehop.agent.protocol import (
    CREDENTIALS,
    PROTOCOL,
    REQUEST_VARIABLES,
    encode,
    read_message,
    socket_name,
)
from rolehop.engine import context
from rolehop.engine.resolve import chain_of
from rolehop.features.demo import Emulator
from rolehop.stores.locks import lock_dir
from tests.conftest import Sandbox
from tests.security.conftest import OtherUser
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import run_captured

HOLD_LOCKS = """\
import fcntl, os, sys, time
directory = sys.argv[1]
os.makedirs(directory, mode=0o777, exist_ok=True)
os.chmod(directory, 0o777)
held = []
for name in sys.argv[2:]:
    fd = os.open(os.path.join(directory, name), os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    held.append(fd)
print("holding", flush=True)
time.sleep(120)
"""


def _program() -> str:
    found = shutil.which("rolehop", path=os.path.dirname(sys.executable))
    assert found, "the rolehop script is not installed next to this Python"
    return found


@pytest.fixture
def moto_env(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> dict[str, str]:
    """A subprocess's environment over the emulator: research-ro, a 3 s lock_timeout."""
    sandbox.write_rolehop(RESEARCH_RO_TOML + "\n[settings]\nlock_timeout = 3\n")
    return {**subprocess_env, "ROLEHOP_AGENT": "0"}


def test_a_lock_directory_squatted_by_another_user_is_not_used(
    moto_env: dict[str, str], other_user: OtherUser, shared_dir: Path
) -> None:
    """No runtime directory, and a cache directory others may write (made under umask 000
    by some tool): the other user makes ``rolehop/locks`` there first and holds the lock
    of every hop. Before, the call waited for lock_timeout and failed with exit 10."""
    cache = shared_dir / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    env = {key: value for key, value in moto_env.items() if key != "XDG_RUNTIME_DIR"}
    env["XDG_CACHE_HOME"] = str(cache)
    squatted = lock_dir(env)
    assert squatted == cache / "rolehop" / "locks"
    keys = chain_of(context.build(env), "research-ro").keys
    holder = other_user.start_python(HOLD_LOCKS, str(squatted), *(f"{k}.lock" for k in keys))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        assert squatted.stat().st_uid == other_user.uid
        started = time.monotonic()
        done = run_captured([_program(), "credential-process", "research-ro"], env)
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait(timeout=10)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Version"] == 1
    assert took < 3, "waited on a lock of the other user"
    warning = [line for line in done.stderr.splitlines() if "lock directory" in line]
    assert len(warning) == 1 and str(cache / "rolehop") in warning[0], done.stderr


def test_under_umask_000_every_directory_rolehop_makes_is_private(
    moto_env: dict[str, str], sandbox: Sandbox
) -> None:
    env = {key: value for key, value in moto_env.items() if key != "XDG_RUNTIME_DIR"}
    cache = Path(env["XDG_CACHE_HOME"])
    assert not cache.exists()

    done = run_captured(
        ["sh", "-c", 'umask 000 && exec "$0" "$@"', _program(), "credential-process",
         "research-ro"],
        env,
    )

    assert done.returncode == 0, done.stderr
    made = [cache, cache / "rolehop", cache / "rolehop" / "locks"]
    for directory in made:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    for lock in (cache / "rolehop" / "locks").iterdir():
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600, lock


def test_the_lead_reply_cannot_make_the_client_create_a_file(tmp_path: Path) -> None:
    """Whatever an agent answers, only ``<its socket's directory>/locks/<hex key>.lock``
    may be made: not a path it names, not a key with slashes."""
    run = tmp_path / "run" / "rolehop"
    run.mkdir(parents=True, mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    replies: list[dict[str, Any]] = [
        {"lock": str(elsewhere / "x.lock"), "key": "../../elsewhere/x"},
        {"key": "/" + str(elsewhere / "y")},
        {"key": "A" * 64},  # not a lowercase hex digest
        {"key": "c" * 63 + "/"},
    ]
    for reply in replies:
        answer = {"lead": False, "lead_pid": 1, "lease_age": 0.0, "lock_timeout": 1, **reply}
        assert entry.wait_for_the_lead(answer, str(run / "agent.sock")) is False
    assert not elsewhere.exists()
    assert not (run / "locks").exists() or list((run / "locks").iterdir()) == []


@pytest.fixture
def recorder(sandbox: Sandbox, subprocess_env: dict[str, str]) -> Iterator[list[bytes]]:
    """A listener of the test's own uid at the agent's socket, recording each request."""
    env = subprocess_env
    directory = Path(env["XDG_RUNTIME_DIR"]) / "rolehop"
    directory.mkdir(mode=0o700)
    path = directory / socket_name(env)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                message = read_message(connection)
                seen.append(json.dumps(message).encode())
                miss = {"v": PROTOCOL, "version": message["version"], "ok": True, "hit": False,
                        "lead": True}
                connection.sendall(encode(miss))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield seen
    listener.close()
    thread.join(timeout=5)


def test_a_request_carries_only_the_named_variables(
    moto_env: dict[str, str], recorder: list[bytes]
) -> None:
    secrets = {
        "AWS_ACCESS_KEY_ID": "AKIACALLERSOWNKEY000",
        "AWS_SECRET_ACCESS_KEY": "callersOwnSecretAccessKey/0000000000000",
        "AWS_SESSION_TOKEN": "callersOwnSessionToken0000",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "containerToken000000",
        "GITHUB_TOKEN": "ghp_callersGitHubToken0000000000000000000",
        "https_proxy": "http://user:proxyPassword000@proxy.invalid:3128",
    }
    env = {**moto_env, **secrets, "ROLEHOP_AGENT": "1", "ROLEHOP_CONFIG": "relative.toml"}

    done = run_captured([_program(), "credential-process", "research-ro"], env)

    assert recorder, f"no request reached the recorder: {done.stderr}"
    request = json.loads(recorder[0])
    assert request["op"] == "resolve"
    assert set(request["environ"]) <= set(REQUEST_VARIABLES)
    assert not set(request["environ"]) & set(CREDENTIALS)
    for secret in secrets.values():
        assert secret.encode() not in recorder[0]
    assert os.path.isabs(request["environ"]["ROLEHOP_CONFIG"])
