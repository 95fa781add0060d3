"""Where generated profiles come from: the accounts and permission sets an IAM Identity
Center session reaches, or the ACTIVE accounts of AWS Organizations (a role name in each).

ListAccountRoles runs for several accounts at once (bounded: IAM Identity Center throttles),
with botocore's standard retries; an account that refuses is reported and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from rolehop.aws import identity_center as portal
from rolehop.aws import organizations
from rolehop.config import validate
from rolehop.config.model import SsoSession
from rolehop.engine import access_tokens
from rolehop.engine.context import Context
from rolehop.engine.resolve import resolve
from rolehop.errors import NetworkError, SsoError, UsageError
from rolehop.features.generate.naming import Target

WORKERS = 8  # ListAccountRoles calls at once
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Found:
    """What a source lists: targets, and the accounts it could not read (with why)."""

    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def from_sso(ctx: Context, session: SsoSession, progress: Progress) -> Found:
    """Every account x permission set ``session`` reaches."""
    token = access_tokens.access_token(ctx, session, None)
    client = ctx.sso_clients("sso", session.region)
    accounts = portal.accounts(client, token)
    found = Found()
    done = 0
    progress(done, len(accounts))

    def roles_of(account: portal.Account) -> tuple[portal.Account, list[str], str | None]:
        try:
            return account, portal.account_roles(client, token, account.account_id), None
        except (SsoError, NetworkError) as error:
            return account, [], str(error)

    with ThreadPoolExecutor(WORKERS) as pool:
        for account, roles, problem in pool.map(roles_of, accounts):
            done += 1
            progress(done, len(accounts))
            if problem is not None:
                found.problems.append(f"account {account.name} ({account.account_id}): {problem}")
            found.targets.extend(
                Target(account.account_id, account.name, role) for role in sorted(roles)
            )
    return found


def from_organization(
    ctx: Context, profile: str, roles: tuple[str, ...], ou: str | None, walk: bool
) -> Found:
    """Every ACTIVE account of the organization (or of ``ou``'s subtree) x ``roles``, read
    with ``profile``'s credentials; ``walk``: find each account's OU (for ``{ou}``)."""
    for role in roles:
        try:
            validate.role_arn(f"arn:aws:iam::000000000000:role/{role}")
        except ValueError:
            raise UsageError(f"--role {role!r} is not an IAM role name") from None
    credentials = resolve(ctx, profile).credentials
    region = ctx.config.settings.default_region
    client = organizations.client(credentials, region)
    if ou is not None or walk:
        accounts = organizations.subtree(client, ou)
    else:
        accounts = organizations.accounts(client)
    targets = [
        Target(account.account_id, account.name, role, account.ou)
        for account in sorted(accounts, key=lambda item: item.account_id)
        for role in roles
    ]
    return Found(targets)
