"""What the output goes to: rich decoration only for a person at a terminal.

Machine outputs (``env``, ``credential-process``, ``--json``) never come through here.
rich itself honours ``NO_COLOR``; it is imported only when a terminal is there to use it.
"""

from __future__ import annotations

import sys


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def can_print(text: str) -> bool:
    """Whether stdout's encoding can carry ``text`` (✓ and ✗ need UTF-8, say)."""
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True
