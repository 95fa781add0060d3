"""Text that reaches a terminal: names from files shown safely, errors as one line."""

from __future__ import annotations

import re

from rolehop.common.redact import redact

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Names from config files reach the terminal: their control characters (an escape
    sequence could retitle or rewrite the terminal) are shown escaped, never sent."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def error_line(line: str) -> str:
    """An error as rolehop prints it: one line, whatever the message holds (botocore
    quotes a child's stderr, for one), redacted, with no control character."""
    return printable(redact(" ".join(part.strip() for part in line.splitlines() if part.strip())))
