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

from rolehop.common.progress import Busy, quiet
from rolehop.config import locations
from rolehop.errors import LockError, LockTimeoutError
from rolehop.stores import private

POLL = 0.05  # seconds between tries: a refresh takes tens of milliseconds
DEFAULT_TIMEOUT = 120.0


def lock_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_RUNTIME_DIR/rolehop/locks`` (per user, tmpfs) when that runtime directory is
    this user's alone, else ``rolehop/locks`` in the user cache directory."""
    try:
        runtime = private.runtime_directory(environ)
    except private.UnsafePath:
        runtime = None  # someone else's: the agent says so (rolehop.agent.client)
    if runtime is not None and os.access(os.path.dirname(runtime), os.W_OK):
        return Path(runtime) / "locks"
    return Path(locations.cache_directory(environ)) / "locks"


def locks_for(
    environ: Mapping[str, str], timeout: float, warn: Callable[[str], None]
) -> FileLocks | NoLocks:
    """The cross-process locks, in a directory checked to be this user's alone; when it is
    not (another user made it, or may write there), none, and a warning: parallel calls
    then each call STS, but none waits on a lock someone else holds."""
    directory = lock_dir(environ)
    try:
        os.close(private.open_directory(str(directory)))
    except private.UnsafePath as error:
        warn(f"not using the lock directory: {error}; parallel calls may each call STS")
        return NoLocks()
    return FileLocks(directory, timeout)


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
        path = self.directory / f"{key}.lock"
        try:
            directory = private.open_directory(str(self.directory))
            try:
                fd = private.open_file(directory, f"{key}.lock", os.O_RDWR | os.O_CREAT)
            finally:
                os.close(directory)
        except private.UnsafePath as error:
            raise LockError(f"{what}: cannot lock {path}: {error}") from None
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
