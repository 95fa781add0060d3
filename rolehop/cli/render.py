"""How commands show results: durations, and the one JSON envelope of every --json."""

from __future__ import annotations

import json
from datetime import timedelta


def duration_text(left: timedelta) -> str:
    """``42m`` or ``2h05m``: how long credentials have left, as every command shows it."""
    minutes = int(left.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def json_error(message: str, exit_code: int) -> str:
    """How a command asked for --json fails: the shape of its output, with an error."""
    document = {"version": 1, "error": {"message": message, "exit_code": exit_code}}
    return json.dumps(document, indent=2)
