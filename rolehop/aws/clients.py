"""What every AWS client of rolehop's shares: a botocore session that ignores the caller's
profile (the clients carry their own credentials, or none), and timeouts that fail within
seconds with botocore's standard retries. botocore is imported only when a client is made."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import botocore.config
    import botocore.session


def unscoped_session() -> botocore.session.Session:
    """A botocore session whose AWS_PROFILE is none: the caller's (perhaps a rolehop-only
    name, or the very profile being resolved) is not these clients' to use."""
    import botocore.session

    return botocore.session.Session(session_vars={"profile": (None, None, None, None)})


def bounded(attempts: int, connect_timeout: float, read_timeout: float) -> botocore.config.Config:
    """Timeouts and standard retries (throttling included) for one client."""
    from botocore.config import Config

    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )
