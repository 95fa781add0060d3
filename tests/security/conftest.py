"""Two real users on one machine: the victim (the test process) and another local user.

The tests here need to become a second uid, which only root can do: CI runs as root. Where
the suite does not run as root they are skipped, except under ``CI=true``, where that is a
failure (the security tests must run somewhere).

The other user runs only the system Python (``/usr/bin/python3``, readable by everyone) with
the standard library: a pyenv or virtualenv Python under /root is not readable by them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

# the moto world of the integration tests, for rolehop runs with real credentials
from tests.integration.conftest import joe, moto, moto_url  # noqa: F401

SYSTEM_PYTHON = "/usr/bin/python3"


def _require_root() -> None:
    if os.getuid() == 0 and shutil.which("useradd") and os.access(SYSTEM_PYTHON, os.X_OK):
        return
    message = "the security tests need root, useradd and /usr/bin/python3 (CI has them)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class OtherUser:
    """A throwaway local account that plays the attacker."""

    name: str
    uid: int
    gid: int
    home: Path
    # a directory the other user may write and the victim may read: where its scripts and
    # their reports go
    scratch: Path

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` run as this user (no supplementary groups, a clean environment)."""
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--",
            *args,
        ]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            **(extra or {}),
        }

    def python(self, script: str, *args: str) -> list[str]:
        """The command that runs ``script`` (Python source) as this user."""
        path = self.scratch / f"script-{uuid.uuid4().hex[:8]}.py"
        path.write_text(script)
        path.chmod(0o644)
        return self.command([SYSTEM_PYTHON, str(path), *args])

    def run_python(
        self, script: str, *args: str, timeout: float = 30, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.python(script, *args),
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_python(
        self, script: str, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start ``script`` as this user in the background; the caller stops it."""
        return subprocess.Popen(
            self.python(script, *args),
            env=self.env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def other_user() -> Iterator[OtherUser]:
    """A new local user for this test, removed afterwards (with every process it left)."""
    _require_root()
    name = f"rhx{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
        timeout=30,
    )
    scratch = Path(tempfile.mkdtemp(prefix="rolehop-security-"))
    try:
        entry = pwd.getpwnam(name)
        os.chown(scratch, entry.pw_uid, entry.pw_gid)
        scratch.chmod(0o755)
        yield OtherUser(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), scratch)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True, check=False)
        subprocess.run(["userdel", "--remove", "--force", name], capture_output=True, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user may write, as /tmp is (mode 1777, root's)."""
    path = Path(tempfile.mkdtemp(prefix="rolehop-shared-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)
