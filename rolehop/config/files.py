"""Load and validate profiles from rolehop's TOML file and the AWS shared files.

Only the standard library is used here: this module sits on the cache-hit path.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import shlex
import tomllib
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from rolehop.config import locations, validate
from rolehop.errors import ConfigError, ProfileNotFoundError, close_names, did_you_mean

DEFAULT_REFRESH_MARGIN = timedelta(minutes=20)
log = logging.getLogger(__name__)

Origin = Literal["rolehop", "aws"]


@dataclass(frozen=True)
class Settings:
    refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN
    default_region: str | None = None
    keyring_backend: str | None = None
    cache: bool = True
    # how long a process waits for another one refreshing the same credentials
    lock_timeout: float = 120.0
    # STS calls: botocore's standard retry mode, and timeouts that fail within seconds
    sts_max_attempts: int = 3
    sts_connect_timeout: float = 3.0
    sts_read_timeout: float = 5.0
    # the agent (rolehop.agent): on by default; it exits after this long without a request
    agent: bool = True
    agent_idle_timeout: float = 3600.0
    # `rolehop login`: the console federation endpoint (default: that of the role's partition)
    federation_url: str | None = None
    # a federation_url that is not AWS's console sign-in: allowed only when this says so
    allow_custom_federation_url: bool = False
    # the line of each setting in rolehop's TOML, for errors found after loading
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Profile:
    """A role to become: the AWS shared-config keys of one role profile, validated."""

    name: str
    origin: Origin
    path: Path
    line: int | None
    role_arn: str
    source_profile: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    region: str | None = None
    source_identity: str | None = None
    session_tags: tuple[tuple[str, str], ...] = ()
    policy_arns: tuple[str, ...] = ()
    mfa_serial: str | None = None
    mfa_process: str | None = None
    credential_source: str | None = None
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def error(self, problem: str, key: str | None = None, fix: str | None = None) -> ConfigError:
        """A :class:`ConfigError` pointing at this profile (and key) in its file."""
        return _Where(self.name, self.path, self.line, self.key_lines).error(problem, key, fix)


@dataclass(frozen=True)
class BaseProfile:
    """Where a chain starts, as rolehop's TOML describes it: no role, perhaps MFA.

    Its long-term keys are the ones stored under its name in the keyring
    (``rolehop keys add NAME``), else those of the AWS shared files.
    """

    name: str
    path: Path
    line: int | None
    mfa_serial: str | None = None
    mfa_process: str | None = None
    session_duration: int | None = None
    region: str | None = None
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class WebIdentity:
    """botocore's web identity profile: ``role_arn`` and a token (OIDC, as in EKS/IRSA or
    GitHub Actions) that AssumeRoleWithWebIdentity trades for the role's credentials.

    The token comes from ``web_identity_token_file`` (read as botocore reads it) or, as in
    aws-vault, from the output of ``web_identity_token_process``.
    """

    role_arn: str
    token_file: str | None = None
    token_process: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None


@dataclass(frozen=True)
class AwsBase:
    """A profile of the AWS shared files that is not a role: where a chain starts.

    ``identity`` holds what distinguishes its credentials without any secret (the access
    key id, sso and process settings...), so that a change there changes every cache key
    built on top of it.
    """

    name: str
    path: Path
    line: int | None
    identity: tuple[tuple[str, str], ...]
    has_static_keys: bool
    mfa_serial: str | None = None  # aws-vault's convention: MFA on the source profile
    mfa_process: str | None = None
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    # the file with its static keys: the credentials file, though the profile also has a
    # section in the config file (whose path is ``path``)
    keys_path: Path | None = None
    web_identity: WebIdentity | None = None
    # aws_session_token beside the keys: they are temporary already (no GetSessionToken)
    has_session_token: bool = False

    @property
    def region(self) -> str | None:
        return dict(self.identity).get("region") or None

    @property
    def long_term_keys(self) -> bool:
        """Whether botocore takes an IAM user's long-term keys from this profile: static
        keys without a session token, and no SSO (which botocore asks first)."""
        sso = any(key in ("sso_start_url", "sso_session") for key, _ in self.identity)
        return self.has_static_keys and not self.has_session_token and not sso


_SECRET_KEY = re.compile(r"secret|token|password", re.IGNORECASE)

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
BASE_KEYS = ("mfa_serial", "mfa_process", "session_duration", "region")


def _loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# AWS's console sign-in hosts by partition (the AWS Sign-In endpoints of the AWS General
# Reference; the aws partition also has one a region, REGION.signin.aws.amazon.com): login
# sends the credentials there, and to any other host only with allow_custom_federation_url.
SIGNIN_HOSTS = {
    "signin.aws.amazon.com": "aws",
    "signin.amazonaws-us-gov.com": "aws-us-gov",
    "signin.amazonaws.cn": "aws-cn",
}
_REGIONAL_SIGNIN = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.signin\.aws\.amazon\.com")


def signin_partition(url: str) -> str | None:
    """The partition whose console sign-in ``url`` is (https, on the default port), else
    None. Hosts are compared whole: ``signin.aws.amazon.com.evil.example`` is not one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or port not in (None, 443) or "@" in parts.netloc:
        return None
    host = parts.hostname or ""
    if host in SIGNIN_HOSTS:
        return SIGNIN_HOSTS[host]
    return "aws" if _REGIONAL_SIGNIN.fullmatch(host) else None


