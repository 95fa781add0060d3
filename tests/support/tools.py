"""External tools: finding one (a missing one skips a test locally and fails it under CI=true)
and running one with its output captured.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pexpect
import pytest


def require_tool(name: str) -> str:
    """The path of ``name`` on PATH; skip the test without it (fail it under CI=true)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def aws_cli_dir() -> str:
    """Where ``aws`` is: next to this Python when installed there (the ``test`` extra).

    That copy is preferred to one found first on PATH, such as a pyenv shim that costs a
    second per call.
    """
    found = Path(require_tool("aws"))
    sibling = Path(sys.executable).parent / "aws"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling.parent)
    return str(found.parent)


def run_captured(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` with exactly ``env``, stdout and stderr captured as text.

    A non-zero exit does not raise: the test asserts on ``returncode``.
    """
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def spawn_rolehop(
    env: Mapping[str, str], *args: str, cwd: Path | None = None, timeout: float = 60
) -> tuple[pexpect.spawn, io.StringIO]:
    """``python -m rolehop ARGS`` on a real pseudo-terminal, and the transcript of what it
    shows there (its prompts, stdout and stderr), filled as the test talks to it."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "rolehop", *args],
        env=dict(env),
        cwd=str(cwd) if cwd else None,
        encoding="utf-8",
        timeout=timeout,
    )
    transcript = io.StringIO()
    child.logfile_read = transcript
    return child, transcript


def on_a_terminal(env: Mapping[str, str], *args: str) -> tuple[int, str]:
    """``python -m rolehop ARGS`` on a real pseudo-terminal: its exit code and what it
    showed there (stdout and stderr, with the terminal's escape sequences)."""
    child, transcript = spawn_rolehop(env, *args)
    child.setwinsize(40, 200)
    child.expect(pexpect.EOF)
    child.close()
    assert isinstance(child.exitstatus, int), transcript.getvalue()
    return child.exitstatus, transcript.getvalue()
