"""The Python API behind ``rolehop.session()`` and ``rolehop.credentials()``.

A session's credentials are botocore ``RefreshableCredentials`` whose refresh function is
:func:`rolehop.engine.resolve.resolve`: the cache, the chain, the locks and the MFA rules
are the CLI's. botocore refreshes when less than 15 minutes remain (and makes every caller wait
below 10); the cache hands out only credentials with more than ``refresh_margin`` left
(above 15 minutes, enforced), so whatever a refresh returns, botocore keeps.

``rolehop/__init__.py`` must stay free of imports (every ``rolehop`` run imports it), so
the public functions there import this module, and boto3 with it, on first call.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime

import boto3
import botocore.session
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    ReadOnlyCredentials,
    RefreshableCredentials,
)

from rolehop.common.creds import Credentials
from rolehop.common.redact import redact
from rolehop.engine import context
from rolehop.engine.context import Context
from rolehop.engine.resolve import Resolution, resolve
from rolehop.errors import RolehopError

log = logging.getLogger(__name__)
METHOD = "rolehop"  # how botocore names where the credentials came from (``.method``)

# One resolve at a time in this process, whatever the profile. Threads that need the same
# credentials wait for the first and then read its cache entry (across processes, the
# core's file locks do that); MFA prompts come one at a time; and the core marks the chain
# it resolves in os.environ (ROLEHOP_RESOLVING, for credential_process loops), which a
# parallel resolve would read as a loop of its own.
_resolving = threading.Lock()


def default_context() -> Context:
    """What the CLI builds, minus the terminal's spinner: the configuration the environment
    names, the agent's cache when one runs, warnings to the ``rolehop.api`` logger."""
    from rolehop.agent.remote import AgentLink

    return context.build(os.environ, warn=_warn, agent=AgentLink(os.environ))


def _warn(message: str) -> None:
    log.warning("%s", redact(message))


def _resolve(ctx: Context, profile: str) -> Resolution:
    with _resolving:
        return resolve(ctx, profile)


def _account(credentials: Credentials) -> str | None:
    """The account of an assumed-role ARN (botocore uses it for account-based endpoints)."""
    parts = (credentials.arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _temporary(profile: str, credentials: Credentials) -> tuple[str, datetime]:
    """The session token and expiration every role session has (typed as optional)."""
    if credentials.session_token is None or credentials.expiration is None:
        raise RolehopError(f"profile {profile!r}: STS returned no session token or expiration")
    return credentials.session_token, credentials.expiration


def refresher(profile: str, ctx: Context) -> Callable[[], dict[str, str | None]]:
    """The refresh function of a session's credentials: rolehop's resolve (the cache
    first), as the metadata botocore reads (``expiry_time`` in ISO 8601 with its offset)."""

    def refresh() -> dict[str, str | None]:
        credentials = _resolve(ctx, profile).credentials
        token, expiry = _temporary(profile, credentials)
        return {
            "access_key": credentials.access_key_id,
            "secret_key": credentials.secret_access_key,
            "token": token,
            "expiry_time": expiry.isoformat(),
            "account_id": _account(credentials),
        }

    return refresh


def refreshable(profile: str, ctx: Context) -> tuple[RefreshableCredentials, Resolution]:
    """``profile``'s credentials, resolved now (errors are raised here, not at the first
    AWS call) and again by botocore whenever less than 15 minutes remain.

    botocore's clock is the context's, so that a test's fake clock drives both the cache and
    the refresh."""
    first = _resolve(ctx, profile)
    token, expiry = _temporary(profile, first.credentials)
    credentials = RefreshableCredentials(
        access_key=first.credentials.access_key_id,
        secret_key=first.credentials.secret_access_key,
        token=token,
        expiry_time=expiry,
        refresh_using=refresher(profile, ctx),
        method=METHOD,
        time_fetcher=ctx.clock,
        account_id=_account(first.credentials),
    )
    return credentials, first


class _Given(CredentialProvider):
    """The only provider of a rolehop session's botocore resolver."""

    METHOD = METHOD
    CANONICAL_NAME = "custom-rolehop"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self.credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self.credentials


def session(
    profile: str, *, region: str | None = None, ctx: Context | None = None
) -> boto3.Session:
    """See ``rolehop.session``; ``ctx`` is the engine's context to use (default:
    :func:`default_context`)."""
    ctx = ctx or default_context()
    credentials, first = refreshable(profile, ctx)
    core = botocore.session.Session()
    # botocore's public way to choose a session's credentials: its resolver component
    core.register_component("credential_provider", CredentialResolver([_Given(credentials)]))
    # None: boto3's own choice (AWS_DEFAULT_REGION, then the AWS config's profile)
    return boto3.Session(botocore_session=core, region_name=region or first.region)


def credentials(profile: str, *, ctx: Context | None = None) -> ReadOnlyCredentials:
    """See ``rolehop.credentials``; ``ctx`` as for :func:`session`."""
    resolved = _resolve(ctx or default_context(), profile).credentials
    token, _ = _temporary(profile, resolved)
    return ReadOnlyCredentials(
        resolved.access_key_id, resolved.secret_access_key, token, _account(resolved)
    )