def local_stand_in(url: str) -> bool:
    """Plain http to a loopback host: a stand-in for the federation endpoint (tests)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "http" and _loopback(parts.hostname or "")


def _federation_url(value: Any) -> str:
    """An https URL, or plain http to a loopback host (a local stand-in) only: ``login``
    sends the credentials themselves there."""
    text = validate.string(value).strip()
    if not text.isprintable() or " " in text:  # urlsplit would drop tabs and newlines
        raise ValueError(f"{text!r} has spaces or control characters: not a URL")
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - a port that is not a number raises ValueError here
    except ValueError as error:
        raise ValueError(f"{text!r} is not a URL ({error})") from None
    if "@" in parts.netloc:
        raise ValueError("must not hold a user name or password")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(
            f"{text!r} is not an https URL such as https://signin.aws.amazon.com/federation"
        )
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError(
            f"{text!r}: plain http only to a loopback host (127.0.0.1, ::1, localhost); "
            "the credentials are sent there"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r} must have no query or fragment: rolehop adds its own query")
    return text


SETTINGS_KEYS: dict[str, Callable[[Any], Any]] = {
    "refresh_margin": validate.refresh_margin,
    "default_region": validate.region,
    "keyring_backend": validate.string,
    "cache": validate.boolean,
    "lock_timeout": lambda value: validate.seconds(value, 1, 3600),
    "sts_max_attempts": validate.attempts,
    "sts_connect_timeout": lambda value: validate.seconds(value, 0.1, 60),
    "sts_read_timeout": lambda value: validate.seconds(value, 0.1, 300),
    "agent": validate.boolean,
    "agent_idle_timeout": lambda value: validate.seconds(value, 1, 7 * 24 * 3600),
    "federation_url": _federation_url,
    "allow_custom_federation_url": validate.boolean,
}


@dataclass(frozen=True)
class Config:
    path: Path
    settings: Settings
    profiles: Mapping[str, Profile]
    aws_bases: Mapping[str, AwsBase]
    base_profiles: Mapping[str, BaseProfile]
    aws_config_path: Path
    aws_credentials_path: Path
    # Profiles (of rolehop's TOML or the AWS files; roles or bases) that failed validation:
    # an error only when someone uses them, so one broken profile never breaks the others.
    broken: Mapping[str, ConfigError] = field(default_factory=dict)
    # AWS config settings that can move the STS endpoint ([default] endpoint_url, services)
    endpoint_settings: tuple[str, ...] = ()

    def profile(self, name: str) -> Profile:
        if name in self.profiles:
            return self.profiles[name]
        if name in self.broken:
            raise self.broken[name]
        known = {*self.profiles, *self.broken}
        close = close_names(name, known)
        hint = did_you_mean(close) if close else f"`rolehop list` shows the {len(known)} known"
        raise ProfileNotFoundError(
            f"profile {name!r} not found in {self.path} or {self.aws_config_path}"
            + (f"; {hint}" if known else "")
        )

    def region_for(self, profile: Profile, environ: Mapping[str, str]) -> str | None:
        return (
            profile.region
            or self.settings.default_region
            or environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION")
        )


# ---------------------------------------------------------------------------------------
# locating the files


def _expand(path: str, environ: Mapping[str, str]) -> Path:
    """``~`` and ``$VAR`` from ``environ``, then absolute: a relative path means the same
    file to the agent (which runs in /) as to this process, and the same cache keys."""
    return Path(locations.absolute(path, environ, os.getcwd()))


def default_config_path(environ: Mapping[str, str]) -> Path:
    return Path(locations.config_directory(environ)) / "config.toml"


def rolehop_config_path(environ: Mapping[str, str], override: str | None = None) -> Path:
    if override:
        return _expand(override, environ)
    if environ.get("ROLEHOP_CONFIG"):
        return _expand(environ["ROLEHOP_CONFIG"], environ)
    return default_config_path(environ)


def aws_paths(environ: Mapping[str, str]) -> tuple[Path, Path]:
    config = environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return _expand(config, environ), _expand(credentials, environ)


def profile_names(environ: Mapping[str, str], override: str | None = None) -> set[str]:
    """The names of every role profile, without validating them: for completion, which
    runs at each <Tab> (a thousand profiles parse in half the time of :func:`load`).
    Raises what reading the files raises (tomllib, configparser, OSError)."""
    path = rolehop_config_path(environ, override)
    names: set[str] = set()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = {}
    profiles = document.get("profiles")
    if isinstance(profiles, dict):
        names.update(
            name
            for name, table in profiles.items()
            if isinstance(table, dict) and "role_arn" in table
        )
    for aws_path in aws_paths(environ):
        parser = configparser.RawConfigParser(interpolation=None, strict=False)
        parser.read(aws_path, encoding="utf-8")
        for section in parser.sections():
            name = _config_profile_name(section) if aws_path.name != "credentials" else section
            if name is not None and parser.has_option(section, "role_arn"):
                names.add(name)
    return names


def load(environ: Mapping[str, str], override: str | None = None) -> Config:
    """Read rolehop's TOML file and the AWS shared files named by ``environ``."""
    path = rolehop_config_path(environ, override)
    aws_config_path, aws_credentials_path = aws_paths(environ)
    log.debug("config files: %s, %s, %s", path, aws_config_path, aws_credentials_path)
    # a file named on the command line must be there; the default one, or ROLEHOP_CONFIG's
    # (as AWS_CONFIG_FILE), may be missing: an empty configuration
    settings, profiles, base_profiles, broken = _load_toml(path, required=bool(override))
    aws_roles, aws_bases, aws_broken, endpoint_settings = _load_aws(
        aws_config_path, aws_credentials_path
    )
    # a name in both places: rolehop's TOML wins, even where its profile is broken
    merged = {
        **{name: role for name, role in aws_roles.items() if name not in broken},
        **profiles,
    }
    return Config(
        path=path,
        settings=settings,
        profiles=merged,
        aws_bases=aws_bases,
        base_profiles=base_profiles,
        aws_config_path=aws_config_path,
        aws_credentials_path=aws_credentials_path,
        broken={
            **{name: error for name, error in aws_broken.items() if name not in merged},
            **broken,
        },
        endpoint_settings=endpoint_settings,
    )


