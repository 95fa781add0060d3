"""A small, bounded pool of daemon threads for the requests that need real work."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Workers:
    """At most ``count`` threads, started when needed; at most ``queued`` jobs wait for one.

    Daemon threads: a job stuck on the network does not keep the program from exiting.
    """

    def __init__(self, count: int, queued: int, name: str) -> None:
        self._count = count
        self._room = count + queued  # jobs running or waiting
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, job: Job) -> bool:
        """Run ``job`` in a worker; False (and nothing runs) when the pool is full or closed."""
        with self._lock:
            if self._closed or self._pending >= self._room:
                return False
            self._pending += 1
            if len(self._threads) < min(self._count, self._pending):
                self._start_thread()
        self._jobs.put(job)
        return True

    def close(self) -> None:
        """Let every thread end after its current job; jobs still waiting do not run."""
        with self._lock:
            self._closed = True
            threads = len(self._threads)
        for _ in range(threads):
            self._jobs.put(None)

    def _start_thread(self) -> None:
        number = len(self._threads) + 1
        thread = threading.Thread(target=self._work, name=f"{self._name} worker {number}")
        thread.daemon = True
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if not self._closed:
                    job()
            except Exception:
                log.debug("%s: a job failed", self._name, exc_info=True)
            finally:
                with self._lock:
                    self._pending -= 1
