"""Keep secrets out of logs, ``--debug`` output and tracebacks.

Every secret rolehop handles is registered here when its :class:`Credentials` object is
made, so anything written to stderr can be scrubbed of the exact values; patterns catch
the shapes botocore logs (XML and JSON bodies, signed headers) for secrets we never held.
"""

from __future__ import annotations

import logging
import re

_known: set[str] = set()
MASK = "****"

# Names under which botocore (STS, SSO, signed headers) logs a secret value.
_SECRET_NAME = (
    r"[\w-]*(?:secret[_-]?access[_-]?key|bearer[_-]?token|client[_-]?secret|password|token"  # noqa: S105
    r"|code[_-]?verifier|device[_-]?code)"
)
_PATTERNS = [
    re.compile(r"(<(SecretAccessKey|SessionToken)>)[^<]*(</\2>)", re.IGNORECASE),
    # "key": "value", 'key': b'value' (quoted key: JSON bodies, header dicts)
    re.compile(rf"""(["']{_SECRET_NAME}["']\s*[:=]\s*(?:b?["'])?)[^"'\s,}}<]+""", re.I),
    # key = value (ini, repr), key:value (a signed header line); not prose like "Token: for";
    # ")" ends a value, so code such as f(mfa_token=mfa_token) keeps its shape in tracebacks
    re.compile(rf"""(\b{_SECRET_NAME}(?:\s*=\s*["']?|:(?=\S)))[^"'\s,}})<]+""", re.I),
    re.compile(r"(Signature=)[0-9a-f]+"),
]


def register(*secrets: str | None) -> None:
    """Remember secret values so that :func:`redact` can remove them anywhere."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            _known.add(secret)


def redact(text: str) -> str:
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + MASK + (m.group(3) if m.re.groups >= 3 else ""), text
        )
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output, traceback included, passes through :func:`redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
