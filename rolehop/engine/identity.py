"""``whoami``: who a profile's credentials, or the environment's own, act as."""

from __future__ import annotations

from rolehop.aws.sts import Identity, identity_of
from rolehop.common.creds import Credentials
from rolehop.engine.context import Context
from rolehop.engine.resolve import resolve
from rolehop.errors import SourceCredentialsError


def whoami(ctx: Context, name: str | None = None, *, session: bool = True) -> Identity:
    """GetCallerIdentity for a profile's credentials, or for the active environment."""
    environ_region = ctx.environ.get("AWS_REGION") or ctx.environ.get("AWS_DEFAULT_REGION")
    if name is not None:
        resolution = resolve(ctx, name, session=session)
        credentials, region = resolution.credentials, resolution.region or environ_region
        what = f"profile {name!r}"
    else:
        credentials, region = active_credentials(), environ_region
        what = "the active credentials"
    return identity_of(ctx.sts(credentials, region), what=what)


def active_credentials() -> Credentials:
    """What an AWS SDK in this environment would use (botocore's own resolution)."""
    import botocore.session

    session = botocore.session.Session()
    try:
        found = session.get_credentials()
        frozen = found.get_frozen_credentials() if found is not None else None
    except Exception as error:
        raise SourceCredentialsError(
            f"the active credentials: {type(error).__name__}: {error}"
        ) from None
    if frozen is None or not frozen.access_key or not frozen.secret_key:
        raise SourceCredentialsError(
            "no active AWS credentials in this environment: name a profile, or run "
            '`rolehop use PROFILE` / `eval "$(rolehop env PROFILE)"` first'
        )
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)
