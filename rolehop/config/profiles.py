"""A profile's keys validated into a role Profile or a BaseProfile, errors at their lines."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from rolehop.config import sso_sessions, validate
from rolehop.config.model import BaseProfile, Origin, Profile, Where
from rolehop.errors import ConfigError, close_names

PROFILE_KEYS: dict[str, Callable[[Any], Any]] = {
    "role_arn": validate.role_arn,
    "source_profile": validate.profile_name,
    "external_id": validate.external_id,
    "role_session_name": validate.session_name,
    "duration_seconds": validate.duration_seconds,
    "region": validate.region,
    "source_identity": validate.source_identity,
    "session_tags": validate.session_tags,
    "policy_arns": validate.policy_arns,
    "mfa_serial": validate.mfa_serial,
    "mfa_process": validate.mfa_process,
    "credential_source": validate.credential_source,
    "session_duration": validate.session_duration,
}
# A profile without role_arn is a base profile: these are the keys that make sense there.
BASE_KEYS = ("mfa_serial", "mfa_process", "session_duration", "region", *sso_sessions.PROFILE_KEYS)
# what an SSO base cannot have: IAM Identity Center asks for MFA at sign-in
NOT_WITH_SSO = ("mfa_serial", "mfa_process", "session_duration")


def bad_name(where: Where, error: ValueError) -> ConfigError:
    return where.error(str(error), fix=f"rename the profile: it must be {validate.NAME_RULE}")


def bad_value(where: Where, key: str, error: ValueError) -> ConfigError:
    return where.error(str(error), key, fix=f"set {key} to {validate.RULES[key]}")


def unknown_key(where: Where, key: str, known: Collection[str]) -> ConfigError:
    close = close_names(key, known)
    fix = f"rename it to {close[0]!r}" if close else f"remove it ({', '.join(known)} are known)"
    return where.error(f"unknown key (known: {', '.join(PROFILE_KEYS)})", key, fix=fix)


def role_profile(
    name: str,
    table: Any,
    origin: Origin,
    path: Path,
    line: int | None,
    key_lines: Mapping[str, int],
) -> Profile:
    where = Where(name, path, line, key_lines)
    try:
        validate.profile_name(name)
    except ValueError as error:
        raise bad_name(where, error) from None
    if not isinstance(table, Mapping):
        raise where.error(
            "must be a table of settings",
            fix=f"make it a table: [profiles.{name}] with role_arn and source_profile",
        )
    values: dict[str, Any] = {}
    for key, value in table.items():
        checker = PROFILE_KEYS.get(key)
        if checker is None:
            if origin == "aws":
                continue  # the AWS files hold many keys that are not ours
            raise unknown_key(where, key, PROFILE_KEYS)
        try:
            values[key] = checker(value)
        except ValueError as error:
            raise bad_value(where, key, error) from None
    if "role_arn" not in values:
        raise where.error(
            "role_arn is required: a rolehop profile names the role to become",
            fix=f"add role_arn: {validate.RULES['role_arn']}",
        )
    if "session_duration" in values:
        raise where.error(
            "belongs to a base profile (the MFA session of a profile without role_arn)",
            "session_duration",
            fix="move it to the base profile the chain starts from, or remove it",
        )
    if "source_profile" in values and "credential_source" in values:
        raise where.error(
            "set either source_profile or credential_source, not both",
            "credential_source",
            fix="remove credential_source or source_profile",
        )
    if "source_profile" not in values and "credential_source" not in values:
        raise where.error(
            "source_profile is required: it names where the credentials come from",
            fix="add source_profile (a profile with keys, or another role profile) or "
            f"credential_source ({', '.join(validate.CREDENTIAL_SOURCES)})",
        )
    return Profile(
        name=name, origin=origin, path=path, line=line, key_lines=dict(key_lines), **values
    )


def base_profile(
    name: str, table: Mapping[str, Any], path: Path, line: int | None, key_lines: Mapping[str, int]
) -> BaseProfile:
    where = Where(name, path, line, key_lines)
    try:
        validate.profile_name(name)
    except ValueError as error:
        raise bad_name(where, error) from None
    values: dict[str, Any] = {}
    sso_keys: dict[str, str] = {}
    for key, value in table.items():
        if key in sso_sessions.PROFILE_KEYS:
            try:
                sso_keys[key] = sso_sessions.PROFILE_KEYS[key](value)
            except ValueError as error:
                raise bad_value(where, key, error) from None
            continue
        if key not in BASE_KEYS:
            if key in PROFILE_KEYS:
                raise where.error(
                    "belongs to a role profile, and this one has no role_arn (a profile "
                    f"without role_arn is a base profile, which takes only {', '.join(BASE_KEYS)})",
                    key,
                    fix=f"add role_arn to make {name!r} a role profile, or remove {key}",
                )
            raise unknown_key(where, key, BASE_KEYS)
        try:
            values[key] = PROFILE_KEYS[key](value)
        except ValueError as error:
            raise bad_value(where, key, error) from None
    if sso_keys:
        _sso_base(where, sso_keys, values)
    return BaseProfile(
        name=name, path=path, line=line, key_lines=dict(key_lines), sso_keys=sso_keys, **values
    )


def _sso_base(where: Where, sso_keys: Mapping[str, str], values: Mapping[str, Any]) -> None:
    """An SSO base names its session, account and permission set, and has no MFA."""
    for key in sso_sessions.PROFILE_KEYS:
        if key not in sso_keys:
            raise where.error(
                f"{key} is required in an SSO base profile (beside {', '.join(sorted(sso_keys))})",
                fix=f"add {key}: {validate.RULES[key]}",
            )
    for key in NOT_WITH_SSO:
        if key in values:
            raise where.error(
                "an SSO base profile has no MFA session of its own: IAM Identity Center asks "
                "for MFA when you sign in",
                key,
                fix=f"remove {key}",
            )
