"""A cache hit must not import boto3, botocore or rich (they cost ~0.2 s per call)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rolehop.common.creds import Credentials
from rolehop.engine import context
from rolehop.engine.resolve import chain_of
from rolehop.stores.cache import KeyringCache
from tests.conftest import Sandbox
from tests.support.file_keyring import FileKeyring

FORBIDDEN = ("boto3", "botocore", "rich", "s3transfer", "urllib3")

PROBE = """\
import atexit, json, sys
target = sys.argv[1]
def dump():
    with open(target, "w") as f:
        json.dump(sorted(sys.modules), f)
atexit.register(dump)
sys.argv = ["rolehop", *sys.argv[2:]]
from rolehop.cli.app import main
main()
"""


@pytest.fixture
def cached_profile(
    sandbox: Sandbox, subprocess_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Credentials:
    sandbox.write_aws_credentials(
        "[base]\naws_access_key_id = AKIABASEEXAMPLE\naws_secret_access_key = base-secret-key\n"
    )
    sandbox.write_rolehop(
        """\
        [profiles.first]
        role_arn = "arn:aws:iam::111122223333:role/first"
        source_profile = "base"
        region = "eu-west-1"

        [profiles.second]
        role_arn = "arn:aws:iam::444455556666:role/second"
        source_profile = "first"
        """
    )
    monkeypatch.setenv("ROLEHOP_TEST_KEYRING", subprocess_env["ROLEHOP_TEST_KEYRING"])
    credentials = Credentials(
        "ASIACACHEDEXAMPLE",
        "cached-secret-access-key",
        "cached-session-token",
        datetime.now(UTC) + timedelta(hours=1),
    )
    cache = KeyringCache(FileKeyring(), warn=pytest.fail, clock=lambda: datetime.now(UTC))
    key = chain_of(context.build(subprocess_env), "second").hops[-1].key
    cache.put(key, credentials, label="second")
    return credentials


@pytest.mark.parametrize(
    "args", [("credential-process", "second"), ("env", "second", "--shell", "bash")]
)
def test_cache_hit_imports_neither_boto3_nor_rich(
    cached_profile: Credentials,
    subprocess_env: dict[str, str],
    tmp_path: Path,
    args: tuple[str, ...],
) -> None:
    modules_file = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(modules_file), *args],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert cached_profile.access_key_id in done.stdout
    assert done.stderr == ""
    modules = json.loads(modules_file.read_text())
    loaded = [m for m in modules if m.split(".")[0] in FORBIDDEN]
    assert loaded == []
    assert "rolehop.cli" in modules  # the probe really ran rolehop


def test_probe_detects_a_miss_importing_boto3(
    cached_profile: Credentials, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    """The guard can fail: a cache miss (--refresh) does import botocore."""
    modules_file = tmp_path / "modules.json"
    subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            str(modules_file),
            "credential-process",
            "second",
            "--refresh",
        ],
        env={**subprocess_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "botocore" in json.loads(modules_file.read_text())
