"""What is asked: the Request, and its condition keys looked up as IAM does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

ContextValue: TypeAlias = str | list[str] | None


@dataclass(frozen=True)
class Request:
    """What is asked: an action on a resource, by a caller, with condition keys.

    ``principal_arn`` is the caller: a user, an assumed-role session, a role or a root ARN;
    ``service_principal`` ("ec2.amazonaws.com") or ``federated`` (an identity provider) name
    a caller that is not an AWS principal. ``context`` maps condition keys to their values;
    a key that is missing, or maps to ``None``, is absent from the request.
    """

    action: str
    resource: str
    principal_arn: str | None
    principal_account: str | None
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    service_principal: str | None = None
    federated: str | None = None


class Context:
    """Condition keys of the request; key names are case-insensitive (variables page)."""

    def __init__(self, raw: Mapping[str, ContextValue]) -> None:
        self._raw = raw
        self._folded = {key.casefold(): value for key, value in raw.items()}

    def get(self, key: str) -> str | tuple[str, ...] | None:
        value = self._raw[key] if key in self._raw else self._folded.get(key.casefold())
        if value is None or isinstance(value, str):
            return value
        return tuple(value)

    def single(self, key: str) -> str | None:
        """The one value of ``key``, for a variable; a multivalued key has none."""
        value = self.get(key)
        if isinstance(value, tuple):
            return value[0] if len(value) == 1 else None
        return value
