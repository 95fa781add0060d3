"""``serve --env-file`` for real: the exports in a 0600 file a shell sources, stdout quiet,
the file gone when serve stops, and paths it must not write refused before any STS call."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rolehop.features.demo import Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.leaks import Secrets
from tests.support.tools import run_captured

WAIT = 30.0

CHILD = """\
import json, os, sys
import boto3
found = boto3.Session().get_credentials()
found.get_frozen_credentials()
json.dump({"method": found.method, "keys": sorted(k for k in os.environ if k.startswith("AWS_"))},
          open(sys.argv[1], "w"))
"""


@pytest.fixture
def research(sandbox: Sandbox, joe: dict[str, str]) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML + 'region = "us-east-1"\n')


def _wait_for_line(log: Path, text: str, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + WAIT
    while True:
        seen = log.read_text()
        if text in seen:
            return seen
        assert process.poll() is None, f"serve exited with {process.returncode}: {seen}"
        assert time.monotonic() < deadline, f"serve did not get ready: {seen}"
        time.sleep(0.05)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_serve_writes_a_private_env_file_and_removes_it_when_stopped(
    research: None,
    moto: Emulator,
    sandbox: Sandbox,
    subprocess_env: dict[str, str],
    stop: signal.Signals,
) -> None:
    path = sandbox.home / ".research.env"
    log = sandbox.root / "serve.log"
    env = {**subprocess_env, "AWS_ENDPOINT_URL": moto.url}
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "rolehop", "serve", "research-ro", "--env-file", str(path)],
            env={**env, "SHELL": "/bin/bash"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        ready = _wait_for_line(log, "Ctrl-C stops it", server)
        assert f"; exports in {path}; " in ready
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        exports = path.read_text()
        # (the exports hold the token: never part of an assertion message here)
        found = re.search(r"^export AWS_CONTAINER_AUTHORIZATION_TOKEN='([\w-]+)'$", exports, re.M)
        assert found is not None
        token = found.group(1)
        report = sandbox.root / "child.json"
        child = run_captured(
            ["bash", "-c", f". {shlex.quote(str(path))}; exec \"$@\"", "bash",
             sys.executable, "-c", CHILD, str(report)],
            {**env, "AWS_ACCESS_KEY_ID": "AKIASTALE", "AWS_SECRET_ACCESS_KEY": "stale-secret"},
        )  # fmt: skip
        assert child.returncode == 0, child.stderr
        seen = json.loads(report.read_text())
        assert seen["method"] == "container-role"
        assert "AWS_ACCESS_KEY_ID" not in seen["keys"]
    finally:
        server.send_signal(stop)
        out, _ = server.communicate(timeout=WAIT)
    assert server.returncode == 0, log.read_text()
    assert out == ""  # with --env-file, stdout stays quiet
    assert not path.exists()
    assert list(sandbox.home.glob(".research.env*")) == []  # no temporary file left either
    err = log.read_text()
    assert err.rstrip().endswith("rolehop: credentials server stopped")
    secrets = Secrets()
    secrets.add("the server's token", token)
    assert secrets.found_in(err) == []


def test_paths_it_must_not_write_are_refused_before_any_sts_call(
    research: None, moto: Emulator, sandbox: Sandbox, run_rolehop: RunRolehop
) -> None:
    bashrc = sandbox.home / ".bashrc"
    bashrc.write_text("# joe's\n")
    link = sandbox.root / "research.env"
    link.symlink_to(bashrc)
    shared = sandbox.root / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    before = moto.assume_role_calls()
    for path, problem in [
        (link, "exists and is a symlink"),
        (shared / "research.env", "others may write to"),
        (sandbox.home, "exists and is a directory"),
    ]:
        result = run_rolehop(
            "serve", "research-ro", "--shell", "bash", "--env-file", str(path),
            env={"AWS_ENDPOINT_URL": moto.url},
        )  # fmt: skip
        assert result.returncode == 1
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith(f"rolehop: error: --env-file {path}: ") and problem in line
    assert moto.assume_role_calls() == before
    assert bashrc.read_text() == "# joe's\n"
    assert os.listdir(shared) == []
