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
import sys
import threading
from collections.abc import Mapping

from rolehop.stores import private

log = logging.getLogger(__name__)
NAME = "changes"
# The file is started anew (a new inode, which counts as a change too) past this size.
ROTATE = 1 << 20

Seen = tuple[int, int, int]  # (inode, size, ctime); (0, 0, 0): no file yet


def announce(environ: Mapping[str, str]) -> None:
    """Say that the keyring changed, wherever an agent of this user may live: this
    process's runtime directory, and systemd's ``/run/user/UID`` (a cron job or an ssh
    session without XDG_RUNTIME_DIR changes the keyring an agent of the desktop session
    serves). Best effort: a directory that is not this user's alone holds no agent."""
    for directory in _places(environ):
        try:
            fd = private.open_directory(directory)
        except private.UnsafePath as error:
            log.debug("changes: cannot announce in %s: %s", directory, error)
            continue
        try:
            _append(fd)
        except (OSError, private.UnsafePath) as error:
            log.debug("changes: cannot announce in %s: %s", directory, error)
        finally:
            os.close(fd)


def _places(environ: Mapping[str, str]) -> list[str]:
    places = []
    try:
        own = private.runtime_directory(environ)
    except private.UnsafePath:
        own = None
    if own is not None:
        places.append(own)
    systemd = f"/run/user/{os.getuid()}"
    if sys.platform.startswith("linux") and os.path.isdir(systemd):
        try:
            found = private.runtime_directory({"XDG_RUNTIME_DIR": systemd})
        except private.UnsafePath:
            found = None
        if found is not None and found not in places and os.path.isdir(found):
            places.append(found)  # only where an agent made rolehop's directory
    return places


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
            return (0, 0, 0)
        return (info.st_ino, info.st_size, info.st_ctime_ns)

    def changed(self) -> bool:
        """Whether anyone changed the keyring since the last look (then: forget; the
        caller holds its cache's lock, so that no request serves a copy meanwhile)."""
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
            others = before != self.seen or after[:2] != (before[0], before[1] + 1)
            self.seen = after
            return others
