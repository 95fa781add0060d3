"""What the output goes to: rich decoration only for a person at a terminal.

Machine outputs (``env``, ``credential-process``, ``--json``) never come through here.
rich itself honours ``NO_COLOR``; it is imported only when a terminal is there to use it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def can_print(text: str) -> bool:
    """Whether stdout's encoding can carry ``text`` (✓ and ✗ need UTF-8, say)."""
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A ``Busy`` for the core: rolehop.common.spinner's line while a long wait lasts (nothing
    when stderr is a pipe, a file, the AWS CLI capturing us)."""
    from rolehop.common import spinner as spinning
    from rolehop.common.text import printable

    stop = spinning.start(printable(message))
    try:
        yield
    finally:
        stop()
