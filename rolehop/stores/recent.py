"""The profiles a person switched to last (``env`` at a terminal: ``rolehop use``), newest
first: the order of ``use``'s picker.

One name per line in ``recent-profiles`` of rolehop's cache directory (0700, checked as
every directory rolehop keeps files in); names only, never a credential. Keeping it is a
convenience: a directory or file that cannot be used is passed over in silence, and a
command never fails for it.

Imported on the cache-hit path (the entry records a switch the agent served): the standard
library's ``os`` only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

from rolehop.config.locations import cache_directory
from rolehop.stores.private import UnsafePath, open_directory, open_file

FILE = "recent-profiles"
LIMIT = 200  # names kept: more than anyone switches between
_MAX_BYTES = 1 << 20


def read(environ: Mapping[str, str]) -> list[str]:
    """The names recorded, newest first ([] when there is no file, or it cannot be used)."""
    try:
        directory = open_directory(cache_directory(environ), create=False)
    except UnsafePath:
        return []
    try:
        return _names(directory)
    finally:
        os.close(directory)


def record(environ: Mapping[str, str], name: str) -> None:
    """Put ``name`` first (best effort: nothing is said when it cannot be kept)."""
    if not name or "\n" in name or "\r" in name:
        return
    with contextlib.suppress(UnsafePath, OSError):
        directory = open_directory(cache_directory(environ))
        try:
            names = _names(directory)
            if names[:1] == [name]:
                return  # already first: nothing to write
            kept = [name, *(other for other in names if other != name)][:LIMIT]
            _replace(directory, "".join(f"{one}\n" for one in kept).encode("utf-8"))
        finally:
            os.close(directory)


def _names(directory: int) -> list[str]:
    try:
        fd = open_file(directory, FILE, os.O_RDONLY | os.O_NONBLOCK)
    except UnsafePath:
        return []
    try:
        data = os.read(fd, _MAX_BYTES)
    finally:
        os.close(fd)
    text = data.decode("utf-8", "replace")
    return [line for line in text.splitlines() if line][:LIMIT]


def _replace(directory: int, data: bytes) -> None:
    """The file's new content, whole or not at all (a temporary file renamed over it)."""
    temporary = f".{FILE}.{os.getpid()}.{os.urandom(4).hex()}"
    fd = open_file(directory, temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        os.write(fd, data)
    except BaseException:
        os.close(fd)
        os.unlink(temporary, dir_fd=directory)
        raise
    os.close(fd)
    os.replace(temporary, FILE, src_dir_fd=directory, dst_dir_fd=directory)
