"""``serve`` and ``exec --server`` crash without a core file, as the agent does, and the
command of ``exec --server`` keeps the core limit it would have had.

Each process runs as with ``ulimit -c unlimited`` (its soft RLIMIT_CORE raised to the hard
one) in a private, empty working directory, and gets SIGSEGV once its credentials are in
memory. kernel.core_pattern must then write a file into that directory (``core``,
``core.%p``...); a positive control (the same rolehop command with ``harden()`` switched
off, under the same settings) shows that it does, and that such a file holds the
SecretAccessKey, so "no file" cannot pass for want of a dump. Where the pattern is a pipe
or an absolute path, the test checks the process's limits in /proc instead (and never
silently skips).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolehop.features.demo import Emulator
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.leaks import moto_issued

WAIT = 30.0  # seconds any one step may take

# The rolehop entry point with harden() made a no-op first: the positive control.
UNHARDENED = (
    "import sys, rolehop.common.hardening as hardening\n"
    "hardening.harden = lambda **_: None\n"
    "from rolehop.entry import main\n"
    "main()\n"
)

# exec --server's command: reports its core limit and dumpable flag, then waits.
REPORTER = """\
import ctypes, json, os, resource, sys, time
dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
core = list(resource.getrlimit(resource.RLIMIT_CORE))
with open(sys.argv[1] + ".tmp", "w") as out:
    json.dump({"pid": os.getpid(), "core": core, "dumpable": dumpable}, out)
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
"""


def _unlimited_cores() -> None:
    """preexec_fn: ``ulimit -c unlimited``, as far as the hard limit allows."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def _core_pattern_is_observable() -> bool:
    """Whether a crash writes its core file into the crashing process's directory."""
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    return bool(pattern) and not pattern.startswith("|") and "/" not in pattern