# ---------------------------------------------------------------------------------------
# rolehop's TOML


def _split_header(text: str) -> tuple[str, ...]:
    """``profiles."a.b".c`` -> ("profiles", "a.b", "c"): enough TOML to find lines. The
    spaces around a part go, those inside its quotes stay (``" dev"`` is " dev")."""
    if '"' not in text and "'" not in text:  # the common case, at a thousand profiles
        return tuple(part.strip() for part in text.split("."))
    parts: list[str] = []
    current, quote, quoted = "", "", False
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "\"'":
            quote, quoted = char, True
            current = current.strip()
        elif char == ".":
            parts.append(current if quoted else current.strip())
            current, quoted = "", False
        elif not (quoted and char.isspace()):
            current += char
    parts.append(current if quoted else current.strip())
    return tuple(parts)


_TOML_KEY_PART = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)"""
_TOML_KEY = re.compile(rf"\s*({_TOML_KEY_PART}(?:\s*\.\s*{_TOML_KEY_PART})*)\s*=")


def _table_header(line: str) -> str | None:
    """``[a.b]  # note`` -> "a.b"; linear in the line (a regex here backtracked cubically)."""
    stripped = line.strip()
    if not stripped.startswith("[") or stripped.startswith("[["):
        return None
    end = _closing_bracket(stripped)
    rest = stripped[end + 1 :].strip() if end > 0 else "x"
    if rest and not rest.startswith("#"):
        return None
    return stripped[1:end].strip() or None


