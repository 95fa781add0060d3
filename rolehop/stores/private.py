"""Directories only this user can touch: where rolehop keeps its socket, locks and stamps.

Another local user is the attacker here. A directory rolehop uses is trusted only after it
was opened without following a symlink and checked through that very descriptor: a
directory of this uid that nobody else may write. Files are then opened relative to the
descriptor, so a rename of the path afterwards changes nothing. Directories rolehop
creates are made 0700 whatever the umask.

Imported on the cache-hit path: the standard library's ``os`` (and ``contextlib``) only.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Mapping

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(Exception):
    """A path rolehop would use belongs to someone else, or others may write there."""


def _owner_problem(path: str, info: os.stat_result, uid: int) -> str | None:
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if info.st_uid != uid:
        return f"{path} belongs to uid {info.st_uid}, not to this user (uid {uid})"
    if info.st_mode & 0o022:
        return f"{path} may be written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def check_directory(path: str, uid: int | None = None) -> None:
    """Raise :class:`UnsafePath` unless ``path`` is a directory of ``uid`` (this user)
    that no other user may write, and not a symbolic link."""
    uid = os.getuid() if uid is None else uid
    try:
        info = os.lstat(path)
    except OSError as error:
        raise UnsafePath(f"{path}: {error.strerror}") from None
    problem = _owner_problem(path, info, uid)
    if problem is not None:
        raise UnsafePath(problem)


def open_directory(path: str, uid: int | None = None, *, create: bool = True) -> int:
    """A descriptor of the private directory ``path``, made (0700, with any missing
    parents) if ``create``; raises :class:`UnsafePath` when it is not this user's alone.

    A directory of this user that others may only read or enter is made 0700: nobody else
    can have put anything in it. The caller closes the descriptor.
    """
    uid = os.getuid() if uid is None else uid
    if create:
        make_directories(path)
    try:
        fd = os.open(path, _DIRECTORY)
    except OSError as error:
        raise UnsafePath(f"{path}: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        problem = _owner_problem(path, info, uid)
        if problem is not None:
            raise UnsafePath(f"{problem}; remove it and rolehop makes it anew")
        if info.st_mode & 0o077:
            os.fchmod(fd, 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_directories(path: str) -> None:
    """``mkdir -p -m 700``: every directory made here is 0700, whatever the umask (a
    ``Path.mkdir(parents=True)`` makes the parents with the umask's mode)."""
    missing: list[str] = []
    current = os.path.abspath(path)
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass  # made meanwhile; checked by whoever opens it
        except OSError as error:
            raise UnsafePath(f"cannot create {directory}: {error.strerror}") from None


def open_file(directory_fd: int, name: str, flags: int, uid: int | None = None) -> int:
    """Open (creating it 0600 with ``os.O_CREAT``) the file ``name`` inside a directory
    opened by :func:`open_directory`: never through a symlink, and only a regular file
    of this user."""
    uid = os.getuid() if uid is None else uid
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=directory_fd)
    except OSError as error:
        raise UnsafePath(f"{name}: {error.strerror or error}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != uid:
        os.close(fd)
        raise UnsafePath(f"{name} is not a file of this user")
    return fd


def replace_file(directory_fd: int, name: str, data: bytes, *, sync: bool = True) -> None:
    """``data`` as the file ``name`` of a directory opened by :func:`open_directory`, whole
    or not at all: a temporary file beside it (0600, never through a symlink), written
    (and, ``sync``, flushed to the disk), renamed over it. Raises OSError or
    :class:`UnsafePath`; the temporary file is gone either way."""
    temporary = f".{name}.{os.urandom(6).hex()}.tmp"
    fd = open_file(directory_fd, temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        try:
            os.fchmod(fd, 0o600)  # exactly, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory_fd)
        raise


def runtime_base(environ: Mapping[str, str], uid: int | None = None) -> str | None:
    """The per-user runtime directory, ``$XDG_RUNTIME_DIR`` (on macOS ``$TMPDIR``, per
    user there); None if there is none. Raises :class:`UnsafePath` for one that is not
    this user's alone (``su`` without ``-`` keeps the previous user's)."""
    uid = os.getuid() if uid is None else uid
    base = environ.get("XDG_RUNTIME_DIR")
    if not base and sys.platform == "darwin":
        base = environ.get("TMPDIR")
    if not base or not os.path.isdir(base):
        return None
    base = os.path.abspath(base)
    try:
        check_directory(base, uid)
    except UnsafePath as error:
        raise UnsafePath(
            f"XDG_RUNTIME_DIR: {error} (it must be a directory of this user alone)"
        ) from None
    return base


def runtime_directory(environ: Mapping[str, str], uid: int | None = None) -> str | None:
    """``<runtime base>/rolehop``: the agent's socket, its stamps and the locks."""
    base = runtime_base(environ, uid)
    return os.path.join(base, "rolehop") if base is not None else None
