"""The credentials value that flows through every provider, cache and output (the Python
API's ``rolehop.credentials()`` function is another thing: see rolehop.api)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rolehop.common import redact


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; a naive value is refused, not guessed."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: rolehop only handles timezone-aware times")
    return value.astimezone(UTC)


def parse_expiration(text: str) -> datetime:
    """Parse an ISO-8601 expiration; it must carry a timezone (botocore needs one too)."""
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def format_expiration(value: datetime) -> str:
    """ISO-8601 UTC with a ``Z``, second precision: what SDKs and shells expect."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Credentials:
    """AWS credentials; temporary ones carry a session token and an STS expiration.

    Secrets are kept out of ``repr`` so that a traceback or a debug log never shows them.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None
    arn: str | None = None

    def __post_init__(self) -> None:
        if self.expiration is not None:
            object.__setattr__(self, "expiration", utc(self.expiration))
        redact.register(self.secret_access_key, self.session_token)

    def remaining(self, now: datetime) -> timedelta | None:
        """Time left before expiry, or ``None`` for long-term credentials."""
        if self.expiration is None:
            return None
        return self.expiration - utc(now)

    def fresh(self, now: datetime, margin: timedelta) -> bool:
        """True while more than ``margin`` remains (long-term keys are always valid)."""
        left = self.remaining(now)
        return left is None or left > margin

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
        }
        if self.session_token is not None:
            data["SessionToken"] = self.session_token
        if self.expiration is not None:
            data["Expiration"] = format_expiration(self.expiration)
        if self.arn is not None:
            data["Arn"] = self.arn
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Credentials:
        """Build from :meth:`to_dict` output; raises ``ValueError`` on any wrong shape."""
        if not isinstance(data, dict):
            raise ValueError("credentials must be an object")
        key_id, secret = data.get("AccessKeyId"), data.get("SecretAccessKey")
        token, expiration, arn = data.get("SessionToken"), data.get("Expiration"), data.get("Arn")
        if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) or not secret:
            raise ValueError("AccessKeyId and SecretAccessKey must be non-empty strings")
        for name, value in (("SessionToken", token), ("Expiration", expiration), ("Arn", arn)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
        return cls(
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=token,
            expiration=parse_expiration(expiration) if expiration else None,
            arn=arn,
        )
