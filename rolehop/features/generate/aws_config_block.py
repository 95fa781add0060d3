"""The rolehop-managed blocks of the AWS config file that ``generate --aws-config`` writes.

Each source (``sso-corp``, ``org-mgmt``...) owns one block: a begin marker, one
``[profile NAME]`` with its ``credential_process`` a profile, an end marker. Updating a
block rewrites the lines from its begin marker to its end marker and not one byte besides:
the file is the user's, and every AWS tool reads it. Where the markers leave any doubt
(a block without its end, a block inside another, two blocks of one source) rolehop stops
and names the line instead of guessing which lines are its own.

botocore reads a duplicated section as an error for every profile of the file, and a
profile it meets twice under two spellings as the later one: a name the user (or another
source) already defines is left out of the block, so hand-written profiles always win.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rolehop.config.aws_files import BLOCK_BEGIN, BLOCK_END
from rolehop.errors import ConfigError

BEGIN = "# >>> rolehop generate {source}: managed by rolehop, do not edit inside >>>"
END = "# <<< rolehop generate {source} <<<"
# an edited marker must not pass for user text (its block would be appended a second time)
_MARKER_LIKE = re.compile(r"#\s*(?:>>>|<<<)\s*rolehop\s+generate\b")
SOURCE = re.compile(r"[\w.@+=,/-]{1,128}", re.ASCII)
# configparser's line breaks (it reads in universal newlines mode), kept with their line
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# configparser's section header: greedy, so "[profile a] b]" is the section "profile a] b"
_HEADER = re.compile(r"\[(?P<header>.+)\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# botocore splits "profile NAME" like a shell: these would make it another name, or none
_NOT_IN_NAMES = re.compile(r"[\s\[\]'\"\\]")
_FIX = (
    "restore the marker lines as rolehop wrote them, or delete the whole block and run "
    "rolehop generate again"
)


@dataclass(frozen=True)
class _Block:
    """The lines of one source's block, from its begin marker to its end marker (indexes)."""

    source: str
    first: int
    last: int


def _broken(problem: str, line: int, path: Path | None, fix: str = _FIX) -> ConfigError:
    """The error names the line; with the file's path when the caller gave it."""
    if path is None:
        return ConfigError(f"line {line}: {problem}", line=line, fix=fix)
    return ConfigError(problem, path=path, line=line, fix=fix)


def _check_source(source: str) -> None:
    if not SOURCE.fullmatch(source):
        raise ConfigError(
            f"{source!r} cannot name a block of the AWS config: 1-128 characters of "
            "A-Za-z0-9_.@+=,/-"
        )


def _check_profile(name: str, command: str) -> None:
    if not name or _CONTROL.search(name) or _NOT_IN_NAMES.search(name):
        raise ConfigError(
            "cannot be written as [profile NAME] to the AWS config: a name there is one "
            "word, without spaces, quotes, backslashes, brackets or control characters",
            profile=name,
        )
    if not command or command != command.strip() or _CONTROL.search(command):
        raise ConfigError(
            "the command must be one line without control characters or surrounding "
            "spaces (an AWS config value cannot hold them)",
            profile=name,
            key="credential_process",
        )


def render_block(source: str, profiles: Mapping[str, str]) -> str:
    """The block of ``source``: its begin marker, ``[profile NAME]`` and
    ``credential_process = COMMAND`` for each name -> command line of ``profiles`` (by name),
    its end marker; lines end with "\\n". Raises :class:`ConfigError` for a source, name or
    command the AWS config cannot hold as given."""
    _check_source(source)
    lines = [BEGIN.format(source=source)]
    for name in sorted(profiles):
        _check_profile(name, profiles[name])
        lines += [f"[profile {name}]", f"credential_process = {profiles[name]}"]
    lines.append(END.format(source=source))
    return "\n".join(lines) + "\n"


def _lines(text: str) -> list[str]:
    """``text`` split after each line break (\\n, \\r\\n or \\r); joined, they are ``text``."""
    return _LINE.findall(text)


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _marker(line: str, number: int, path: Path | None) -> tuple[str, str] | None:
    """("begin" or "end", its source) for a marker line, None for any other line."""
    body = _body(line).strip()
    if not _MARKER_LIKE.match(body):
        return None
    if found := BLOCK_BEGIN.fullmatch(body):
        return "begin", found["source"]
    if found := BLOCK_END.fullmatch(body):
        return "end", found["source"]
    raise _broken(f"{body!r} looks like a rolehop marker but is not one", number, path)


def _blocks(lines: list[str], path: Path | None) -> list[_Block]:
    """Every block of every source, in order; raises :class:`ConfigError` where a begin
    marker has no end marker, or a marker is inside another source's block."""
    found: list[_Block] = []
    opened: tuple[str, int] | None = None
    for index, line in enumerate(lines):
        marker = _marker(line, index + 1, path)
        if marker is None:
            continue
        kind, source = marker
        if opened is None:
            if kind == "end":
                raise _broken(f"the end marker of {source!r} has no begin marker", index + 1, path)
            opened = (source, index)
        elif kind == "end" and source == opened[0]:
            found.append(_Block(source, opened[1], index))
            opened = None
        else:
            raise _broken(
                f"a {kind} marker of {source!r} inside the block of {opened[0]!r} begun on "
                f"line {opened[1] + 1}, which has no end marker before it",
                index + 1,
                path,
            )
    if opened is not None:
        problem = f"the block of {opened[0]!r} begun here has no end marker"
        raise _broken(problem, opened[1] + 1, path)
    return found


