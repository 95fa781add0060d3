"""Which IAM Identity Center session a command means: by name, by a legacy profile's start
URL, or, with none given, the only one configured."""

from __future__ import annotations

from rolehop.config.files import Config
from rolehop.config.model import SsoSession
from rolehop.errors import UsageError, close_names, did_you_mean


def known(config: Config) -> dict[str, SsoSession]:
    """Every session: the named ones of both files, and those legacy SSO profiles make
    (named by their start URL)."""
    found = dict(config.sso_sessions)
    for base in config.aws_bases.values():
        if base.sso is not None and base.sso.session.legacy:
            found.setdefault(base.sso.session.name, base.sso.session)
    return found


def pick(config: Config, name: str | None) -> SsoSession:
    """The session named ``name`` (or the only one configured, for None)."""
    sessions = known(config)
    if name is None:
        if len(sessions) == 1:
            return next(iter(sessions.values()))
        if not sessions:
            raise UsageError(
                "no IAM Identity Center session is configured: add [sso.NAME] to rolehop's "
                "TOML (or [sso-session NAME] to the AWS config) with sso_start_url and "
                "sso_region"
            )
        raise UsageError(
            f"{len(sessions)} IAM Identity Center sessions are configured: name one "
            f"({', '.join(sorted(sessions))})"
        )
    if name in sessions:
        return sessions[name]
    close = close_names(name, sessions)
    hint = did_you_mean(close) if close else f"known: {', '.join(sorted(sessions)) or 'none'}"
    raise UsageError(f"no IAM Identity Center session {name!r}; {hint}")
