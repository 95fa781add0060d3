"""What the output goes to: rich decoration only for a person at a terminal.

Machine outputs (``env``, ``credential-process``, ``--json``) never come through here.
rich itself honours ``NO_COLOR``; it is imported only when a terminal is there to use it.
"""

from __future__ import annotations

import os
import sys
import threading
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


# Calls faster than this show nothing: a spinner that flashes for 100 ms is noise.
SPINNER_DELAY = 0.4


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A ``Busy`` for the core: a spinner on stderr while a long wait lasts, when stderr is
    a terminal; nothing at all otherwise (pipes, files, the AWS CLI capturing us)."""
    if not _stderr_is_terminal():
        yield
        return
    done = threading.Event()
    thread = threading.Thread(target=_spin, args=(message, done), daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def _spin(message: str, done: threading.Event) -> None:
    if done.wait(SPINNER_DELAY):
        return
    from rich.console import Console

    from rolehop.cli import printable

    # transient: the line is erased when the wait ends, leaving stderr as it was
    with Console(stderr=True).status(printable(message) + " …"):
        done.wait()
