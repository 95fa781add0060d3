"""The rows of ``list`` and the steps of ``graph``: data, what the agent sends back too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    origin: str
    path: str
    role_arn: str | None
    source: str | None
    chain: tuple[str, ...]
    region: str | None
    error: str | None
    # where the base's credentials come from: "keyring", "keys in ~/.aws/credentials"...
    credentials: str | None = None
    # when the target's cached credentials expire (from the cache index: no secret read)
    cached_until: datetime | None = None
    # "role", or "base": a base profile, which ``env``/``exec``... hand out itself
    kind: str = "role"


@dataclass(frozen=True)
class GraphNode:
    """One step of a chain for ``graph``: the base, its MFA session, or a role."""

    kind: str  # "base" | "mfa" | "role"
    name: str
    role_arn: str | None
    detail: str | None  # where the base's credentials come from; the MFA serial
    cached_for: timedelta | None  # time left of its cached credentials, if any

    @property
    def account(self) -> str | None:
        return self.role_arn.split(":")[4] if self.role_arn else None
