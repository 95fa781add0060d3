"""IAM Identity Center in the configuration: sessions (``[sso-session NAME]`` of the AWS
config, ``[sso.NAME]`` of rolehop's TOML) and the SSO profiles that sign in through them,
with the AWS CLI's meaning and every value checked, errors at their lines."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolehop.config import validate
from rolehop.config.model import SsoRole, SsoSession, Where
from rolehop.errors import ConfigError, close_names, did_you_mean

SESSION_KEYS: dict[str, Callable[[Any], Any]] = {
    "sso_start_url": validate.start_url,
    "sso_region": validate.region,
    "sso_registration_scopes": validate.scopes,
}
# what a profile (an AWS one, or a base of rolehop's TOML) says about its permission set
PROFILE_KEYS: dict[str, Callable[[Any], Any]] = {
    "sso_session": validate.profile_name,
    "sso_account_id": validate.account_id,
    "sso_role_name": validate.sso_role_name,
}
LEGACY_KEYS = ("sso_start_url", "sso_region")


@dataclass(frozen=True)
class Sessions:
    """The sessions one file defines, and those that failed validation (an error only
    for the profiles that use them)."""

    found: dict[str, SsoSession] = field(default_factory=dict)
    broken: dict[str, ConfigError] = field(default_factory=dict)

    def merged(self, other: Sessions) -> Sessions:
        """These sessions over ``other``'s (rolehop's TOML over the AWS config)."""
        names = {*self.found, *self.broken}
        return Sessions(
            {**{n: s for n, s in other.found.items() if n not in names}, **self.found},
            {**{n: e for n, e in other.broken.items() if n not in names}, **self.broken},
        )


def session(
    label: str,
    name: str,
    table: Any,
    path: Path,
    line: int | None,
    key_lines: Mapping[str, int],
    *,
    strict: bool,
) -> SsoSession:
    """One session's table; ``label`` names it in errors (``sso-session`` in the AWS config,
    ``sso`` in rolehop's TOML, whose unknown keys are errors: ``strict``)."""

    def error(problem: str, key: str | None = None, fix: str | None = None) -> ConfigError:
        subject = f"{label} {name!r}" + (f", key {key!r}" if key else "")
        where = key_lines.get(key, line) if key else line
        return ConfigError(f"{subject}: {problem}", path=path, line=where, fix=fix)

    if not isinstance(table, Mapping):
        raise error("must be a table of sso_start_url, sso_region and sso_registration_scopes")
    values: dict[str, Any] = {}
    for key, value in table.items():
        checker = SESSION_KEYS.get(key)
        if checker is None:
            if strict:
                raise error(f"unknown key (known: {', '.join(SESSION_KEYS)})", key)
            continue
        try:
            values[key] = checker(value)
        except ValueError as problem:
            raise error(str(problem), key, fix=f"set {key} to {validate.RULES[key]}") from None
    for key in LEGACY_KEYS:
        if key not in values:
            raise error(f"{key} is required", fix=f"add {key}: {validate.RULES[key]}")
    return SsoSession(
        name=name,
        start_url=values["sso_start_url"],
        region=values["sso_region"],
        scopes=values.get("sso_registration_scopes", ()),
        path=path,
        line=line,
        key_lines=dict(key_lines),
    )


def is_sso(items: Mapping[str, Any]) -> bool:
    """Whether a profile's keys make it an SSO profile (as botocore decides)."""
    return "sso_session" in items or "sso_start_url" in items


def role(where: Where, items: Mapping[str, Any], sessions: Sessions) -> SsoRole:
    """The permission set an SSO profile signs in as, through its session (or, in the
    legacy form, its own start URL and region). Raises ConfigError at the key's line."""
    values: dict[str, Any] = {}
    for key, checker in {**PROFILE_KEYS, **SESSION_KEYS}.items():
        if key in items:
            try:
                values[key] = checker(items[key])
            except ValueError as error:
                raise where.error(
                    str(error), key, fix=f"set {key} to {validate.RULES[key]}"
                ) from None
    found = _session(where, values, sessions)
    for key in ("sso_account_id", "sso_role_name"):
        if key not in values:
            raise where.error(
                f"{key} is required: an SSO profile names the account and the permission set "
                "whose credentials it hands out",
                fix=f"add {key}: {validate.RULES[key]}",
            )
    return SsoRole(found, values["sso_account_id"], values["sso_role_name"])


def _session(where: Where, values: Mapping[str, Any], sessions: Sessions) -> SsoSession:
    name = values.get("sso_session")
    if name is None:  # legacy: the start URL and region on the profile itself
        for key in LEGACY_KEYS:
            if key not in values:
                raise where.error(
                    f"{key} is required beside sso_start_url (or name an sso_session)",
                    fix=f"add {key}: {validate.RULES[key]}",
                )
        url = values["sso_start_url"]
        return SsoSession(url, url, values["sso_region"], legacy=True, path=where.path)
    if name in sessions.broken:
        raise sessions.broken[name]
    if name not in sessions.found:
        close = close_names(name, sessions.found)
        raise where.error(
            f"sso_session {name!r} is not defined" + (f"; {did_you_mean(close)}" if close else ""),
            "sso_session",
            fix=f"add [sso.{name}] to rolehop's TOML or [sso-session {name}] to the AWS "
            "config, with sso_start_url and sso_region",
        )
    found = sessions.found[name]
    # botocore refuses a profile whose own start URL or region differs from its session's
    for key, value in (("sso_start_url", found.start_url), ("sso_region", found.region)):
        if key in values and values[key] != value:
            raise where.error(
                f"{values[key]!r} differs from sso_session {name!r}'s {value!r}",
                key,
                fix=f"remove {key} from the profile (its session's is used)",
            )
    return found
