"""Single-flight across processes: one lock file per cache key, held with ``flock``.

Dozens of rolehop processes started at once (Terraform providers, parallel CLI jobs) that
need the same hop make one STS call and at most one MFA prompt: the first takes the lock and
refreshes, the others wait and then read its cache entry. The OS releases an ``flock`` when
its holder dies, so a ``kill -9`` mid-refresh never blocks the next call. Lock files are
never deleted (deleting one while another process waits on it would split the lock).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from rolehop.errors import LockTimeoutError
from rolehop.progress import Busy, quiet

POLL = 0.05  # seconds between tries: a refresh takes tens of milliseconds
DEFAULT_TIMEOUT = 120.0


def lock_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_RUNTIME_DIR/rolehop/locks`` (per user, tmpfs), else the user cache dir."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK):
        return Path(runtime) / "rolehop" / "locks"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rolehop")) / "locks"


class FileLocks:
    """``with locks.hold(key, what):`` — exclusive across processes, bounded wait."""

    def __init__(
        self,
        directory: Path,
        timeout: float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.timeout = timeout
        self._sleep = sleep
        self._monotonic = monotonic

    @contextmanager
    def hold(self, key: str, what: str, busy: Busy = quiet) -> Iterator[None]:
        """Hold ``key``'s lock; while another process has it, wait inside ``busy``."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{key}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if not self._try(fd):
                with busy(f"waiting for another rolehop process refreshing {what}"):
                    self._wait(fd, what, path)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    @staticmethod
    def _try(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _wait(self, fd: int, what: str, path: Path) -> None:
        deadline = self._monotonic() + self.timeout
        while not self._try(fd):
            if self._monotonic() >= deadline:
                raise LockTimeoutError(
                    f"{what}: another rolehop process has been refreshing these "
                    f"credentials for over {self.timeout:g} s (lock {path}); raise "
                    "[settings] lock_timeout, or end that process"
                )
            self._sleep(POLL)


class NoLocks:
    """For callers that need no cross-process lock (the demo, some tests)."""

    @contextmanager
    def hold(self, key: str, what: str, busy: Busy = quiet) -> Iterator[None]:
        yield
