"""Isolation for every test: no real HOME, keyring, AWS config or AWS endpoint."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import botocore.credentials
import botocore.tokens
import keyring
import pytest
from hypothesis import settings

from rolehop.stores.memory_keyring import MemoryKeyring

REPO = Path(__file__).resolve().parent.parent

# the shared fixtures of the stubbed tests: world, state, sts (and the world marker)
pytest_plugins = ["tests.support.worlds"]

# Hypothesis: CI runs the same examples every time (a seed derived from each test, no
# database of past failures), so a red run is the code's doing, not the draw's; a failure
# found by a random run goes into its test as an @example. The long random hunt is an
# explicit command (README, "Development"): HYPOTHESIS_PROFILE=fuzz, which the fuzz tests
# read to run FUZZ_SCALE times their examples.
FUZZ_SCALE = 40
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("fuzz", deadline=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI") == "true" else "default"
)
settings.load_profile(PROFILE)


def _import_all_of_rolehop() -> None:
    """Hypothesis mixes constants found in the code under test into what it draws, from
    the modules imported before the draw: the fixed seed alone gave other examples
    depending on which tests ran first. With every rolehop module imported up front, the
    examples depend on the code alone."""
    import importlib
    import pkgutil

    import rolehop

    for module in pkgutil.walk_packages(rolehop.__path__, "rolehop."):
        if not module.name.endswith(".__main__"):  # a __main__ runs rolehop
            importlib.import_module(module.name)


if PROFILE == "ci":
    _import_all_of_rolehop()


@dataclass
class Sandbox:
    """The temporary files a test writes its configuration into."""

    root: Path
    home: Path
    rolehop_config: Path
    aws_config: Path
    aws_credentials: Path

    def write_rolehop(self, text: str) -> Path:
        self.rolehop_config.write_text(textwrap.dedent(text))
        return self.rolehop_config

    def write_aws_config(self, text: str) -> Path:
        self.aws_config.write_text(textwrap.dedent(text))
        return self.aws_config

    def write_aws_credentials(self, text: str) -> Path:
        self.aws_credentials.write_text(textwrap.dedent(text))
        return self.aws_credentials


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    for name in list(os.environ):
        if name.startswith(("AWS_", "ROLEHOP_", "XDG_", "PYTHON_KEYRING", "_AWS")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    box = Sandbox(
        root=tmp_path,
        home=home,
        rolehop_config=tmp_path / "rolehop.toml",
        aws_config=home / ".aws" / "config",
        aws_credentials=home / ".aws" / "credentials",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USER", "tester")
    # Never UTC: a time rendered in local time but labelled UTC (Z) must show on every
    # machine, not only on those east or west of Greenwich
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    (tmp_path / "run").mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("ROLEHOP_CONFIG", str(box.rolehop_config))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(box.aws_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(box.aws_credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # botocore fixes the SSO token cache directory when it is imported (from the HOME of
    # that moment, the real one): in-process tests must read the sandbox's
    sso_cache = str(home / ".aws" / "sso" / "cache")
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", sso_cache)
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", sso_cache)
    # no agent unless a test asks for one (tests/integration/test_agent.py): a background
    # process per test would outlive it
    monkeypatch.setenv("ROLEHOP_AGENT", "0")
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield box
    keyring.set_keyring(previous)
    monkeypatch.undo()
    time.tzset()
    _no_agent_left(tmp_path)


def _agents_under(root: Path) -> list[int]:
    """Agent processes whose socket is under ``root`` (Linux: /proc)."""
    found = []
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"rolehop.agent" in argv and any(str(root).encode() in arg for arg in argv):
                found.append(int(entry.name))
    return found


def _no_agent_left(root: Path) -> None:
    """A test stops every process it starts: an agent left running (for an hour) fails it."""
    deadline = time.monotonic() + 5
    left = _agents_under(root)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)  # one told to stop is on its way out
        left = _agents_under(root)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"the test left agent processes running: {left}"


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    """The in-memory keyring the sandbox installed for this test."""
    backend = keyring.get_keyring()
    assert isinstance(backend, MemoryKeyring)
    return backend


@pytest.fixture
def subprocess_env(sandbox: Sandbox) -> dict[str, str]:
    """Environment for a rolehop subprocess: the sandbox plus a shared file keyring."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHON_KEYRING_BACKEND"] = "tests.support.file_keyring.FileKeyring"
    env["ROLEHOP_TEST_KEYRING"] = str(sandbox.root / "keyring.json")
    return env


RunRolehop = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_rolehop(subprocess_env: dict[str, str]) -> RunRolehop:
    """Run ``python -m rolehop ARGS`` in a subprocess with the sandbox environment."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rolehop", *args],
            env={**subprocess_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def read_json(text: str) -> object:
    return json.loads(text)


# Helpers moved out of test modules into tests/support keep pytest's assertion rewriting
# (detailed failure messages); this must run before anything imports them.
pytest.register_assert_rewrite("tests.support")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``--debug`` adds handlers to global loggers; take them away again.

    Not autouse: modules that run ``--debug`` in process ask for it with
    ``pytestmark = pytest.mark.usefixtures("restore_logging")``.
    """
    loggers = [logging.getLogger(name) for name in ("rolehop", "botocore", "boto3", "urllib3")]
    saved = [(logger, logger.level, list(logger.handlers)) for logger in loggers]
    yield
    for logger, level, handlers in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers
