"""The agent bounds what its own user's clients can make it hold: connections that say
nothing, requests of megabytes, all at once. Its threads and memory stay bounded, and a
cache hit is still answered, by the agent, within a second."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rolehop.agent import client
from rolehop.agent.listener import MAX_BYTES_IN_FLIGHT, MAX_WORKERS
from rolehop.agent.protocol import MAX_REQUEST, socket_path
from rolehop.features.demo import Emulator
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import run_captured

SLOW = 300  # connections that never finish their request
LARGE = 40  # requests of almost MAX_REQUEST bytes, never finished


def _program() -> str:
    found = shutil.which("rolehop", path=os.path.dirname(sys.executable))
    assert found, "the rolehop script is not installed next to this Python"
    return found


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _status_line(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_flood_of_slow_and_large_requests_is_bounded(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    env = {**subprocess_env, "ROLEHOP_AGENT": "1"}
    first = run_captured([_program(), "credential-process", "research-ro"], env)
    assert first.returncode == 0, first.stderr
    _wait_for(lambda: client.status(env) is not None, "the agent to start")
    status = client.status(env)
    assert status is not None
    pid, path = int(status["pid"]), socket_path(env)
    assert path is not None
    flood: list[socket.socket] = []
    try:
        latencies = []
        for round_ in range(4):
            for _ in range(SLOW // 4):
                slow = socket.socket(socket.AF_UNIX)
                slow.connect(path)
                slow.sendall(b'{"op": "resolve", "environ": {')  # and nothing more
                flood.append(slow)
            for _ in range(LARGE // 4):
                large = socket.socket(socket.AF_UNIX)
                large.connect(path)
                large.setblocking(False)
                with contextlib.suppress(BlockingIOError, BrokenPipeError, ConnectionResetError):
                    large.send(b"x" * (MAX_REQUEST - 1))
                flood.append(large)
            started = time.monotonic()
            hit = run_captured([_program(), "credential-process", "research-ro"], env)
            latencies.append(time.monotonic() - started)
            assert hit.returncode == 0 and hit.stdout == first.stdout, (round_, hit.stderr)
            threads = _status_line(pid, "Threads")
            rss_kib = _status_line(pid, "VmRSS")
            assert threads <= MAX_WORKERS + 4, threads
            assert rss_kib * 1024 < 64 * 1024 * 1024 + MAX_BYTES_IN_FLIGHT * 2, rss_kib
        served = client.status(env)
        assert served is not None and served["served"]["hit"] == 4  # by the agent, each
        assert max(latencies) < 1.0, latencies
    finally:
        for connection in flood:
            connection.close()
        client.stop(env)
        _wait_for(lambda: client.status(env) is None, "the agent to stop")