def _core_soft_limit(pid: int) -> int | None:
    """The soft RLIMIT_CORE of ``pid`` from /proc/PID/limits (None: unlimited)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft = line.split()[4]
            return None if soft == "unlimited" else int(soft)
    raise AssertionError(f"no core limit in /proc/{pid}/limits")


def _wait_for(path: Path, process: subprocess.Popen[bytes], text: str = "") -> None:
    """Until ``path`` exists (and holds ``text``), while ``process`` runs."""
    deadline = time.monotonic() + WAIT
    while not (path.exists() and text in path.read_text()):
        assert process.poll() is None, f"exited with {process.returncode}, not ready"
        assert time.monotonic() < deadline, f"not ready after {WAIT}s"
        time.sleep(0.05)


def _crash(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGSEGV)
    assert process.wait(timeout=WAIT) == -signal.SIGSEGV


def _secrets_in(folder: Path, moto: Emulator) -> int:
    """How many SecretAccessKeys moto issued are in the files of ``folder`` (the values
    never reach an assertion message)."""
    keys = [session["secret_access_key"].encode() for session in moto_issued(moto.url)]
    found = 0
    for path in folder.iterdir():
        data = path.read_bytes()
        found += sum(key in data for key in keys)
    return found


@pytest.fixture
def crash_dir(tmp_path: Path) -> Iterator[Path]:
    """A private, empty working directory for one crash; core files are removed at once
    (pytest keeps the temporary directories of earlier runs).

    Needs Linux's /proc and a hard core limit above 0: without them no test here could
    tell anything, which is a skip locally and a failure under ``CI=true``.
    """
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if hard == 0 or not Path("/proc/sys/kernel/core_pattern").exists():
        message = "core dumps are impossible here (hard RLIMIT_CORE 0, or no /proc)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path / "crash"
    folder.mkdir(mode=0o700)
    yield folder
    for path in folder.iterdir():
        path.unlink()


@pytest.fixture
def research(sandbox: Sandbox, joe: dict[str, str]) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML + 'region = "us-east-1"\n')


def _start(
    entry: list[str], args: list[str], cwd: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """rolehop ``args`` with unlimited cores in ``cwd``, its stderr into ``log``."""
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [*entry, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=_unlimited_cores,
        )


HARDENED = [sys.executable, "-m", "rolehop"]
CONTROL = [sys.executable, "-c", UNHARDENED]


def _serve_and_crash(entry: list[str], cwd: Path, log: Path, env: dict[str, str]) -> int | None:
    """Run ``serve`` until it serves, then crash it; its core limit."""
    server = _start(entry, ["serve", "research-ro", "--shell", "bash"], cwd, env, log)
    try:
        _wait_for(log, server, "Ctrl-C stops it")
        limit = _core_soft_limit(server.pid)
        _crash(server)
    finally:
        server.kill()
        server.wait(timeout=WAIT)
    return limit


def test_serve_leaves_no_core_file(
    research: None,
    moto: Emulator,
    crash_dir: Path,
    sandbox: Sandbox,
    subprocess_env: dict[str, str],
) -> None:
    env = {**subprocess_env, "AWS_ENDPOINT_URL": moto.url}
    observable = _core_pattern_is_observable()

    control_limit = _serve_and_crash(CONTROL, crash_dir, sandbox.root / "control.log", env)
    assert control_limit != 0  # the settings allow a core file
    if observable:
        assert list(crash_dir.iterdir()) != [], "the unhardened control left no core file"
        assert _secrets_in(crash_dir, moto) > 0, "the control's core holds no SecretAccessKey"
        for path in crash_dir.iterdir():
            path.unlink()

    limit = _serve_and_crash(HARDENED, crash_dir, sandbox.root / "serve.log", env)
    assert limit == 0
    assert list(crash_dir.iterdir()) == []


def _exec_and_crash(
    entry: list[str], cwd: Path, folder: Path, env: dict[str, str]
) -> tuple[int | None, dict[str, object]]:
    """Run ``exec --server`` until its command reports (into ``folder``), then crash
    rolehop; rolehop's core limit and the command's report."""
    folder.mkdir()
    report, script = folder / "child.json", folder / "reporter.py"
    script.write_text(REPORTER)
    args = ["exec", "--server", "research-ro", "--", sys.executable, str(script), str(report)]
    rolehop = _start(entry, args, cwd, env, folder / "stderr")
    child_pid = None
    try:
        _wait_for(report, rolehop)
        seen = json.loads(report.read_text())
        child_pid = seen["pid"]
        limit = _core_soft_limit(rolehop.pid)
        _crash(rolehop)
    finally:
        rolehop.kill()
        rolehop.wait(timeout=WAIT)
        if child_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)
    return limit, seen


def test_exec_server_leaves_no_core_file_and_the_command_keeps_its_limit(
    research: None,
    moto: Emulator,
    crash_dir: Path,
    sandbox: Sandbox,
    subprocess_env: dict[str, str],
) -> None:
    env = {**subprocess_env, "AWS_ENDPOINT_URL": moto.url}
    observable = _core_pattern_is_observable()
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    original = [hard, hard]  # what _unlimited_cores gives rolehop

    limit, child = _exec_and_crash(CONTROL, crash_dir, sandbox.root / "control", env)
    assert limit != 0 and child["core"] == original
    if observable:
        assert list(crash_dir.iterdir()) != [], "the unhardened control left no core file"
        assert _secrets_in(crash_dir, moto) > 0, "the control's core holds no SecretAccessKey"
        for path in crash_dir.iterdir():
            path.unlink()

    limit, child = _exec_and_crash(HARDENED, crash_dir, sandbox.root / "hardened", env)
    assert limit == 0
    assert list(crash_dir.iterdir()) == []
    # the command is not hardened by rolehop's choices: its limit is the one rolehop got,
    # and the kernel made it dumpable again at exec
    assert child["core"] == original
    assert child["dumpable"] == 1
