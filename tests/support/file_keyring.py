"""A keyring backend in a JSON file, so subprocesses of one test share a cache.

Selected with ``PYTHON_KEYRING_BACKEND=tests.support.file_keyring.FileKeyring`` and
``ROLEHOP_TEST_KEYRING=<path under tmp_path>``. While a file ``<that path>.locked`` exists,
every call fails as a locked keyring's would (:func:`locked`). Test-only: real users get
the OS keyring.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """The keyring file at ``path`` locked (every call fails) while the block runs."""
    marker = path.with_suffix(".locked")
    marker.touch()
    try:
        yield
    finally:
        marker.unlink()


class FileKeyring(KeyringBackend):
    priority = 1

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._path = path

    @property
    def path(self) -> Path:
        path = self._path or Path(os.environ["ROLEHOP_TEST_KEYRING"])
        if path.with_suffix(".locked").exists():
            raise KeyringLocked("the test keyring is locked")
        return path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Processes of one test update the file one at a time, as a real keyring would."""
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        assert isinstance(data, dict)
        return data

    def _save(self, data: dict[str, str]) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._locked():
            data = self._load()
            data[f"{service}\0{username}"] = password
            self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        with self._locked():
            data = self._load()
            if data.pop(f"{service}\0{username}", None) is None:
                raise PasswordDeleteError(username)
            self._save(data)
