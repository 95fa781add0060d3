"""Long-term keys in the keyring against moto: ``keys add`` on a real pseudo-terminal,
``--from-env``, ``keys list|remove``, and a chain that starts at stored keys with no
``~/.aws/credentials`` at all, after which no file but the keyring holds a secret.

The keyring of these tests is a JSON file (tests.support.file_keyring) shared by the
rolehop subprocesses: it is the one file allowed to hold secrets.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pexpect
import platformdirs
import pytest

from rolehop.features.demo import COMPANY, JOE_ARN, RESEARCH, ROLE_NAME, Emulator
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML, caller_arn
from tests.support.local_endpoints import StsRecording
from tests.support.tools import run_captured, spawn_rolehop

ROLE_CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"


@pytest.fixture
def env(moto: Emulator, sandbox: Sandbox, subprocess_env: dict[str, str]) -> dict[str, str]:
    """The sandbox environment with moto's endpoint; temporary files go under tmp_path.

    AWS_ENDPOINT_URL is set explicitly: ``subprocess_env`` may have been built before the
    ``moto`` fixture put it into ``os.environ``.
    """
    tmp = sandbox.root / "tmpdir"
    tmp.mkdir()
    return {**subprocess_env, "AWS_ENDPOINT_URL": moto.url, "TMPDIR": str(tmp)}


@pytest.fixture
def workdir(sandbox: Sandbox) -> Path:
    """rolehop's working directory: under tmp_path, so that a stray file there is seen."""
    path = sandbox.root / "cwd"
    path.mkdir()
    return path


@pytest.fixture
def key(moto: Emulator) -> dict[str, str]:
    """The emulator seeded: Joe's access key, in no file."""
    return moto.seed()


