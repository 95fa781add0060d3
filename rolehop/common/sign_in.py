"""IAM Identity Center values: a session's sign-in (its tokens) and the client they are
issued to, as rolehop keeps them and as the AWS CLI's token cache spells them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rolehop.common.redact import register


@dataclass(frozen=True)
class Registration:
    """A client registered with sso-oidc (RegisterClient): reused until it expires."""

    client_id: str
    client_secret: str
    expires_at: datetime
    scopes: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        register(self.client_secret)  # never in a log, --debug output or traceback

    def usable(self, now: datetime, scopes: tuple[str, ...], grant: str) -> bool:
        """Good for this grant and these scopes for more than a quarter of an hour."""
        return (
            self.expires_at - now > timedelta(minutes=15)
            and set(scopes) <= set(self.scopes)
            and grant in self.grant_types
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "expiresAt": _format(self.expires_at),
            "scopes": list(self.scopes),
            "grantTypes": list(self.grant_types),
        }

    @classmethod
    def from_dict(cls, document: Any) -> Registration:
        """Anything unexpected raises ValueError, KeyError or TypeError."""
        return cls(
            client_id=str(document["clientId"]),
            client_secret=str(document["clientSecret"]),
            expires_at=parse_time(str(document["expiresAt"])),
            scopes=tuple(str(scope) for scope in document.get("scopes", [])),
            grant_types=tuple(str(grant) for grant in document.get("grantTypes", [])),
        )


@dataclass(frozen=True)
class SignIn:
    """One session's sign-in: its tokens and the client they were issued to."""

    start_url: str
    region: str
    access_token: str
    expires_at: datetime
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    registration_expires_at: datetime | None = None

    def __post_init__(self) -> None:
        register(self.access_token, self.refresh_token, self.client_secret)

    def remaining(self, now: datetime) -> float:
        return (self.expires_at - now).total_seconds()

    @property
    def refreshable(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def to_aws_cli(self) -> dict[str, str]:
        """The AWS CLI's cache document (botocore's field names and time format)."""
        document = {
            "startUrl": self.start_url,
            "region": self.region,
            "accessToken": self.access_token,
            "expiresAt": _format(self.expires_at),
        }
        if self.client_id and self.client_secret:
            document.update(clientId=self.client_id, clientSecret=self.client_secret)
        if self.registration_expires_at is not None:
            document["registrationExpiresAt"] = _format(self.registration_expires_at)
        if self.refresh_token:
            document["refreshToken"] = self.refresh_token
        return document

    @classmethod
    def from_aws_cli(cls, document: Any) -> SignIn:
        """Parse the AWS CLI's document; anything unexpected raises ValueError."""
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        text = {key: value for key, value in document.items() if isinstance(value, str)}
        registration = text.get("registrationExpiresAt")
        return cls(
            start_url=text["startUrl"],
            region=text.get("region", ""),
            access_token=text["accessToken"],
            expires_at=parse_time(text["expiresAt"]),
            refresh_token=text.get("refreshToken") or None,
            client_id=text.get("clientId") or None,
            client_secret=text.get("clientSecret") or None,
            registration_expires_at=parse_time(registration) if registration else None,
        )


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """botocore's forms: ``2026-12-07T10:00:00Z``, ``...UTC``, with an offset or not."""
    cleaned = text.strip().replace("UTC", "+00:00").replace("Z", "+00:00")
    moment = datetime.fromisoformat(cleaned)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
