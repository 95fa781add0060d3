"""How commands show results: durations, and the one JSON envelope of every --json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any


def duration_text(left: timedelta) -> str:
    """``42m`` or ``2h05m``: how long credentials have left, as every command shows it."""
    minutes = int(left.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


# The version of the shape of every --json output (README: "JSON output"): a script checks
# it; a change that could break one makes it 2.
JSON_VERSION = 1


def json_document(fields: Mapping[str, Any], *, indent: int | None = 2) -> str:
    """Every --json output: ``{"version": JSON_VERSION, ...fields}``."""
    return json.dumps({"version": JSON_VERSION, **fields}, indent=indent)


def json_error(message: str, exit_code: int) -> str:
    """How a command asked for --json fails: the shape of its output, with an error."""
    return json_document({"error": {"message": message, "exit_code": exit_code}})
