"""Another process's refresh, played by a thread holding a hop's lock for a while."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rolehop.stores.locks import FileLocks


@contextmanager
def held_for(locks: FileLocks, key: str, seconds: float) -> Iterator[None]:
    """Hold ``key``'s lock from a thread, from entering the block until ``seconds`` later
    (or the block's end, whichever comes last)."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with locks.hold(key, "the other process"):
            held.set()
            release.wait(seconds + 30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(5), "the holder never got the lock"
    timer = threading.Timer(seconds, release.set)
    timer.start()
    try:
        yield
    finally:
        timer.join()
        release.set()
        thread.join(5)
