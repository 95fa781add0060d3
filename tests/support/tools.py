"""Finding external tools: a missing one skips a test locally and fails it under CI=true."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

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
