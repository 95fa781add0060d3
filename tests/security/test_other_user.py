"""The test bed itself: the other user really is another uid, and cannot read the victim's
files."""

from __future__ import annotations

import os
from pathlib import Path

from tests.security.conftest import OtherUser


def test_the_other_user_runs_as_another_uid(other_user: OtherUser) -> None:
    done = other_user.run_python("import os; print(os.getuid(), os.getgid(), os.getgroups())")
    assert done.returncode == 0, done.stderr
    uid, gid, groups = done.stdout.split(" ", 2)
    assert (int(uid), int(gid)) == (other_user.uid, other_user.gid)
    assert int(uid) != os.getuid()
    assert groups.strip() == "[]"


def test_the_other_user_cannot_read_a_private_file(other_user: OtherUser, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0o600)
    done = other_user.run_python(f"open({str(secret)!r}).read()")
    assert done.returncode != 0
    assert "PermissionError" in done.stderr
