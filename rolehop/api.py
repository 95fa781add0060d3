"""The Python API behind ``rolehop.session()`` and ``rolehop.credentials()``.

A session's credentials are botocore ``RefreshableCredentials`` whose refresh function is
:meth:`rolehop.engine.core.Rolehop.resolve`: the cache, the chain, the locks and the MFA rules are
the CLI's. botocore refreshes when less than 15 minutes remain (and makes every caller wait
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
from rolehop.engine.core import Resolution, Rolehop
from rolehop.errors import RolehopError

log = logging.getLogger(__name__)
METHOD = "rolehop"  # how botocore names where the credentials came from (``.method``)

# One resolve at a time in this process, whatever the profile. Threads that need the same
# credentials wait for the first and then read its cache entry (across processes, the
# core's file locks do that); MFA prompts come one at a time; and the core marks the chain
# it resolves in os.environ (ROLEHOP_RESOLVING, for credential_process loops), which a
# parallel resolve would read as a loop of its own.
_resolving = threading.Lock()


def default_app() -> Rolehop:
    """What the CLI builds, minus the terminal's spinner: the configuration the environment
    names, the agent's cache when one runs, warnings to the ``rolehop.api`` logger."""
    from rolehop.agent.remote import AgentLink

    return Rolehop(os.environ, warn=_warn, agent=AgentLink(os.environ))


def _warn(message: str) -> None:
    log.warning("%s", redact(message))


def _resolve(app: Rolehop, profile: str) -> Resolution:
    with _resolving:
        return app.resolve(profile)


def _account(credentials: Credentials) -> str | None:
    """The account of an assumed-role ARN (botocore uses it for account-based endpoints)."""
    parts = (credentials.arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _temporary(profile: str, credentials: Credentials) -> tuple[str, datetime]:
    """The session token and expiration every role session has (typed as optional)."""
    if credentials.session_token is None or credentials.expiration is None:
        raise RolehopError(f"profile {profile!r}: STS returned no session token or expiration")
    return credentials.session_token, credentials.expiration


def refresher(profile: str, app: Rolehop) -> Callable[[], dict[str, str | None]]:
    """The refresh function of a session's credentials: :meth:`Rolehop.resolve` (the cache
    first), as the metadata botocore reads (``expiry_time`` in ISO 8601 with its offset)."""

    def refresh() -> dict[str, str | None]:
        credentials = _resolve(app, profile).credentials
        token, expiry = _temporary(profile, credentials)
        return {
            "access_key": credentials.access_key_id,
            "secret_key": credentials.secret_access_key,
            "token": token,
            "expiry_time": expiry.isoformat(),
            "account_id": _account(credentials),
        }

    return refresh


def refreshable(profile: str, app: Rolehop) -> tuple[RefreshableCredentials, Resolution]:
    """``profile``'s credentials, resolved now (errors are raised here, not at the first
    AWS call) and again by botocore whenever less than 15 minutes remain.

    botocore's clock is the app's, so that a test's fake clock drives both the cache and
    the refresh."""
    first = _resolve(app, profile)
    token, expiry = _temporary(profile, first.credentials)
    credentials = RefreshableCredentials(
        access_key=first.credentials.access_key_id,
        secret_key=first.credentials.secret_access_key,
        token=token,
        expiry_time=expiry,
        refresh_using=refresher(profile, app),
        method=METHOD,
        time_fetcher=app.clock,
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
    profile: str, *, region: str | None = None, app: Rolehop | None = None
) -> boto3.Session:
    """See ``rolehop.session``; ``app`` is the Rolehop to use (default: :func:`default_app`)."""
    app = app or default_app()
    credentials, first = refreshable(profile, app)
    core = botocore.session.Session()
    # botocore's public way to choose a session's credentials: its resolver component
    core.register_component("credential_provider", CredentialResolver([_Given(credentials)]))
    # None: boto3's own choice (AWS_DEFAULT_REGION, then the AWS config's profile)
    return boto3.Session(botocore_session=core, region_name=region or first.region)


def credentials(profile: str, *, app: Rolehop | None = None) -> ReadOnlyCredentials:
    """See ``rolehop.credentials``; ``app`` as for :func:`session`."""
    resolved = _resolve(app or default_app(), profile).credentials
    token, _ = _temporary(profile, resolved)
    return ReadOnlyCredentials(
        resolved.access_key_id, resolved.secret_access_key, token, _account(resolved)
    )
