"""``rolehop demo`` end to end, in a subprocess: it works and leaves nothing behind."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rolehop.features.demo import ITEM_ID, PROFILE, ROLE_NAME
from tests.conftest import REPO, Sandbox
from tests.support.tools import run_captured


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time."""
    return {
        str(path.relative_to(root)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("user_setup", ["clean", "hostile"])
def test_demo_runs_and_leaves_nothing_behind(
    sandbox: Sandbox, subprocess_env: dict[str, str], user_setup: str
) -> None:
    user_environ = {}
    if user_setup == "hostile":
        # The demo must not depend on the user's AWS setup: an exported profile that only
        # rolehop knows (or a stale one), and a ~/.aws/config that botocore cannot parse.
        user_environ = {"AWS_PROFILE": "research-ro", "AWS_DEFAULT_PROFILE": "research-ro"}
        sandbox.write_aws_config("[profile research\nnot ini at all\n")
    keyring_file = Path(subprocess_env["ROLEHOP_TEST_KEYRING"])
    keyring_file.write_text(json.dumps({"rolehop\0index": '{"v": 1, "entries": {}}'}))
    keyring_before = (keyring_file.read_bytes(), keyring_file.stat().st_mtime_ns)
    tmp = sandbox.root / "tmp"
    tmp.mkdir()
    home_before = _tree(sandbox.home)
    assert "AWS_ENDPOINT_URL" not in subprocess_env  # the demo brings its own emulator
    env = {**subprocess_env, **user_environ, "TMPDIR": str(tmp), "COLUMNS": "200"}

    result = run_captured([sys.executable, "-m", "rolehop", "demo"], env, cwd=REPO, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"rolehop env {PROFILE} again: cache hit" in out
    assert "no AssumeRole call" in out
    assert "(AssumeRole called: 1)" in out
    assert f'item:   {{"id": {{"S": "{ITEM_ID}"}}, ' in out
    assert f"assumed-role/{ROLE_NAME}/rolehop-joe" in out
    assert out.rstrip().endswith("✔ every step worked")
    assert _tree(sandbox.home) == home_before
    assert list(tmp.iterdir()) == []  # its temporary configuration is gone
    assert (keyring_file.read_bytes(), keyring_file.stat().st_mtime_ns) == keyring_before
    assert not keyring_file.with_suffix(".tmp").exists()


def test_demo_sso_signs_in_and_hops(sandbox: Sandbox, subprocess_env: dict[str, str]) -> None:
    tmp = sandbox.root / "tmp"
    tmp.mkdir()
    home_before = _tree(sandbox.home)
    keyring_file = Path(subprocess_env["ROLEHOP_TEST_KEYRING"])
    env = {**subprocess_env, "TMPDIR": str(tmp), "COLUMNS": "200"}

    result = run_captured(
        [sys.executable, "-m", "rolehop", "demo", "--sso"], env, cwd=REPO, timeout=120
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "rolehop sso login corp --device-code" in out
    assert "signed in: the token is in the keyring, refreshable: yes" in out
    assert "assumed-role/AWSReservedSSO_DataScientist_" in out
    assert f'{{"id": {{"S": "{ITEM_ID}"}}, ' in out
    assert out.rstrip().endswith("✔ every step worked")
    assert _tree(sandbox.home) == home_before
    assert list(tmp.iterdir()) == []
    assert not keyring_file.exists()  # in-memory keyrings only
