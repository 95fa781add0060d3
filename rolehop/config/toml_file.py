"""rolehop's TOML file: its settings and profiles loaded, and the line of each table and key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolehop.config import owned, sso_sessions
from rolehop.config import settings as settings_table
from rolehop.config.model import BaseProfile, Profile, Settings
from rolehop.config.profiles import base_profile, role_profile
from rolehop.errors import ConfigError


@dataclass(frozen=True)
class RolehopFile:
    """What rolehop's TOML holds: settings, role profiles, base profiles, and the profiles
    that failed validation (kept for when they are used)."""

    settings: Settings = field(default_factory=Settings)
    profiles: dict[str, Profile] = field(default_factory=dict)
    bases: dict[str, BaseProfile] = field(default_factory=dict)
    broken: dict[str, ConfigError] = field(default_factory=dict)
    sessions: sso_sessions.Sessions = field(default_factory=sso_sessions.Sessions)


def load(path: Path, *, required: bool = False) -> RolehopFile:
    """The file at ``path``, validated.

    What affects every profile (the file's syntax, [settings], an unknown table; a
    ``required`` file that is missing) raises; a profile's own error is kept for when that
    profile is used, as in the AWS files.
    """
    parsed = _parse(path, required=required)
    if parsed is None:
        return RolehopFile()
    text, document = parsed
    lines = find_lines(text)
    unknown = sorted(set(document) - {"settings", "profiles", "sso"})
    if unknown:
        raise ConfigError(
            f"unknown table {unknown[0]!r} (expected [settings], [profiles.NAME] and [sso.NAME])",
            path=path,
            line=lines.get((unknown[0],)),
        )
    settings = settings_table.from_table(document.get("settings", {}), path, lines)
    raw_profiles = document.get("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError("'profiles' must be a table", path=path, line=lines.get(("profiles",)))
    return RolehopFile(
        settings, *_profiles(raw_profiles, path, lines), _sessions(document, path, lines)
    )


def with_generated(hand_written: RolehopFile, paths: list[Path]) -> RolehopFile:
    """``hand_written`` with the profiles of the generated files at ``paths`` (written by
    ``rolehop generate``) that no hand-written profile has the name of, nor an earlier
    file: a hand-written profile always wins, even a broken one."""
    profiles, bases, broken = (
        dict(hand_written.profiles),
        dict(hand_written.bases),
        dict(hand_written.broken),
    )
    for path in paths:
        owned.check(path, directory=False)
        parsed = _parse(path, required=False)
        if parsed is None:
            continue
        text, document = parsed
        lines = find_lines(text)
        unknown = sorted(set(document) - {"generated", "profiles"})
        if unknown or not isinstance(document.get("profiles", {}), dict):
            raise ConfigError(
                "a generated file holds only [generated] and [profiles.NAME]: run rolehop "
                "generate again to rewrite it",
                path=path,
                line=lines.get((unknown[0],)) if unknown else None,
            )
        more_profiles, more_bases, more_broken = _profiles(
            document.get("profiles", {}), path, lines
        )
        taken = {*profiles, *bases, *broken}
        profiles.update({n: p for n, p in more_profiles.items() if n not in taken})
        bases.update({n: b for n, b in more_bases.items() if n not in taken})
        broken.update({n: e for n, e in more_broken.items() if n not in taken})
    return RolehopFile(hand_written.settings, profiles, bases, broken, hand_written.sessions)


def _sessions(
    document: Mapping[str, Any], path: Path, lines: Mapping[tuple[str, ...], int]
) -> sso_sessions.Sessions:
    """The ``[sso.NAME]`` tables: IAM Identity Center sessions."""
    tables = document.get("sso", {})
    if not isinstance(tables, dict):
        raise ConfigError(
            "'sso' must be a table of [sso.NAME] tables", path=path, line=lines.get(("sso",))
        )
    sessions = sso_sessions.Sessions()
    for name, table in tables.items():
        key_lines = {
            key[2]: number
            for key, number in lines.items()
            if key[:2] == ("sso", name) and len(key) == 3
        }
        try:
            sessions.found[name] = sso_sessions.session(
                "sso session", name, table, path, lines.get(("sso", name)), key_lines, strict=True
            )
        except ConfigError as error:
            sessions.broken[name] = error
    return sessions


def _parse(path: Path, *, required: bool) -> tuple[str, dict[str, Any]] | None:
    """The file's text and document; None for a missing file that is not ``required``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(
                "no such file (named by --config)",
                path=path,
                fix="create it, or give --config the path of rolehop's TOML file",
            ) from None
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", path=path) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column \d+\)$", str(error))
        raise ConfigError(
            f"invalid TOML: {error}", path=path, line=int(match.group(1)) if match else None
        ) from None
    except (ValueError, RecursionError) as error:  # a 5000-digit integer, deep nesting
        raise ConfigError(f"invalid TOML: {type(error).__name__}: {error}", path=path) from None


