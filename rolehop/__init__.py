"""rolehop: become AWS roles, hop after hop, with credentials cached in the OS keyring.

The Python API is :func:`session` and :func:`credentials`. Every ``rolehop`` run imports
this module first (a cache hit served by the agent included), so it imports nothing: the
API's modules, boto3 among them, load on the first call.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself would cost the hot path an import
if TYPE_CHECKING:
    import boto3
    from botocore.credentials import ReadOnlyCredentials

__all__ = ["__version__", "credentials", "session"]


def __getattr__(name: str) -> str:
    """``rolehop.__version__``, from rolehop.version on first use (not at import)."""
    if name == "__version__":
        from rolehop.version import __version__

        return __version__
    raise AttributeError(f"module 'rolehop' has no attribute {name!r}")


def session(profile: str, *, region: str | None = None) -> boto3.Session:
    """A boto3 session acting as rolehop profile ``profile``, refreshed by rolehop.

    Its credentials are botocore ``RefreshableCredentials``: whenever less than 15 minutes
    remain, botocore asks rolehop again, which answers from its keyring cache or assumes
    the role(s) anew, exactly as ``rolehop credential-process`` would (the chain, the cache,
    MFA sessions and prompts, the locks shared with other rolehop processes). Threads may
    share the session and its clients; parallel refreshes make one set of STS calls.

    The credentials are resolved before this returns, so a configuration error, a refused
    AssumeRole or a missing MFA code raises here, as a :class:`rolehop.errors.RolehopError`
    subclass. A later refresh that fails raises the same errors from the AWS call that
    needed it (before the last 10 minutes, botocore logs the failure and keeps the current
    credentials).

    The region is ``region``, else the profile's ``region`` (or ``default_region``) in
    rolehop's configuration, else boto3's own choice (``AWS_DEFAULT_REGION``, then the
    ``region`` of the AWS config's default profile or ``AWS_PROFILE``).

    Example::

        import rolehop

        dynamodb = rolehop.session("research-ro").client("dynamodb")
    """
    from rolehop import api

    return api.session(profile, region=region)


def credentials(profile: str) -> ReadOnlyCredentials:
    """Frozen credentials of rolehop profile ``profile``: botocore's ``ReadOnlyCredentials``
    (``access_key``, ``secret_key``, ``token``, ``account_id``), what
    ``session.get_credentials().get_frozen_credentials()`` returns.

    They come from rolehop's cache or a new AssumeRole, as for :func:`session`, with more
    than ``refresh_margin`` (20 minutes by default) left, and do not refresh: use them at
    once (a signer, a subprocess's environment), or use :func:`session` for anything that
    lives longer. Errors are :class:`rolehop.errors.RolehopError` subclasses.

    Example::

        frozen = rolehop.credentials("research-ro")
        env = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
               "AWS_SESSION_TOKEN": frozen.token}
    """
    from rolehop import api

    return api.credentials(profile)
