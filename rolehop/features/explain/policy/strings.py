"""Policy strings: variables resolved against the request, wildcards, and ARN matching."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rolehop.features.explain.policy.request import Context
from rolehop.features.explain.policy.results import quote

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WITH_DEFAULT = re.compile(r"\s*([^,]+?)\s*,\s*'([^']*)'\s*")
_ESCAPES = ("*", "?", "$")  # ${*}, ${?} and ${$}: the character itself, never a wildcard


@dataclass
class Scope:
    """Resolves policy strings for one condition or element, noting what it substituted."""

    context: Context
    variables: bool
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def resolve(self, text: str, *, wildcards: bool) -> tuple[tuple[str, bool], ...] | None:
        """``text`` as (character, is a wildcard) pairs; None if a variable has no value.

        A substituted value is literal: a "*" in a user name is no wildcard.
        """
        chars: list[tuple[str, bool]] = []
        position = 0
        matches = _VARIABLE.finditer(text) if self.variables else iter(())
        missing = False
        for match in matches:
            chars += to_chars(text[position : match.start()], wildcards=wildcards)
            position = match.end()
            inner = match.group(1)
            if inner in _ESCAPES:
                chars += to_chars(inner, wildcards=False)
                continue
            with_default = _WITH_DEFAULT.fullmatch(inner)
            name = with_default.group(1) if with_default else inner.strip()
            value = self.context.single(name)
            if value is None and with_default:
                value = with_default.group(2)
                self.note(f"{match.group(0)}: {name} absent, default {quote(value)}")
            elif value is None:
                self.note(f"{match.group(0)} has no value: matches nothing")
                missing = True
            else:
                self.note(f"{match.group(0)}={quote(value)}")
            chars += to_chars(value or "", wildcards=False)
        chars += to_chars(text[position:], wildcards=wildcards)
        return None if missing else tuple(chars)


def to_chars(text: str, *, wildcards: bool) -> list[tuple[str, bool]]:
    """(character, is a wildcard) pairs: with ``wildcards``, "*" and "?" are wildcards."""
    return [(char, wildcards and char in "*?") for char in text]


def to_text(chars: Iterable[tuple[str, bool]]) -> str:
    """The characters of ``chars``, wildcards taken literally."""
    return "".join(char for char, _ in chars)


def glob(chars: Iterable[tuple[str, bool]], *, ignore_case: bool = False) -> re.Pattern[str]:
    """A regular expression for ``chars``: "*" any run of characters, "?" any one."""
    pattern = "".join(
        (".*" if char == "*" else ".") if wild else re.escape(char) for char, wild in chars
    )
    return re.compile(pattern, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def arn_like(pattern: tuple[tuple[str, bool], ...], value: str) -> bool:
    """ARN matching: each of the six colon-separated parts on its own, for ArnLike (condition
    operators page) and for Resource (Resource element page: wildcards work within a part).

    The last part (the resource) takes the rest, colons included. A pattern that is not an
    ARN ("*") matches the whole string.
    """
    parts = _split_arn(pattern)
    if len(parts) < 6:
        return glob(pattern).fullmatch(value) is not None
    values = value.split(":", 5)
    return len(values) == 6 and all(
        glob(part).fullmatch(text) is not None for part, text in zip(parts, values, strict=True)
    )


def _split_arn(pattern: tuple[tuple[str, bool], ...]) -> list[tuple[tuple[str, bool], ...]]:
    parts: list[list[tuple[str, bool]]] = [[]]
    for char in pattern:
        if char[0] == ":" and len(parts) < 6:
            parts.append([])
        else:
            parts[-1].append(char)
    return [tuple(part) for part in parts]


def string_list(raw: Any) -> tuple[str, ...] | None:
    """A string or a non-empty list of strings, as a tuple; None for anything else."""
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
        return tuple(raw)
    return None
