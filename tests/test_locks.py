"""Single-flight: one process refreshes a hop, the others wait and read its entry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.engine.providers.cached import CachedProvider
from rolehop.engine.providers.locked import LockedProvider
from rolehop.errors import LockTimeoutError
from rolehop.stores.cache import KeyringCache
from rolehop.stores.locks import FileLocks, lock_dir
from rolehop.stores.memory_keyring import MemoryKeyring
from tests.support.held import held_for

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FRESH = Credentials("ASIAFRESH", "fresh-secret", "fresh-token", NOW + timedelta(hours=1))


class Counting:
    """A provider that counts its loads."""

    key, name = "k" * 64, "role"

    def __init__(self) -> None:
        self.loads = 0

    def load(self) -> Credentials:
        self.loads += 1
        return FRESH


def _cached(cache: KeyringCache, inner: Counting) -> CachedProvider:
    return CachedProvider(inner, cache, lambda: NOW, timedelta(minutes=20))


@pytest.fixture
def cache() -> KeyringCache:
    return KeyringCache(MemoryKeyring(), warn=pytest.fail, clock=lambda: NOW)


class SpyLocks:
    def __init__(self, on_hold: object = None) -> None:
        self.held: list[str] = []
        self.on_hold = on_hold

    @contextmanager
    def hold(self, key: str, what: str, busy: Busy = quiet) -> Iterator[None]:
        self.held.append(key)
        if callable(self.on_hold):
            self.on_hold()
        yield


def test_a_hit_takes_no_lock(cache: KeyringCache) -> None:
    inner, locks = Counting(), SpyLocks()
    cache.put(inner.key, FRESH, label="role")
    assert LockedProvider(_cached(cache, inner), locks, "role").load() == FRESH
    assert (locks.held, inner.loads) == ([], 0)


def test_a_miss_refreshes_under_the_lock(cache: KeyringCache) -> None:
    inner, locks = Counting(), SpyLocks()
    assert LockedProvider(_cached(cache, inner), locks, "role").load() == FRESH
    assert (locks.held, inner.loads) == ([inner.key], 1)


def test_whoever_waited_reads_the_entry_the_holder_wrote(cache: KeyringCache) -> None:
    inner = Counting()
    # while we wait for the lock, another process refreshes and stores the entry
    locks = SpyLocks(on_hold=lambda: cache.put(inner.key, FRESH, label="role"))
    provider = LockedProvider(_cached(cache, inner), locks, "role")
    assert provider.load() == FRESH
    assert (inner.loads, provider.status) == (0, "hit")


def test_file_lock_excludes_another_holder_until_released(tmp_path: Path) -> None:
    locks, order = FileLocks(tmp_path), []
    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        with locks.hold("a" * 64, "one"):
            order.append("first in")
            first_in.set()
            release.wait(5)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    threading.Timer(0.3, release.set).start()
    with locks.hold("a" * 64, "two"):
        order.append("second in")
    thread.join(5)
    assert order == ["first in", "first out", "second in"]


class Recorder:
    """A ``Busy`` that remembers what it was told and when it was left."""

    def __init__(self) -> None:
        self.events: list[str] = []

    @contextmanager
    def __call__(self, message: str) -> Iterator[None]:
        self.events.append(f"enter {message}")
        try:
            yield
        finally:
            self.events.append("exit")


def test_only_a_contended_lock_is_waited_for_busily(tmp_path: Path) -> None:
    locks, busy = FileLocks(tmp_path), Recorder()
    with locks.hold("a" * 64, "profile 'x'", busy):
        pass
    assert busy.events == []  # nobody else held it: nothing to tell

    with held_for(locks, "a" * 64, 0.3), locks.hold("a" * 64, "profile 'x'", busy):
        assert busy.events == [
            "enter waiting for another rolehop process refreshing profile 'x'",
            "exit",
        ]  # left before the holder's work begins


def test_different_keys_never_wait_for_each_other(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path, timeout=1)
    with locks.hold("a" * 64, "one"), locks.hold("b" * 64, "two"):
        pass


def test_waiting_is_bounded(tmp_path: Path) -> None:
    clock = iter([0.0, 0.0, 1.0, 2.5])
    locks = FileLocks(tmp_path, timeout=2, sleep=lambda s: None, monotonic=lambda: next(clock))
    with locks.hold("a" * 64, "one"):
        other = FileLocks(tmp_path, timeout=2, sleep=lambda s: None, monotonic=lambda: next(clock))
        with pytest.raises(LockTimeoutError) as caught, other.hold("a" * 64, "profile 'x'"):
            pass
    assert caught.value.exit_code == 10
    assert str(caught.value).startswith(
        "profile 'x': another rolehop process has been refreshing these credentials for over 2 s"
    )
    assert "[settings] lock_timeout" in str(caught.value)


HOLDER = """
import sys, time
from pathlib import Path
from rolehop.stores.locks import FileLocks
with FileLocks(Path(sys.argv[1])).hold("c" * 64, "holder"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockTimeoutError), FileLocks(tmp_path, timeout=0.2).hold("c" * 64, "x"):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        started = time.monotonic()
        with FileLocks(tmp_path, timeout=5).hold("c" * 64, "after"):
            assert time.monotonic() - started < 1
    finally:
        holder.kill()
        holder.wait()


def test_lock_dir_is_under_the_runtime_dir(tmp_path: Path) -> None:
    (tmp_path / "rt").mkdir()
    assert lock_dir({"XDG_RUNTIME_DIR": str(tmp_path / "rt")}) == tmp_path / "rt/rolehop/locks"


def test_lock_dir_falls_back_to_the_cache_dir(tmp_path: Path) -> None:
    found = lock_dir({"XDG_RUNTIME_DIR": str(tmp_path / "missing")})
    assert found == Path(os.environ["XDG_CACHE_HOME"]) / "rolehop" / "locks"
