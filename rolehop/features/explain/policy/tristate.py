"""Three-valued (Kleene) logic: True, False, or None for "cannot be evaluated"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

Tristate: TypeAlias = bool | None  # None: cannot be evaluated

# None (cannot evaluate) loses to a definite False in AND, to True in OR.


def all_of(verdicts: Iterable[Tristate]) -> Tristate:
    result: Tristate = True
    for verdict in verdicts:
        if verdict is False:
            return False
        if verdict is None:
            result = None
    return result


def any_of(verdicts: Iterable[Tristate]) -> Tristate:
    result: Tristate = False
    for verdict in verdicts:
        if verdict is True:
            return True
        if verdict is None:
            result = None
    return result


def negate(verdict: Tristate) -> Tristate:
    return None if verdict is None else not verdict
