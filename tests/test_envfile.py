"""rolehop.features.endpoint.envfile: ``serve --env-file`` writes a private file atomically,
refuses what it must not replace, and removes only what it wrote.

A file of another user is played by a real one in tests/security/test_env_file.py.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolehop.errors import EnvFileError
from rolehop.features.endpoint.envfile import EnvFile

EXPORTS = "unset AWS_PROFILE\nexport AWS_CONTAINER_AUTHORIZATION_TOKEN='token-0123456789'\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "private"
    made.mkdir(mode=0o700)
    return made


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away: the file must be 0600 by rolehop's own doing."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_writes_a_private_file_and_nothing_beside_it(folder: Path, open_umask: None) -> None:
    path = folder / "research.env"
    with EnvFile(str(path)) as target:
        target.write(EXPORTS)
        assert path.read_text() == EXPORTS
        assert _mode(path) == 0o600
        assert path.lstat().st_uid == os.geteuid()
        assert [entry.name for entry in folder.iterdir()] == ["research.env"]
    assert list(folder.iterdir()) == []  # removed on leaving: the token died with the server


def test_a_relative_path_stays_where_it_was_when_checked(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    with EnvFile("research.env") as target:
        assert target.path == str(folder / "research.env")
        monkeypatch.chdir(folder.parent)
        target.write(EXPORTS)
        assert (folder / "research.env").read_text() == EXPORTS
    assert list(folder.iterdir()) == []


def test_replaces_a_file_of_ones_own_with_a_new_private_one(folder: Path, open_umask: None) -> None:
    path = folder / "research.env"
    path.write_text("export OLD=1\n")
    path.chmod(0o644)  # as `rolehop serve > file` made it
    old_inode = path.stat().st_ino
    with EnvFile(str(path)) as target:
        target.write(EXPORTS)
        assert path.read_text() == EXPORTS
        assert _mode(path) == 0o600
        assert path.stat().st_ino != old_inode  # a new file, renamed over the old one
        target.write(EXPORTS.replace("0123", "4567"))  # a second write replaces it again
        assert "4567" in path.read_text()
    assert not path.exists()


def test_leaves_a_file_that_is_no_longer_the_one_it_wrote(folder: Path) -> None:
    path = folder / "research.env"
    with EnvFile(str(path)) as target:
        target.write(EXPORTS)
        path.unlink()
        path.write_text("the user's own\n")
    assert path.read_text() == "the user's own\n"


def test_a_file_already_gone_is_no_error(folder: Path) -> None:
    path = folder / "research.env"
    with EnvFile(str(path)) as target:
        target.write(EXPORTS)
        path.unlink()
    assert list(folder.iterdir()) == []


def test_nothing_written_nothing_removed(folder: Path) -> None:
    path = folder / "research.env"
    path.write_text("kept\n")
    with EnvFile(str(path)):
        pass  # serve failed before writing (STS refused, say)
    assert path.read_text() == "kept\n"


def _refusal(path: Path) -> str:
    with pytest.raises(EnvFileError) as refused:
        EnvFile(str(path))
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"--env-file {path}: ")
    return message


def test_refuses_a_symlink_even_to_a_file_of_ones_own(folder: Path) -> None:
    target = folder / "bashrc"
    target.write_text("# mine\n")
    link = folder / "research.env"
    link.symlink_to(target)
    assert "is a symlink" in _refusal(link)
    dangling = folder / "dangling.env"
    dangling.symlink_to(folder / "nowhere")
    assert "is a symlink" in _refusal(dangling)
    assert target.read_text() == "# mine\n"
    assert not (folder / "nowhere").exists()


def test_refuses_a_directory_and_a_fifo(folder: Path) -> None:
    (folder / "dir.env").mkdir()
    assert "is a directory" in _refusal(folder / "dir.env")
    os.mkfifo(folder / "fifo.env")
    assert "is not a regular file" in _refusal(folder / "fifo.env")


def test_a_file_that_turns_into_a_symlink_before_the_write_is_refused_then(
    folder: Path,
) -> None:
    path = folder / "research.env"
    victim = folder / "bashrc"
    victim.write_text("# mine\n")
    target = EnvFile(str(path))
    path.symlink_to(victim)
    with pytest.raises(EnvFileError, match="is a symlink"):
        target.write(EXPORTS)
    target.close()
    assert victim.read_text() == "# mine\n"
    assert sorted(entry.name for entry in folder.iterdir()) == ["bashrc", "research.env"]


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722, 0o1777])
def test_refuses_a_directory_others_may_write_to(tmp_path: Path, mode: int) -> None:
    """Sticky (/tmp) too: another user can take the name before the file is written or
    after it is removed, and the shell sourcing it runs their code."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    message = _refusal(shared / "research.env")
    assert f"others may write to {shared} (mode {mode:04o})" in message


def test_refuses_a_missing_directory(tmp_path: Path) -> None:
    message = _refusal(tmp_path / "missing" / "research.env")
    assert "cannot open" in message and "No such file or directory" in message