def _block_of(lines: list[str], source: str, path: Path | None) -> _Block | None:
    """The one block of ``source`` in ``lines``, if any."""
    mine = [block for block in _blocks(lines, path) if block.source == source]
    if len(mine) > 1:
        raise _broken(
            f"a second block of {source!r} (the first is on lines {mine[0].first + 1}-"
            f"{mine[0].last + 1}): rolehop cannot tell which one is its own",
            mine[1].first + 1,
            path,
        )
    return mine[0] if mine else None


def _newline(lines: list[str], block: _Block | None) -> str:
    """The line break of the user's first line that has one: the block follows the file."""
    for index, line in enumerate(lines):
        outside = block is None or not block.first <= index <= block.last
        if outside and line != _body(line):
            return line[len(_body(line)) :]
    return "\n"


def _check_after(lines: list[str], block: _Block, path: Path | None) -> None:
    """Refuse keys right after the block: AWS tools read them as part of the block's last
    profile (or, when it changes, of another), so rewriting the block changes their meaning."""
    for index in range(block.last + 1, len(lines)):
        body = _body(lines[index])
        if not body.strip() or body.strip().startswith(("#", ";")):
            continue
        if not _HEADER.match(body):
            raise _broken(
                f"{body.strip()!r} follows rolehop's block of {block.source!r} outside any "
                "[section]: AWS tools read it as part of the block's last profile",
                index + 1,
                path,
                fix="move it under its own [section] header, or above the block",
            )
        return


def replace_block(text: str, source: str, block: str | None, *, path: Path | None = None) -> str:
    """``text`` (an AWS config file) with the block of ``source`` replaced by ``block`` (from
    :func:`render_block`), or removed when ``block`` is None.

    Only the lines from the block's begin marker to its end marker change. Without such a
    block, ``block`` is appended: after a line break ending the last line if it has none,
    then after a blank line unless the text ends with one (or is empty). So removing what
    was appended leaves ``text`` plus those separating line breaks. The block's lines take
    the line break of the first user line that has one ("\\n" when none has).

    Raises :class:`ConfigError` naming the line (and ``path``, if given) where the markers
    are broken, a second block of ``source`` begins, or keys follow the block outside any
    section; ``ValueError`` for a ``block`` that is not one block of ``source``.
    """
    _check_source(source)
    lines = _lines(text)
    mine = _block_of(lines, source, path)
    newline = _newline(lines, mine)
    new = [] if block is None else [_body(line) + newline for line in _valid(block, source)]
    if mine is not None:
        _check_after(lines, mine, path)
        return "".join(lines[: mine.first] + new + lines[mine.last + 1 :])
    if not new:
        return text
    return text + _separator(lines, newline) + "".join(new)


def _valid(block: str, source: str) -> list[str]:
    lines = _lines(block)
    try:
        blocks = _blocks(lines, None)
    except ConfigError as error:
        raise ValueError(f"not a block of {source!r}: {error}") from None
    if blocks != [_Block(source, 0, len(lines) - 1)] or not block.endswith(("\n", "\r")):
        raise ValueError(f"not a block of {source!r} (made by render_block)")
    return lines


def _separator(lines: list[str], newline: str) -> str:
    """What goes between the user's last line and an appended block."""
    if not lines:
        return ""
    last = lines[-1]
    ending = "" if last != _body(last) else newline
    return ending if not _body(last).strip() else ending + newline


def _profile_named(header: str) -> str | None:
    """botocore's reading of a section name (``build_profile_map``): ``default``, or a
    name starting with "profile" split like a shell into two words, the second the name.
    (config.aws_files.config_profile_name also wants the first word to be "profile": here
    botocore's looser rule counts, so that no name it sees twice is written.)"""
    if header == "default":
        return "default"
    if not header.startswith("profile"):
        return None
    try:
        words = shlex.split(header)
    except ValueError:
        return None
    return words[1] if len(words) == 2 else None


def defined_outside(
    text: str, source: str, names: Iterable[str], *, path: Path | None = None
) -> tuple[str, ...]:
    """Which of ``names`` ``text`` already defines as a profile outside the block of
    ``source`` (by hand, or in another source's block), sorted: the block must leave them
    out. Raises :class:`ConfigError` as :func:`replace_block` does for broken markers."""
    _check_source(source)
    lines = _lines(text)
    mine = _block_of(lines, source, path)
    wanted = set(names)
    found: set[str] = set()
    for index, line in enumerate(lines):
        if mine is not None and mine.first <= index <= mine.last:
            continue
        header = _HEADER.match(_body(line).strip())
        name = _profile_named(header["header"]) if header else None
        if name in wanted:
            found.add(name)
    return tuple(sorted(found))