def _closing_bracket(header: str) -> int:
    """Where ``[...]`` ends: the first ``]`` outside quotes (``[profiles.'a[b]']``), -1 if
    none. One pass: quoted keys hold no escapes that matter here but ``\"``."""
    quote = ""
    escaped = False
    for index, char in enumerate(header):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "]":
            return index
    return -1


def _toml_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each table path and ``table + (key,)`` to its 1-based line number."""
    lines: dict[tuple[str, ...], int] = {}
    # tables named by a header of their own, whose line no later mention may take
    headed: set[tuple[str, ...]] = set()
    table: tuple[str, ...] = ()
    # TOML ends lines at \n only (str.splitlines would also split at U+2028 and others)
    for number, line in enumerate(text.split("\n"), start=1):
        header = _table_header(line)
        if header is not None:
            table = _split_header(header)
            # [profiles.a.b] also defines profiles.a, on this line unless a header of its
            # own names it (before or after)
            for end in range(1, len(table)):
                lines.setdefault(table[:end], number)
            if table not in headed:
                headed.add(table)
                lines[table] = number
            continue
        key = _TOML_KEY.match(line)
        if key:  # a dotted key (a.b = 1) also defines its tables on this line
            parts = _split_header(key.group(1))
            for end in range(1, len(parts) + 1):
                lines.setdefault((*table, *parts[:end]), number)
    return lines


def _load_toml(
    path: Path, *, required: bool = False
) -> tuple[Settings, dict[str, Profile], dict[str, BaseProfile], dict[str, ConfigError]]:
    """Settings, role profiles, base profiles, and the profiles that failed validation.

    What affects every profile (the file's syntax, [settings], an unknown table; a
    ``required`` file that is missing) raises; a profile's own error is kept for when that
    profile is used, as in the AWS files.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(
                "no such file (named by --config)",
                path=path,
                fix="create it, or give --config the path of rolehop's TOML file",
            ) from None
        return Settings(), {}, {}, {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", path=path) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column \d+\)$", str(error))
        raise ConfigError(
            f"invalid TOML: {error}", path=path, line=int(match.group(1)) if match else None
        ) from None
    except (ValueError, RecursionError) as error:  # a 5000-digit integer, deep nesting
        raise ConfigError(f"invalid TOML: {type(error).__name__}: {error}", path=path) from None
    lines = _toml_lines(text)
    unknown = sorted(set(document) - {"settings", "profiles"})
    if unknown:
        raise ConfigError(
            f"unknown table {unknown[0]!r} (expected [settings] and [profiles.NAME])",
            path=path,
            line=lines.get((unknown[0],)),
        )
    settings = _settings(document.get("settings", {}), path, lines)
    raw_profiles = document.get("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError("'profiles' must be a table", path=path, line=lines.get(("profiles",)))
    profiles: dict[str, Profile] = {}
    bases: dict[str, BaseProfile] = {}
    broken: dict[str, ConfigError] = {}
    # the lines of each profile's keys, grouped once (not one scan per profile)
    key_lines: dict[str, dict[str, int]] = {}
    for key, number in lines.items():
        if len(key) == 3 and key[0] == "profiles":
            key_lines.setdefault(key[1], {})[key[2]] = number
    for name, table in raw_profiles.items():
        profile_lines = key_lines.get(name, {})
        line = lines.get(("profiles", name))
        try:
            if isinstance(table, Mapping) and "role_arn" not in table:
                bases[name] = _base_profile(name, table, path, line, profile_lines)
            else:
                profiles[name] = _profile(name, table, "rolehop", path, line, profile_lines)
        except ConfigError as error:
            broken[name] = error
    return settings, profiles, bases, broken


@dataclass(frozen=True)
class _Where:
    """A profile being validated: where its errors point, and what each fix says."""

    name: str
    path: Path
    line: int | None
    key_lines: Mapping[str, int]

    def error(self, problem: str, key: str | None = None, fix: str | None = None) -> ConfigError:
        """An error pointing at the profile, or at its key's line."""
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        return ConfigError(problem, path=self.path, line=line, profile=self.name, key=key, fix=fix)

    def bad_name(self, error: ValueError) -> ConfigError:
        return self.error(str(error), fix=f"rename the profile: it must be {validate.NAME_RULE}")

    def bad_value(self, key: str, error: ValueError) -> ConfigError:
        return self.error(str(error), key, fix=f"set {key} to {validate.RULES[key]}")

    def unknown_key(self, key: str, known: Collection[str]) -> ConfigError:
        close = close_names(key, known)
        fix = f"rename it to {close[0]!r}" if close else f"remove it ({', '.join(known)} are known)"
        return self.error(f"unknown key (known: {', '.join(PROFILE_KEYS)})", key, fix=fix)


def _base_profile(
    name: str, table: Mapping[str, Any], path: Path, line: int | None, key_lines: Mapping[str, int]
) -> BaseProfile:
    where = _Where(name, path, line, key_lines)
    try:
        validate.profile_name(name)
    except ValueError as error:
        raise where.bad_name(error) from None
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in BASE_KEYS:
            if key in PROFILE_KEYS:
                raise where.error(
                    "belongs to a role profile, and this one has no role_arn (a profile "
                    f"without role_arn is a base profile, which takes only {', '.join(BASE_KEYS)})",
                    key,
                    fix=f"add role_arn to make {name!r} a role profile, or remove {key}",
                )
            raise where.unknown_key(key, BASE_KEYS)
        try:
            values[key] = PROFILE_KEYS[key](value)
        except ValueError as error:
            raise where.bad_value(key, error) from None
    return BaseProfile(name=name, path=path, line=line, key_lines=dict(key_lines), **values)


def _settings(table: Any, path: Path, lines: dict[tuple[str, ...], int]) -> Settings:
    if not isinstance(table, dict):
        raise ConfigError("'settings' must be a table", path=path, line=lines.get(("settings",)))
    values: dict[str, Any] = {}
    for key, value in table.items():
        line = lines.get(("settings", key))
        checker = SETTINGS_KEYS.get(key)
        if checker is None:
            raise ConfigError(
                f"unknown setting (known: {', '.join(SETTINGS_KEYS)})",
                path=path,
                line=line,
                key=f"settings.{key}",
            )
        try:
            values[key] = checker(value)
        except ValueError as error:
            raise ConfigError(str(error), path=path, line=line, key=f"settings.{key}") from None
    where = {key: lines[("settings", key)] for key in values if ("settings", key) in lines}
    url = values.get("federation_url")
    if url is not None and not values.get("allow_custom_federation_url", False):
        _aws_federation_url(url, path, where.get("federation_url"))
    return Settings(**values, lines=where)


def _aws_federation_url(url: str, path: Path, line: int | None) -> None:
    """Without allow_custom_federation_url, login sends credentials to AWS (or a local
    stand-in) only."""
    if signin_partition(url) is None and not local_stand_in(url):
        raise ConfigError(
            f"{url!r} is not AWS's console sign-in (https://signin.aws.amazon.com/federation, "
            "https://REGION.signin.aws.amazon.com/federation, signin.amazonaws-us-gov.com, "
            "signin.amazonaws.cn) nor plain http to a loopback host: login sends the "
            "credentials there; set allow_custom_federation_url = true if that is meant",
            path=path,
            line=line,
            key="settings.federation_url",
        )


def _profile(
    name: str,
    table: Any,
    origin: Origin,
    path: Path,
    line: int | None,
    key_lines: Mapping[str, int],
) -> Profile:
    where = _Where(name, path, line, key_lines)
    try:
        validate.profile_name(name)
    except ValueError as error:
        raise where.bad_name(error) from None
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
            raise where.unknown_key(key, PROFILE_KEYS)
        try:
            values[key] = checker(value)
        except ValueError as error:
            raise where.bad_value(key, error) from None
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


# ---------------------------------------------------------------------------------------
# the AWS shared files


# The key under which _read_ini records a section's own line: no option can be named so
# (an option may be named "", which configparser accepts).
HEADER = "\0section"


def _read_ini(path: Path) -> tuple[configparser.RawConfigParser, dict[tuple[str, str], int]]:
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    lines: dict[tuple[str, str], int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return parser, lines
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", path=path) from None
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as error:
        number = getattr(error, "lineno", None)
        if number is None and isinstance(error, configparser.ParsingError) and error.errors:
            number = error.errors[0][0]
        first_line = str(error).splitlines()[0]
        raise ConfigError(f"invalid file: {first_line}", path=path, line=number) from None
    section, option_indent = "", None
    # configparser's own rules, so lines are found exactly where it found the values
    for number, line in enumerate(text.split("\n"), start=1):  # configparser: \n only
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        indent = len(line) - len(line.lstrip())
        if option_indent is not None and indent > option_indent:
            continue  # a continuation line belongs to the value above, whatever it looks like
        header = parser.SECTCRE.match(stripped)
        option = parser.OPTCRE.match(stripped) if header is None else None
        if header is not None:
            section, option_indent = header.group("header"), None
            lines[(section, HEADER)] = number
        elif option is not None:  # a repeated key: configparser keeps the last one, so do we
            lines[(section, option.group("option").strip().lower())] = number
            option_indent = indent
    return parser, lines


def _config_profile_name(section: str) -> str | None:
    """botocore's rule: ``[default]``, or ``profile NAME`` split like a shell word list."""
    if section == "default":
        return "default"
    if not section.startswith("profile"):
        return None  # sso-session, services...: not profiles
    try:
        parts = shlex.split(section)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 and parts[0] == "profile" else None


def _section_lines(lines: dict[tuple[str, str], int], section: str) -> dict[str, int]:
    return {key: number for (sec, key), number in lines.items() if sec == section and key != HEADER}


def _load_aws(
    config_path: Path, credentials_path: Path
) -> tuple[dict[str, Profile], dict[str, AwsBase], dict[str, ConfigError], tuple[str, ...]]:
    """Profiles of both AWS files, merged as botocore does (the credentials file wins)."""
    config, config_lines = _read_ini(config_path)
    credentials, credentials_lines = _read_ini(credentials_path)
    found: dict[str, tuple[dict[str, str], Path, int | None, dict[str, int]]] = {}
    keys_in: dict[str, Path] = {}  # where each profile's access key id is (the last wins)
    for section in config.sections():
        name = _config_profile_name(section)
        if name is not None:
            lines = _section_lines(config_lines, section)
            found[name] = (
                dict(config.items(section)),
                config_path,
                config_lines.get((section, HEADER)),
                lines,
            )
            if config.has_option(section, "aws_access_key_id"):
                keys_in[name] = config_path
    for name in credentials.sections():
        items, path, line, lines = found.get(name, ({}, credentials_path, None, {}))
        extra = dict(credentials.items(name))
        if "aws_access_key_id" in extra:
            keys_in[name] = credentials_path
        if line is None or ("role_arn" in extra and "role_arn" not in items):
            path, line = credentials_path, credentials_lines.get((name, HEADER))
        found[name] = (
            {**items, **extra},
            path,
            line,
            {**lines, **_section_lines(credentials_lines, name)},
        )
    roles: dict[str, Profile] = {}
    broken: dict[str, ConfigError] = {}
    bases: dict[str, AwsBase] = {}
    for name, (items, path, line, key_lines) in found.items():
        has_keys = "aws_access_key_id" in items and "aws_secret_access_key" in items
        web_identity = None
        if any(key in items for key in WEB_IDENTITY_KEYS):
            # botocore: the web identity provider takes such a profile, whatever else it
            # holds (source_profile, keys): not a role to assume from another profile
            try:
                web_identity = _web_identity(name, items, path, line, key_lines)
            except ConfigError as error:
                broken[name] = error
                continue
            has_keys = False
        elif "role_arn" in items:
            try:
                roles[name] = _profile(name, items, "aws", path, line, key_lines)
            except ConfigError as error:
                broken[name] = error
            if not has_keys:
                continue
        identity = tuple(
            sorted((key, value) for key, value in items.items() if not _SECRET_KEY.search(key))
        )
        mfa: dict[str, str] = {}
        # mfa_serial beside role_arn is the role's; on a plain profile it guards the base
        for key in ("mfa_serial", "mfa_process") if "role_arn" not in items else ():
            try:
                if key in items:
                    mfa[key] = PROFILE_KEYS[key](items[key])
            except ValueError as error:
                broken[name] = _Where(name, path, line, key_lines).bad_value(key, error)
        if name not in broken or name in roles:
            bases[name] = AwsBase(
                name,
                path,
                line,
                identity,
                has_static_keys=has_keys,
                key_lines=key_lines,
                keys_path=keys_in.get(name) if has_keys else None,
                web_identity=web_identity,
                has_session_token=has_keys and bool(items.get("aws_session_token")),
                **mfa,
            )
    return roles, bases, broken, _endpoint_settings(config)


WEB_IDENTITY_KEYS = ("web_identity_token_file", "web_identity_token_process")


def _web_identity(
    name: str, items: Mapping[str, str], path: Path, line: int | None, key_lines: Mapping[str, int]
) -> WebIdentity:
    def fail(problem: str, key: str | None = None) -> ConfigError:
        where = key_lines.get(key, line) if key is not None else line
        return ConfigError(problem, path=path, line=where, profile=name, key=key)

    if all(key in items for key in WEB_IDENTITY_KEYS):
        raise fail(
            "set either web_identity_token_file or web_identity_token_process, not both",
            "web_identity_token_process",
        )
    if "role_arn" not in items:
        raise fail(
            "role_arn is required beside a web identity token: it names the role the token "
            "is traded for",
            next(key for key in WEB_IDENTITY_KEYS if key in items),
        )
    checks: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "role_arn": ("role_arn", validate.role_arn),
        "web_identity_token_file": ("token_file", _token_file),
        "web_identity_token_process": ("token_process", validate.mfa_process),
        "role_session_name": ("role_session_name", validate.session_name),
        "duration_seconds": ("duration_seconds", validate.duration_seconds),
    }
    values: dict[str, Any] = {}
    for key, (attribute, check) in checks.items():
        if key in items:
            try:
                values[attribute] = check(items[key])
            except ValueError as error:
                raise fail(str(error), key) from None
    return WebIdentity(**values)


def _token_file(value: Any) -> str:
    """A path, used as botocore uses it (no ``~`` expansion)."""
    text = validate.string(value).strip()
    if not text:
        raise ValueError("must name the file that holds the token")
    return text


def _endpoint_settings(config: configparser.RawConfigParser) -> tuple[str, ...]:
    """What in the AWS config can move the STS endpoint: part of every cache key."""
    settings: list[str] = []
    if config.has_section("default"):
        settings += [
            f"default.{k}={v}"
            for k, v in sorted(config.items("default"))
            if k in ("endpoint_url", "services", "ignore_configured_endpoint_urls")
        ]
    for section in sorted(config.sections()):
        if section.startswith("services"):
            settings += [f"{section}.{k}={v}" for k, v in sorted(config.items(section))]
    return tuple(settings)
