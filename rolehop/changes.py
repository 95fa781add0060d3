"""Word of every change to the keyring, for every agent of this user, whatever started it.

The keyring is the one source of truth; an agent only holds copies. Whoever changes the
keyring (a command the direct way, with or without an agent, or an agent itself) then
appends one byte to ``<runtime dir>/rolehop/changes``; before each request, an agent looks
at the file's identity and size and, if they are not what it last saw, forgets every copy
it holds. Appending is atomic, so no change is ever lost to another's, and a ``stat`` per
request costs microseconds. Nothing secret is in the file.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from rolehop import private

log = logging.getLogger(__name__)
NAME = "changes"
# The file is started anew (a new inode, which counts as a change too) past this size.
ROTATE = 1 << 20

Seen = tuple[int, int]  # (inode, size); (0, 0): no file yet


def announce(environ: Mapping[str, str]) -> None:
    """Say that the keyring changed (best effort: without a runtime directory of this
    user's there can be no agent to tell)."""
    try:
        directory = private.runtime_directory(environ)
    except private.UnsafePath:
        return
    if directory is None:
        return
    try:
        fd = private.open_directory(directory)
    except private.UnsafePath as error:
        log.debug("changes: cannot announce: %s", error)
        return
    try:
        _append(fd)
    except (OSError, private.UnsafePath) as error:
        log.debug("changes: cannot announce: %s", error)
    finally:
        os.close(fd)


def _append(directory: int) -> None:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    fd = private.open_file(directory, NAME, flags)
    try:
        if os.fstat(fd).st_size >= ROTATE:
            os.unlink(NAME, dir_fd=directory)  # the next change starts a new file
        os.write(fd, b".")
    finally:
        os.close(fd)


class Watcher:
    """An agent's view of the changes file, in its own (checked) socket directory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.lock = threading.Lock()
        self.seen = self._look()

    def _look(self) -> Seen:
        try:
            info = os.stat(os.path.join(self.directory, NAME), follow_symlinks=False)
        except OSError:
            return (0, 0)
        return (info.st_ino, info.st_size)

    def changed(self) -> bool:
        """Whether anyone changed the keyring since the last look (then: forget)."""
        now = self._look()
        with self.lock:
            if now == self.seen:
                return False
            self.seen = now
            return True

    def announce(self) -> bool:
        """Announce a change made here; True when others changed something too (since the
        last look, or meanwhile), which this agent must then forget as well."""
        with self.lock:
            before = self._look()
            try:
                fd = private.open_directory(self.directory)
                try:
                    _append(fd)
                finally:
                    os.close(fd)
            except (OSError, private.UnsafePath) as error:
                log.debug("changes: cannot announce: %s", error)
                return True
            after = self._look()
            others = before != self.seen or after != (before[0], before[1] + 1)
            self.seen = after
            return others
