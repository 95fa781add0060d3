"""How commands show results: durations, and the one JSON envelope of every --json."""

from __future__ import annotations

from datetime import timedelta

from rolehop.common.envelope import JSON_VERSION, json_document

__all__ = ["JSON_VERSION", "duration_text", "json_document", "json_error"]


def duration_text(left: timedelta) -> str:
    """``42m`` or ``2h05m``: how long credentials have left, as every command shows it."""
    minutes = int(left.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def json_error(message: str, exit_code: int) -> str:
    """How a command asked for --json fails: the shape of its output, with an error."""
    return json_document({"error": {"message": message, "exit_code": exit_code}})
