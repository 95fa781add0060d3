"""Whether a person is at a terminal, for what only a person can do: answer a sign-in,
pick a profile, be the one who switched (the standard library's ``sys`` only: imported on
the cache-hit path too)."""

from __future__ import annotations

import sys


def person_at_terminal() -> bool:
    """stdin and stderr both terminals: stdout may be the shell's ``$(...)`` (``use``), and
    the AWS CLI captures stderr (a ``credential_process`` has no person)."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
