"""The profiles a person switched to last (``env`` at a terminal: ``rolehop use``), newest
first: the order of ``use``'s picker.

One name per line in ``recent-profiles`` of rolehop's cache directory (0700, checked as
every directory rolehop keeps files in); names only, never a credential. Keeping it is a
convenience: a directory or file that cannot be used is passed over in silence, and a
command never fails for it.

Imported on the cache-hit path (the entry records a switch the agent served): the standard
library's ``os`` and ``sys`` only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

from rolehop.common.interactive import person_at_terminal
from rolehop.config.locations import cache_directory
from rolehop.stores.private import UnsafePath, open_directory, open_file, replace_file

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
            data = "".join(f"{one}\n" for one in kept).encode("utf-8")
            replace_file(directory, FILE, data, sync=False)  # a convenience: no disk flush
        finally:
            os.close(directory)


def remember(environ: Mapping[str, str], name: str) -> None:
    """``name`` was switched to (``env``): recorded when a person did it at a terminal,
    never for a script or the AWS CLI's ``credential_process``."""
    if person_at_terminal():
        record(environ, name)


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
