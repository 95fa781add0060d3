"""The one JSON envelope of every --json output (README: "JSON output")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# The version of the shape of every --json output: a script checks it; a change that could
# break one makes it 2.
JSON_VERSION = 1


def json_document(fields: Mapping[str, Any], *, indent: int | None = 2) -> str:
    """Every --json output: ``{"version": JSON_VERSION, ...fields}``."""
    return json.dumps({"version": JSON_VERSION, **fields}, indent=indent)
