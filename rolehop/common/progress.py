"""Telling a person that rolehop is waiting, without the core ever printing.

The core announces its long waits (an STS call that may retry, another process's lock, the
start of an MFA session) through a :data:`Busy` it was given; the CLI passes one that shows
a spinner on a terminal, everyone else (scripts, the demo, tests) gets :func:`quiet`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

# ``with busy("assuming role x"):`` around a wait that may be long
Busy = Callable[[str], AbstractContextManager[object]]


def quiet(message: str) -> AbstractContextManager[object]:
    return nullcontext()
