"""The profiles switched to last (rolehop.stores.recent) and the picker's order."""

from __future__ import annotations

import os
from pathlib import Path

from rolehop.cli.picker import ordered
from rolehop.stores import recent


def environ(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_the_last_switch_comes_first_once(tmp_path: Path) -> None:
    env = environ(tmp_path)
    assert recent.read(env) == []
    for name in ("a", "b", "a", "c", "c"):
        recent.record(env, name)
    assert recent.read(env) == ["c", "a", "b"]
    folder = tmp_path / "cache" / "rolehop"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert sorted(os.listdir(folder)) == [recent.FILE]  # no temporary file left


def test_it_keeps_a_bounded_number(tmp_path: Path) -> None:
    env = environ(tmp_path)
    for number in range(recent.LIMIT + 10):
        recent.record(env, f"p{number}")
    names = recent.read(env)
    assert len(names) == recent.LIMIT
    assert names[0] == f"p{recent.LIMIT + 9}"


def test_a_name_that_is_no_line_is_not_kept(tmp_path: Path) -> None:
    env = environ(tmp_path)
    recent.record(env, "a\nb")
    recent.record(env, "")
    assert recent.read(env) == []


def test_a_directory_others_may_write_is_passed_over_in_silence(tmp_path: Path) -> None:
    env = environ(tmp_path)
    folder = tmp_path / "cache" / "rolehop"
    folder.mkdir(parents=True)
    (folder / recent.FILE).write_text("planted\n")
    folder.chmod(0o777)
    recent.record(env, "mine")  # no error: a convenience, never a failure
    assert recent.read(env) == []
    assert (folder / recent.FILE).read_text() == "planted\n"


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    env = environ(tmp_path)
    folder = tmp_path / "cache" / "rolehop"
    folder.mkdir(parents=True, mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("x\n")
    (folder / recent.FILE).symlink_to(elsewhere)
    assert recent.read(env) == []
    recent.record(env, "mine")
    assert elsewhere.read_text() == "x\n"


def test_the_picker_lists_the_last_used_first_then_by_name() -> None:
    names = {"zed", "ann", "bob", "gone\x07bell"}
    assert ordered(names, ["bob", "removed", "zed", "bob"]) == ["bob", "zed", "ann"]
    assert ordered(names, []) == ["ann", "bob", "zed"]
