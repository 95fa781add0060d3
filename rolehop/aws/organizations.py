"""AWS Organizations, read for ``rolehop generate --organization``: the organization's ACTIVE
accounts (ListAccounts), or those of one OU's subtree (ListChildren, ListAccountsForParent),
each with the name of the OU it is in. Every list is read to its last page; botocore's
standard retries absorb throttling. boto3 is imported lazily.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rolehop.aws.clients import bounded, unscoped_session
from rolehop.common.creds import Credentials
from rolehop.errors import AccessDeniedError, NetworkError, RolehopError

ACTIVE = "ACTIVE"


class OrganizationsError(RolehopError):
    """Organizations refused or failed a call (the message names it; exit 4 as for STS)."""

    exit_code = 4


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    ou: str  # the name of the OU it is in ("Root" at the top; "" when not looked up)


def client(credentials: Credentials, region: str | None, attempts: int = 10) -> Any:
    """An Organizations client signed with ``credentials`` (a management or delegated
    administrator account's); more retries than STS: listing is throttled at scale."""
    session = unscoped_session()
    return session.create_client(
        "organizations",
        region_name=region or "us-east-1",
        config=bounded(attempts, 3.0, 10.0),
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )


@contextmanager
def _calling(what: str, organizations: Any) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    endpoint = organizations.meta.endpoint_url
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "Unknown"), details.get("Message", "")
        kind = AccessDeniedError if code in ("AccessDeniedException", "AccessDenied") else None
        text = f"Organizations ({endpoint}) refused to {what}: {code}: {message}"
        raise (kind or OrganizationsError)(text) from None
    except (BotoConnectionError, HTTPClientError) as error:
        raise NetworkError(f"cannot reach Organizations at {endpoint} to {what}: {error}") from None
    except BotoCoreError as error:
        raise OrganizationsError(f"Organizations ({endpoint}) failed to {what}: {error}") from None


def _pages(organizations: Any, operation: str, key: str, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in organizations.get_paginator(operation).paginate(**params):
        items += page.get(key, [])
    return items


def _active(item: dict[str, Any]) -> bool:
    """An account that can be used: ACTIVE (``State`` in newer answers, ``Status`` before)."""
    return str(item.get("State") or item.get("Status") or ACTIVE).upper() == ACTIVE


def accounts(organizations: Any) -> list[Account]:
    """Every ACTIVE account of the organization (ListAccounts, every page)."""
    with _calling("list the organization's accounts", organizations):
        found = _pages(organizations, "list_accounts", "Accounts")
    return [Account(item["Id"], item.get("Name", ""), "") for item in found if _active(item)]


def subtree(organizations: Any, parent: str | None = None) -> list[Account]:
    """The ACTIVE accounts under ``parent`` (an OU id; the root when None), every level
    down, each with the name of the OU it is directly in."""
    with _calling("walk the organization's units", organizations):
        if parent is None:
            roots = _pages(organizations, "list_roots", "Roots")
            queue = [(root["Id"], root.get("Name", "Root")) for root in roots]
        else:
            described = organizations.describe_organizational_unit(OrganizationalUnitId=parent)
            queue = [(parent, described["OrganizationalUnit"].get("Name", parent))]
        found: list[Account] = []
        while queue:
            unit, name = queue.pop(0)
            listed = _pages(organizations, "list_accounts_for_parent", "Accounts", ParentId=unit)
            for item in listed:
                if _active(item):
                    found.append(Account(item["Id"], item.get("Name", ""), name))
            for child in _pages(
                organizations,
                "list_organizational_units_for_parent",
                "OrganizationalUnits",
                ParentId=unit,
            ):
                queue.append((child["Id"], child.get("Name", child["Id"])))
    return found
