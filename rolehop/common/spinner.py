"""A spinner on stderr for long waits: a line redrawn by a thread with plain writes.

Shared by the CLI (the core's ``Busy``) and ``rolehop.entry`` (waiting for the agent), which
must not import rich (35 ms) or even threading until there is something to wait for.
Nothing is drawn when stderr is not a terminal, nor for waits shorter than :data:`DELAY`.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

DELAY = 0.4  # a spinner that flashes for 100 ms is noise
FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def on_a_terminal() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def _nothing() -> None:
    pass


def start(text: str) -> Callable[[], None]:
    """Spin ``text`` (already printable) until the returned function is called; that
    function erases the line, leaving stderr as it was."""
    if not on_a_terminal():
        return _nothing
    import threading

    done = threading.Event()

    def spin() -> None:
        if done.wait(DELAY):
            return
        frame = 0
        while not done.wait(0.1):
            sys.stderr.write(f"\r{FRAMES[frame % len(FRAMES)]} {text} …")
            sys.stderr.flush()
            frame += 1
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join()

    return stop