def _profiles(
    raw_profiles: Mapping[str, Any], path: Path, lines: Mapping[tuple[str, ...], int]
) -> tuple[dict[str, Profile], dict[str, BaseProfile], dict[str, ConfigError]]:
    """Role profiles, base profiles (no role_arn), and those that failed validation."""
    profiles: dict[str, Profile] = {}
    bases: dict[str, BaseProfile] = {}
    broken: dict[str, ConfigError] = {}
    # the lines of each profile's keys, grouped once (not one scan per profile)
    key_lines: dict[str, dict[str, int]] = {}
    for key, number in lines.items():
        if len(key) == 3 and key[0] == "profiles":
            key_lines.setdefault(key[1], {})[key[2]] = number
    for name, table in raw_profiles.items():
        profile_lines = key_lines.get(name, {})
        line = lines.get(("profiles", name))
        try:
            if isinstance(table, Mapping) and "role_arn" not in table:
                bases[name] = base_profile(name, table, path, line, profile_lines)
            else:
                profiles[name] = role_profile(name, table, "rolehop", path, line, profile_lines)
        except ConfigError as error:
            broken[name] = error
    return profiles, bases, broken


# ---------------------------------------------------------------------------------------
# the line finder: enough TOML to point errors at their lines


def find_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each table path and ``table + (key,)`` to its 1-based line number."""
    lines: dict[tuple[str, ...], int] = {}
    # tables named by a header of their own, whose line no later mention may take
    headed: set[tuple[str, ...]] = set()
    table: tuple[str, ...] = ()
    # TOML ends lines at \n only (str.splitlines would also split at U+2028 and others)
    for number, line in enumerate(text.split("\n"), start=1):
        header = _table_header(line)
        if header is not None:
            table = _split_header(header)
            # [profiles.a.b] also defines profiles.a, on this line unless a header of its
            # own names it (before or after)
            for end in range(1, len(table)):
                lines.setdefault(table[:end], number)
            if table not in headed:
                headed.add(table)
                lines[table] = number
            continue
        key = _TOML_KEY.match(line)
        if key:  # a dotted key (a.b = 1) also defines its tables on this line
            parts = _split_header(key.group(1))
            for end in range(1, len(parts) + 1):
                lines.setdefault((*table, *parts[:end]), number)
    return lines


def _split_header(text: str) -> tuple[str, ...]:
    """``profiles."a.b".c`` -> ("profiles", "a.b", "c"): enough TOML to find lines. The
    spaces around a part go, those inside its quotes stay (``" dev"`` is " dev")."""
    if '"' not in text and "'" not in text:  # the common case, at a thousand profiles
        return tuple(part.strip() for part in text.split("."))
    parts: list[str] = []
    current, quote, quoted = "", "", False
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "\"'":
            quote, quoted = char, True
            current = current.strip()
        elif char == ".":
            parts.append(current if quoted else current.strip())
            current, quoted = "", False
        elif not (quoted and char.isspace()):
            current += char
    parts.append(current if quoted else current.strip())
    return tuple(parts)


_TOML_KEY_PART = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)"""
_TOML_KEY = re.compile(rf"\s*({_TOML_KEY_PART}(?:\s*\.\s*{_TOML_KEY_PART})*)\s*=")


def _table_header(line: str) -> str | None:
    """``[a.b]  # note`` -> "a.b"; linear in the line (a regex here backtracked cubically)."""
    stripped = line.strip()
    if not stripped.startswith("[") or stripped.startswith("[["):
        return None
    end = _closing_bracket(stripped)
    rest = stripped[end + 1 :].strip() if end > 0 else "x"
    if rest and not rest.startswith("#"):
        return None
    return stripped[1:end].strip() or None


def _closing_bracket(header: str) -> int:
    """Where ``[...]`` ends: the first ``]`` outside quotes (``[profiles.'a[b]']``), -1 if
    none. One pass: quoted keys hold no escapes that matter here but ``\"``."""
    quote = ""
    escaped = False
    for index, char in enumerate(header):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "]":
            return index
    return -1