def _rolehop(
    env: dict[str, str], cwd: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_captured([sys.executable, "-m", "rolehop", *args], {**env, **(extra or {})}, cwd=cwd)


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def _keyring(env: dict[str, str]) -> dict[str, str]:
    data: dict[str, str] = json.loads(Path(env["ROLEHOP_TEST_KEYRING"]).read_text())
    return data


def _from_env(key: dict[str, str]) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": key["id"], "AWS_SECRET_ACCESS_KEY": key["secret"]}


def _listed(env: dict[str, str], cwd: Path) -> dict[str, dict[str, Any]]:
    """``keys list --json`` by name; the plain listing must agree with it."""
    plain = _ok(_rolehop(env, cwd, "keys", "list"))
    document = json.loads(_ok(_rolehop(env, cwd, "keys", "list", "--json")).stdout)
    assert document["version"] == 1
    rows: dict[str, dict[str, Any]] = {row["name"]: row for row in document["keys"]}
    lines = plain.stdout.splitlines()
    if rows:
        assert lines[0].split() == ["NAME", "KEY", "ID", "ADDED"]
        assert sorted(line.split()[0] for line in lines[1:]) == sorted(rows)
        for line in lines[1:]:
            name, key_id, added = line.split()
            assert key_id == rows[name]["key_id"]
            assert added == rows[name]["added"]
    else:
        assert lines == []
        assert "no keys stored" in plain.stderr
    return rows


def test_keys_add_on_a_terminal_list_and_remove(
    key: dict[str, str],
    env: dict[str, str],
    workdir: Path,
    recording: StsRecording,
) -> None:
    child, transcript = spawn_rolehop(env, "keys", "add", "joe", cwd=workdir, timeout=30)
    try:
        child.expect_exact("Access Key ID: ")
        child.sendline(key["id"])
        child.expect_exact("Secret Access Key: ")
        assert child.waitnoecho(timeout=5), "the secret prompt leaves the terminal echo on"
        child.sendline(key["secret"])
        child.expect(pexpect.EOF)
    finally:
        child.close()
    shown = transcript.getvalue()
    assert child.exitstatus == 0, shown
    assert key["id"] in shown  # the key id is echoed as typed...
    assert key["secret"] not in shown  # ...the secret is not
    assert f"stored keys 'joe' (…{key['id'][-4:]}) in the keyring" in shown
    assert f"they act as {JOE_ARN}" in shown
    # it was checked against STS with the keys typed
    (checked,) = recording.calls("GetCallerIdentity")
    assert checked.key_id == key["id"]
    stored = json.loads(_keyring(env)["rolehop-keys\0key:joe"])
    assert (stored["AccessKeyId"], stored["SecretAccessKey"]) == (key["id"], key["secret"])

    added = _ok(_rolehop(env, workdir, "keys", "add", "joe2", "--from-env", extra=_from_env(key)))
    assert added.stdout == ""
    assert f"stored keys 'joe2' (…{key['id'][-4:]}) in the keyring" in added.stderr
    assert f"they act as {JOE_ARN}" in added.stderr
    assert key["secret"] not in added.stderr

    listing = _listed(env, workdir)
    assert sorted(listing) == ["joe", "joe2"]
    assert {row["key_id"] for row in listing.values()} == {f"…{key['id'][-4:]}"}
    everything = _rolehop(env, workdir, "keys", "list").stdout + json.dumps(listing)
    assert key["secret"] not in everything
    assert key["id"] not in everything  # only its last 4 characters

    kept = subprocess.run(
        [sys.executable, "-m", "rolehop", "keys", "remove", "joe"],
        env=env,
        cwd=workdir,
        input="n\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert kept.returncode == 1, kept.stderr
    assert "Delete the keys stored as 'joe'?" in kept.stderr
    assert sorted(_listed(env, workdir)) == ["joe", "joe2"]

    removed = _ok(_rolehop(env, workdir, "keys", "remove", "joe", "--yes"))
    assert "removed keys 'joe'" in removed.stderr
    assert sorted(_listed(env, workdir)) == ["joe2"]
    assert "rolehop-keys\0key:joe" not in _keyring(env)
    again = _rolehop(env, workdir, "keys", "remove", "joe", "--yes")
    assert again.returncode == 2
    assert "no keys are stored as 'joe'" in again.stderr


def test_keys_are_never_taken_from_the_command_line(
    key: dict[str, str], env: dict[str, str], workdir: Path
) -> None:
    result = _rolehop(env, workdir, "keys", "add", "joe", key["id"], key["secret"])
    assert result.returncode == 2
    missing = _rolehop(env, workdir, "keys", "add", "joe", "--from-env")
    assert missing.returncode == 2
    assert "--from-env needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in missing.stderr
    temporary = {"AWS_ACCESS_KEY_ID": "ASIA" + key["id"][4:], "AWS_SECRET_ACCESS_KEY": "x"}
    refused = _rolehop(env, workdir, "keys", "add", "joe", "--from-env", extra=temporary)
    assert refused.returncode == 2
    assert "ASIA… keys are temporary" in refused.stderr
    assert _listed(env, workdir) == {}


def test_keys_that_cannot_be_checked_are_not_stored(
    key: dict[str, str], env: dict[str, str], workdir: Path
) -> None:
    with socket.socket() as probe:  # a loopback port with nothing behind it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = {**_from_env(key), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}

    failed = _rolehop(env, workdir, "keys", "add", "joe", "--from-env", extra=nowhere)

    assert failed.returncode == 7, failed.stderr
    assert key["secret"] not in failed.stderr
    assert _listed(env, workdir) == {}
    unchecked = _rolehop(
        env, workdir, "keys", "add", "joe", "--from-env", "--no-verify", extra=nowhere
    )
    assert unchecked.returncode == 0, unchecked.stderr
    assert "they act as" not in unchecked.stderr
    assert sorted(_listed(env, workdir)) == ["joe"]


def test_clearing_the_cache_keeps_the_stored_keys(
    sandbox: Sandbox, key: dict[str, str], env: dict[str, str], workdir: Path
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    _ok(_rolehop(env, workdir, "keys", "add", "joe", "--from-env", extra=_from_env(key)))
    first = json.loads(_ok(_rolehop(env, workdir, "credential-process", "research-ro")).stdout)

    _ok(_rolehop(env, workdir, "cache", "clear"))

    assert sorted(_listed(env, workdir)) == ["joe"]
    assert first["SessionToken"] not in Path(env["ROLEHOP_TEST_KEYRING"]).read_text()
    second = json.loads(_ok(_rolehop(env, workdir, "credential-process", "research-ro")).stdout)
    assert second["AccessKeyId"] != first["AccessKeyId"]


def _files_under(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            yield from (path for path in root.rglob("*") if path.is_file())


def _holding(secrets: Iterable[str], files: Iterable[Path]) -> dict[str, list[str]]:
    """For each file that holds a secret, which secrets (their first 4 characters)."""
    found: dict[str, list[str]] = {}
    for path in files:
        data = path.read_bytes()
        hits = [secret[:4] for secret in secrets if secret.encode() in data]
        if hits:
            found[str(path)] = hits
    return found


def test_chain_from_stored_keys_leaves_no_secret_in_any_file(
    sandbox: Sandbox, moto: Emulator, key: dict[str, str], env: dict[str, str], workdir: Path
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    assert not sandbox.aws_credentials.exists()
    before = moto.assume_role_calls()

    added = _ok(
        _rolehop(env, workdir, "--debug", "keys", "add", "joe", "--from-env", extra=_from_env(key))
    )
    assert f"they act as {JOE_ARN}" in added.stderr
    issued = _ok(_rolehop(env, workdir, "--debug", "credential-process", "research-ro"))
    document = json.loads(issued.stdout)
    assert caller_arn(moto, document) == ROLE_CALLER
    assert moto.assume_role_calls() == before + 1

    exported = _ok(_rolehop(env, workdir, "--debug", "env", "research-ro", "--shell", "bash"))
    assert f"export AWS_ACCESS_KEY_ID='{document['AccessKeyId']}'" in exported.stdout
    check = "import os, sys; sys.exit(os.environ['AWS_ACCESS_KEY_ID'] != sys.argv[1])"
    ran = _rolehop(
        env,
        workdir,
        "--debug",
        "exec",
        "research-ro",
        "--",
        sys.executable,
        "-c",
        check,
        document["AccessKeyId"],
    )
    assert ran.returncode == 0, ran.stderr
    assert moto.assume_role_calls() == before + 1  # env and exec were cache hits
    listed = _ok(_rolehop(env, workdir, "--debug", "list", "--json"))
    rows = {row["name"]: row for row in json.loads(listed.stdout)["profiles"]}
    assert rows["research-ro"]["chain"] == ["joe", "research-ro"]
    assert rows["research-ro"]["error"] is None
    assert rows["research-ro"]["credentials"] == "keyring"
    plain = _ok(_rolehop(env, workdir, "--debug", "list"))
    assert "keyring" in plain.stdout
    stored = _ok(_rolehop(env, workdir, "--debug", "keys", "list"))
    assert f"…{key['id'][-4:]}" in stored.stdout

    secrets = [key["secret"], document["SecretAccessKey"], document["SessionToken"]]
    for result in (added, issued, exported, ran, listed, plain, stored):
        # --debug logs requests and responses: redacted, all of them
        assert not any(secret in result.stderr for secret in secrets), result.args
    assert key["secret"] not in issued.stdout + exported.stdout + stored.stdout

    keyring_file = Path(env["ROLEHOP_TEST_KEYRING"])
    # the scan finds secrets where they are: in the keyring, which is a file in these tests
    assert sorted(_holding(secrets, [keyring_file])[str(keyring_file)]) == sorted(
        secret[:4] for secret in secrets
    )
    app_dirs = [
        Path(where("rolehop"))
        for where in (
            platformdirs.user_cache_dir,
            platformdirs.user_config_dir,
            platformdirs.user_data_dir,
            platformdirs.user_state_dir,
            platformdirs.user_log_dir,
            platformdirs.user_runtime_dir,
        )
    ]
    files = [
        path
        for path in _files_under([sandbox.home, sandbox.root, *app_dirs])
        if path != keyring_file
    ]
    assert sandbox.rolehop_config in files  # the scan is not empty
    assert _holding(secrets, files) == {}
    assert not sandbox.aws_credentials.exists()


def _new_key_for_joe(moto: Emulator) -> dict[str, str]:
    """A second access key of Joe's (moto allows two per user, as AWS does)."""
    iam = moto.client("iam", **moto.admin_of(COMPANY))
    created = iam.create_access_key(UserName="Joe")["AccessKey"]
    return {"id": created["AccessKeyId"], "secret": created["SecretAccessKey"]}


def test_stored_keys_come_before_the_aws_credentials_file(
    sandbox: Sandbox,
    moto: Emulator,
    key: dict[str, str],
    env: dict[str, str],
    workdir: Path,
    recording: StsRecording,
) -> None:
    in_keyring = _new_key_for_joe(moto)
    sandbox.write_aws_credentials(
        f"""\
        [joe]
        aws_access_key_id = {key["id"]}
        aws_secret_access_key = {key["secret"]}
        """
    )
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    _ok(_rolehop(env, workdir, "keys", "add", "joe", "--from-env", extra=_from_env(in_keyring)))

    issued = _ok(_rolehop(env, workdir, "credential-process", "research-ro"))

    assert caller_arn(moto, json.loads(issued.stdout)) == ROLE_CALLER
    (call,) = recording.calls("AssumeRole")
    assert call.key_id == in_keyring["id"]
    rows = json.loads(_ok(_rolehop(env, workdir, "list", "--json")).stdout)["profiles"]
    assert [(row["name"], row["credentials"]) for row in rows] == [("research-ro", "keyring")]

    # without stored keys, the AWS profile of that name is the base again
    _ok(_rolehop(env, workdir, "keys", "remove", "joe", "--yes"))
    _ok(_rolehop(env, workdir, "credential-process", "research-ro"))
    calls = recording.calls("AssumeRole")
    assert [call.key_id for call in calls] == [in_keyring["id"], key["id"]]


def test_new_or_removed_keys_drop_the_credentials_cached_from_the_old_ones(
    sandbox: Sandbox,
    moto: Emulator,
    key: dict[str, str],
    env: dict[str, str],
    workdir: Path,
    recording: StsRecording,
) -> None:
    new = _new_key_for_joe(moto)
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    _ok(_rolehop(env, workdir, "keys", "add", "joe", "--from-env", extra=_from_env(key)))
    first = json.loads(_ok(_rolehop(env, workdir, "credential-process", "research-ro")).stdout)

    _ok(_rolehop(env, workdir, "keys", "add", "joe", "--from-env", extra=_from_env(new)))
    second = json.loads(_ok(_rolehop(env, workdir, "credential-process", "research-ro")).stdout)

    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert [call.key_id for call in recording.calls("AssumeRole")] == [key["id"], new["id"]]
    assert first["SessionToken"] not in Path(env["ROLEHOP_TEST_KEYRING"]).read_text()

    _ok(_rolehop(env, workdir, "keys", "remove", "joe", "--yes"))
    gone = _rolehop(env, workdir, "credential-process", "research-ro")
    assert gone.returncode == 3, gone.stderr
    assert "no keys are stored as 'joe' (rolehop keys add joe)" in gone.stderr
    assert gone.stdout == ""
    keyring_text = Path(env["ROLEHOP_TEST_KEYRING"]).read_text()
    assert second["SessionToken"] not in keyring_text
    assert new["secret"] not in keyring_text
