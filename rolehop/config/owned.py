"""Whether a file or directory rolehop reads configuration from is this user's alone.

``generated/`` beside rolehop's TOML is read as a whole (every ``*.toml`` in it): a file
another user put there would add profiles, and an ``mfa_process`` is a command rolehop
runs. So the directory and each file must be this user's (or root's), not writable by
others, and no symbolic link. (The TOML itself is the file the user named.)
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rolehop.errors import ConfigError


def problem(path: Path, *, directory: bool) -> str | None:
    """Why ``path`` cannot be trusted, or None (also None for a path that is not there)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    wanted = stat.S_ISDIR if directory else stat.S_ISREG
    if not wanted(info.st_mode):
        return "is not a directory" if directory else "is not a regular file"
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is not None and info.st_uid not in (uid, 0):
        return f"belongs to uid {info.st_uid}, not to you"
    if info.st_mode & 0o022:
        return f"may be written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def check(path: Path, *, directory: bool) -> None:
    """Raise :class:`ConfigError` naming ``path`` unless it is this user's alone."""
    found = problem(path, directory=directory)
    if found is not None:
        raise ConfigError(
            f"{found}: generated profiles are read only from a directory and files of your "
            "own that nobody else may write",
            path=path,
            fix=f"remove it (rolehop generate writes it anew), or: chmod go-w {path}",
        )
