"""The AWS config file that ``generate --aws-config`` changes: read, checked (whose it is,
who may write it) and replaced whole or not at all, with the block of one source put in by
:mod:`rolehop.features.generate.aws_config_block` and not one byte besides."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rolehop.errors import ConfigError
from rolehop.features.generate.aws_config_block import (
    defined_outside,
    render_block,
    replace_block,
)
from rolehop.stores.private import UnsafePath, make_directories

_TEMPORARY_TRIES = 16


def read_aws_config(path: Path) -> str:
    """The text of the AWS config at ``path`` (through a symlink), "" when there is none;
    bytes that are not UTF-8 come back as they were when written."""
    try:
        return Path(os.path.realpath(path)).read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise ConfigError(f"cannot read it: {error.strerror}", path=path) from None


@dataclass(frozen=True)
class Written:
    """What :func:`write_aws_config` did (or, ``dry_run``, would do)."""

    changed: bool  # False: the file held that block already and was not touched
    left_out: tuple[str, ...]  # names the file defines outside the block, sorted


def write_aws_config(
    path: Path,
    source: str,
    profiles: Mapping[str, str],
    *,
    uid: int | None = None,
    dry_run: bool = False,
) -> Written:
    """Put the block of ``source`` with ``profiles`` (name -> command line) into the AWS
    config at ``path``. A file that holds that block already is not touched (same bytes,
    same mtime); with ``dry_run`` nothing is written, only checked and compared.

    A name the file defines outside the block (see :func:`defined_outside`) is left out. A
    symlink at ``path`` (a dotfiles repository's) is followed: its target is replaced, in
    its own directory. The file is written whole or not at all (a temporary file beside it,
    created with O_EXCL|O_NOFOLLOW and given the file's mode, 0600 for a new one, synced,
    renamed over it); a missing directory is made 0700. Raises :class:`ConfigError` for a
    file that is not a regular file of ``uid`` (this user), one others may write to, one in
    a directory others may write to, or broken markers (with the line).
    """
    render_block(source, profiles)  # every name and command checked before the file is read
    target = Path(os.path.realpath(path))
    uid = os.geteuid() if uid is None else uid
    if dry_run and not target.parent.is_dir():  # a dry run makes no directory either
        return Written(True, ())
    directory = _open_directory(target, uid)
    try:
        text, seen = _read(directory, target, uid)
        taken = set(defined_outside(text, source, profiles, path=target))
        kept = {name: command for name, command in profiles.items() if name not in taken}
        new = replace_block(text, source, render_block(source, kept), path=target)
        written = Written(new != text, tuple(sorted(taken)))
        if written.changed and not dry_run:
            _replace(directory, target, new.encode("utf-8", "surrogateescape"), seen)
        return written
    finally:
        os.close(directory)


def _open_directory(target: Path, uid: int) -> int:
    """The directory of ``target``, opened and checked: only its owner (or root) may write
    there, else another user could put their own file in the place AWS tools read."""
    parent = str(target.parent)
    try:
        make_directories(parent)
        fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except UnsafePath as error:
        raise ConfigError(str(error), path=target) from None
    except OSError as error:
        raise ConfigError(f"cannot open {parent}: {error.strerror}", path=target) from None
    info = os.fstat(fd)
    problem = None
    if info.st_uid not in (uid, 0):
        problem = f"{parent} belongs to uid {info.st_uid}, who could replace the file"
    elif info.st_mode & 0o022:
        problem = (
            f"others may write to {parent} (mode {stat.S_IMODE(info.st_mode):04o}) and put "
            "their own file where AWS tools read it"
        )
    if problem is not None:
        os.close(fd)
        raise ConfigError(f"{problem}: not changed", path=target, fix=f"chmod go-w {parent}")
    return fd


def _read(directory: int, target: Path, uid: int) -> tuple[str, os.stat_result | None]:
    """The file's text and what it was (None: there is no file)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(target.name, flags, dir_fd=directory)
    except FileNotFoundError:
        return "", None
    except OSError as error:  # ELOOP: a symlink that came after the path was resolved
        raise ConfigError(f"cannot read it: {error.strerror}", path=target) from None
    try:
        info = os.fstat(fd)
        _check_file(target, info, uid)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape"), info


def _check_file(target: Path, info: os.stat_result, uid: int) -> None:
    """Whoever may change the file chooses the commands AWS tools run as this user."""
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError("is not a regular file: rolehop writes only a file", path=target)
    if info.st_uid != uid:
        raise ConfigError(f"belongs to uid {info.st_uid}, not to you: not changed", path=target)
    if info.st_mode & 0o022:
        raise ConfigError(
            f"others may write to it (mode {stat.S_IMODE(info.st_mode):04o}) and choose the "
            "commands AWS tools run: not changed",
            path=target,
            fix=f"chmod go-w {target}",
        )


def _identity(info: os.stat_result | None) -> tuple[int, ...] | None:
    if info is None:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _replace(directory: int, target: Path, data: bytes, seen: os.stat_result | None) -> None:
    """``data`` at ``target`` atomically, with the mode of the file it replaces."""
    temporary, fd = _temporary(directory, target)
    try:
        os.fchmod(fd, stat.S_IMODE(seen.st_mode) if seen is not None else 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        try:
            now: os.stat_result | None = os.stat(
                target.name, dir_fd=directory, follow_symlinks=False
            )
        except FileNotFoundError:
            now = None
        if _identity(now) != _identity(seen):  # an editor (or rolehop) saved it meanwhile
            raise ConfigError(
                "changed while rolehop was updating it: not changed, run rolehop again",
                path=target,
            )
        os.replace(temporary, target.name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException as failure:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        if isinstance(failure, OSError):
            raise ConfigError(f"cannot write it: {failure.strerror}", path=target) from None
        raise
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.fsync(directory)  # the rename, too, survives a crash of the machine


def _temporary(directory: int, target: Path) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(_TEMPORARY_TRIES):
        name = f".{target.name}.{os.urandom(6).hex()}.tmp"
        try:
            return name, os.open(name, flags, 0o600, dir_fd=directory)
        except FileExistsError:
            continue
        except OSError as error:
            raise ConfigError(
                f"cannot create a file beside it: {error.strerror}", path=target
            ) from None
    raise ConfigError("cannot create a file beside it", path=target)
