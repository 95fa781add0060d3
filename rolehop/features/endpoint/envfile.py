"""``serve --env-file``: the exports in a file only the user can read, for as long as they work.

The exports hold the server's token: whoever reads them gets the credentials for as long as
the server runs, and whoever can replace them chooses the code the user's shell sources. So
the file is written whole or not at all (a temporary file beside it, created 0600 with
O_EXCL|O_NOFOLLOW, synced, then renamed over the path), never through a symlink nor over a
file of someone else's, and only in a directory no one else may write to (not even a sticky
one such as /tmp: there another user can take the name before the file is written, or after
it is removed, and the shell that sources it runs their code). Every step works from
one open directory, so a parent path repointed meanwhile cannot move the file elsewhere.
``remove()`` deletes it only while it is still the file written: that file stays open until
then, so that no other file can be given its inode number meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import stat
from types import TracebackType

from rolehop.errors import EnvFileError

_TEMPORARY_TRIES = 16


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


class EnvFile:
    """``path``, checked at once (before any credential is made) and written by
    :meth:`write`; a context manager that removes what it wrote."""

    def __init__(self, path: str, *, uid: int | None = None) -> None:
        self.path = os.path.abspath(path)
        self.uid = os.geteuid() if uid is None else uid
        directory, self.name = os.path.split(self.path)
        if not self.name:
            raise EnvFileError(f"--env-file {path}: names a directory, not a file")
        try:
            self._directory = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise EnvFileError(
                f"--env-file {self.path}: cannot open {directory}: {error.strerror}"
            ) from None
        self._written = -1  # the file written, kept open
        try:
            self._check_directory(directory)
            self._check_entry()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> EnvFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()
        self.close()

    def _check_directory(self, directory: str) -> None:
        info = os.fstat(self._directory)
        if info.st_uid not in (self.uid, 0):
            raise EnvFileError(
                f"--env-file {self.path}: {directory} belongs to uid {info.st_uid}, who could "
                "replace the file your shell reads"
            )
        if info.st_mode & 0o022:
            raise EnvFileError(
                f"--env-file {self.path}: others may write to {directory} (mode "
                f"{stat.S_IMODE(info.st_mode):04o}) and put their own file where your shell "
                "reads it: use a directory of your own"
            )

    def _check_entry(self) -> None:
        """Refuse anything at the path but a regular file of the user's own."""
        try:
            info = os.stat(self.name, dir_fd=self._directory, follow_symlinks=False)
        except FileNotFoundError:
            return
        except OSError as error:
            raise EnvFileError(f"--env-file {self.path}: {error.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise EnvFileError(
                f"--env-file {self.path}: exists and is {_kind(info.st_mode)}: rolehop "
                "replaces only a regular file of your own"
            )
        if info.st_uid != self.uid:
            raise EnvFileError(
                f"--env-file {self.path}: exists and belongs to uid {info.st_uid}, not to "
                "you: not replaced"
            )

    def write(self, text: str) -> None:
        """Put ``text`` at the path, 0600, atomically."""
        temporary, fd = self._temporary()
        try:
            os.fchmod(fd, 0o600)  # exactly, whatever the umask
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
            self._check_entry()  # nothing of someone else's appeared there meanwhile
            os.replace(temporary, self.name, src_dir_fd=self._directory, dst_dir_fd=self._directory)
        except BaseException as failure:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self._directory)
            if isinstance(failure, OSError):
                raise EnvFileError(
                    f"--env-file {self.path}: cannot write it: {failure.strerror}"
                ) from None
            raise
        self._forget()  # a file written before: replaced now
        self._written = fd
        with contextlib.suppress(OSError):
            os.fsync(self._directory)  # the rename, too, survives a crash of the machine

    def _temporary(self) -> tuple[str, int]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        for _ in range(_TEMPORARY_TRIES):
            name = f".{self.name}.{os.urandom(6).hex()}.tmp"
            try:
                return name, os.open(name, flags, 0o600, dir_fd=self._directory)
            except FileExistsError:
                continue
            except OSError as error:
                raise EnvFileError(
                    f"--env-file {self.path}: cannot create a file beside it: {error.strerror}"
                ) from None
        raise EnvFileError(f"--env-file {self.path}: cannot create a file beside it")

    def remove(self) -> None:
        """Delete the file if it is still the one written: its token dies with the server."""
        if self._written < 0:
            return
        with contextlib.suppress(OSError):
            found = os.stat(self.name, dir_fd=self._directory, follow_symlinks=False)
            written = os.fstat(self._written)
            if (found.st_dev, found.st_ino) == (written.st_dev, written.st_ino):
                os.unlink(self.name, dir_fd=self._directory)
        self._forget()

    def _forget(self) -> None:
        if self._written >= 0:
            os.close(self._written)
            self._written = -1

    def close(self) -> None:
        self._forget()
        if self._directory >= 0:
            os.close(self._directory)
            self._directory = -1
