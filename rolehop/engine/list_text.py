"""``list``'s output for scripts and pipes (plain columns, or --json) and its warnings, as
text: written by the command line, and by the agent for the entry's fast path, which must
print the same bytes (the terminal's rich table is the command line's alone)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from rolehop.common.creds import format_expiration
from rolehop.common.envelope import json_document
from rolehop.common.text import error_line, printable
from rolehop.engine.rows import ProfileSummary


def json_text(summaries: Sequence[ProfileSummary]) -> str:
    """``list --json``: role profiles under "profiles" (what it always held), bases apart."""
    rows = [
        {
            **asdict(s),
            "chain": list(s.chain),
            "hops": max(len(s.chain) - 1, 0),
            "cached_until": format_expiration(s.cached_until) if s.cached_until else None,
        }
        for s in summaries
    ]
    document = {
        "profiles": [row for row in rows if row["kind"] == "role"],
        "bases": [row for row in rows if row["kind"] == "base"],
    }
    return json_document(document) + "\n"


def plain_table(summaries: Sequence[ProfileSummary]) -> str:
    """For pipes and scripts: plain aligned columns, no colour."""
    header = ("PROFILE", "ROLE", "SOURCE", "HOPS", "REGION", "FROM", "CREDENTIALS")
    table = [header]
    for s in summaries:
        table.append(
            (
                s.name,
                s.role_arn or "-",
                s.chain[0] if s.chain else (s.source or "-"),
                str(len(s.chain) - 1) if s.chain else "!",
                s.region or "-",
                s.origin,
                s.credentials or "-",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = (
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in table
    )
    return "".join(printable(line.rstrip()) + "\n" for line in lines)


def warnings(summaries: Sequence[ProfileSummary]) -> str:
    """A broken source profile breaks every profile built on it with its own error: once."""
    errors = dict.fromkeys(s.error for s in summaries if s.error)
    return "".join(error_line(f"rolehop: warning: {error}") + "\n" for error in errors)
