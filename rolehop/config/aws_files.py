"""The AWS shared files: config and credentials read with their lines, merged as botocore does."""

from __future__ import annotations

import configparser
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolehop.config import sso_sessions, validate
from rolehop.config.model import AwsBase, Profile, SsoRole, WebIdentity, Where
from rolehop.config.profiles import PROFILE_KEYS, bad_value, role_profile
from rolehop.errors import ConfigError

_SECRET_KEY = re.compile(r"secret|token|password", re.IGNORECASE)
WEB_IDENTITY_KEYS = ("web_identity_token_file", "web_identity_token_process")
# The key under which _read_ini records a section's own line: no option can be named so
# (an option may be named "", which configparser accepts).
HEADER = "\0section"


@dataclass(frozen=True)
class AwsProfiles:
    """The profiles of both AWS files: roles, bases (where chains start; a role with keys
    is both), those that failed validation, and the settings that move the STS endpoint."""

    roles: dict[str, Profile] = field(default_factory=dict)
    bases: dict[str, AwsBase] = field(default_factory=dict)
    broken: dict[str, ConfigError] = field(default_factory=dict)
    endpoint_settings: tuple[str, ...] = ()
    sessions: sso_sessions.Sessions = field(default_factory=sso_sessions.Sessions)
    # profiles of the AWS config inside a block ``generate --aws-config`` wrote: mirrors
    # of rolehop's own (credential_process = rolehop ...), nobody's hand-written ones
    mirrors: frozenset[str] = frozenset()


def load(config_path: Path, credentials_path: Path) -> AwsProfiles:
    """Profiles of both AWS files, merged as botocore does (the credentials file wins)."""
    config = _read_ini(config_path)
    credentials = _read_ini(credentials_path)
    mirrored = _in_blocks(config)
    found = AwsProfiles(
        endpoint_settings=_endpoint_settings(config.parser),
        sessions=_sso_sessions(config),
        mirrors=frozenset(
            name
            for section in config.parser.sections()
            if (name := config_profile_name(section)) is not None
            and config.lines.get((section, HEADER)) in mirrored
        ),
    )
    for name, section in _merge(config, credentials).items():
        _add(found, name, section)
    return found


def _sso_sessions(config: _Ini) -> sso_sessions.Sessions:
    """The ``[sso-session NAME]`` sections of the AWS config."""
    sessions = sso_sessions.Sessions()
    for section in config.parser.sections():
        name = _sso_session_name(section)
        if name is None:
            continue
        line = config.lines.get((section, HEADER))
        try:
            sessions.found[name] = sso_sessions.session(
                "sso-session",
                name,
                dict(config.parser.items(section)),
                config.path,
                line,
                config.section_lines(section),
                strict=False,
            )
        except ConfigError as error:
            sessions.broken[name] = error
    return sessions


# the markers of the blocks ``rolehop generate --aws-config`` writes, one pattern for the
# reader here and the writer (rolehop.features.generate.aws_config_block)
BLOCK_BEGIN = re.compile(
    r"# >>> rolehop generate (?P<source>\S+): managed by rolehop, do not edit inside >>>"
)
BLOCK_END = re.compile(r"# <<< rolehop generate (?P<source>\S+) <<<")


def _in_blocks(config: _Ini) -> frozenset[int]:
    """The numbers (from 1) of the AWS config's lines inside rolehop's blocks."""
    inside: set[int] = set()
    begun: int | None = None
    for number, line in enumerate(config.text.splitlines(), start=1):
        body = line.strip()
        if begun is None and BLOCK_BEGIN.fullmatch(body):
            begun = number
        elif begun is not None and BLOCK_END.fullmatch(body):
            inside.update(range(begun, number + 1))
            begun = None
    return frozenset(inside)


def config_profile_name(section: str) -> str | None:
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


def _sso_session_name(section: str) -> str | None:
    """botocore's rule: ``sso-session NAME``, split like a shell word list."""
    if not section.startswith("sso-session"):
        return None
    try:
        parts = shlex.split(section)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 and parts[0] == "sso-session" else None


# ---------------------------------------------------------------------------------------
# reading: configparser's values, and the line of each section and option


@dataclass(frozen=True)
class _Ini:
    """One AWS file as configparser reads it, with the line of each section and option."""

    path: Path
    parser: configparser.RawConfigParser
    lines: dict[tuple[str, str], int]
    text: str = ""

    def section_lines(self, section: str) -> dict[str, int]:
        return {
            key: number
            for (sec, key), number in self.lines.items()
            if sec == section and key != HEADER
        }


def _read_ini(path: Path) -> _Ini:
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _Ini(path, parser, {})
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
    return _Ini(path, parser, _ini_lines(parser, text), text)


def _ini_lines(parser: configparser.RawConfigParser, text: str) -> dict[tuple[str, str], int]:
    """The line of each (section, option), and of each section as (section, HEADER)."""
    lines: dict[tuple[str, str], int] = {}
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
    return lines


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


# ---------------------------------------------------------------------------------------
# merging the two files, and sorting their profiles into roles, bases and broken


@dataclass(frozen=True)
class _Section:
    """One profile as both files give it, and where it is."""

    items: dict[str, str]
    path: Path
    line: int | None
    key_lines: dict[str, int]
    # the file of its access key id, if any (the credentials file's, if both have one)
    keys_path: Path | None = None


def _merge(config: _Ini, credentials: _Ini) -> dict[str, _Section]:
    """Each profile's keys from both files (the credentials file's win), and where it is:
    its config section, unless it has none or only the credentials file makes it a role."""
    found: dict[str, _Section] = {}
    for section in config.parser.sections():
        name = config_profile_name(section)
        if name is not None:
            found[name] = _Section(
                dict(config.parser.items(section)),
                config.path,
                config.lines.get((section, HEADER)),
                config.section_lines(section),
                config.path if config.parser.has_option(section, "aws_access_key_id") else None,
            )
    for name in credentials.parser.sections():
        known = found.get(name, _Section({}, credentials.path, None, {}))
        extra = dict(credentials.parser.items(name))
        path, line = known.path, known.line
        if line is None or ("role_arn" in extra and "role_arn" not in known.items):
            path, line = credentials.path, credentials.lines.get((name, HEADER))
        found[name] = _Section(
            {**known.items, **extra},
            path,
            line,
            {**known.key_lines, **credentials.section_lines(name)},
            credentials.path if "aws_access_key_id" in extra else known.keys_path,
        )
    return found


def _add(found: AwsProfiles, name: str, section: _Section) -> None:
    """One profile sorted as botocore would use it: a web identity (a base), a role, or a
    base (keys, SSO, a process...); a role beside static keys is a base too."""
    items, path, line, key_lines = section.items, section.path, section.line, section.key_lines
    where = Where(name, path, line, key_lines)
    has_keys = "aws_access_key_id" in items and "aws_secret_access_key" in items
    web_identity = None
    if any(key in items for key in WEB_IDENTITY_KEYS):
        # botocore: the web identity provider takes such a profile, whatever else it
        # holds (source_profile, keys): not a role to assume from another profile
        try:
            web_identity = _web_identity(where, items)
        except ConfigError as error:
            found.broken[name] = error
            return
        has_keys = False
    elif "role_arn" in items:
        try:
            found.roles[name] = role_profile(name, items, "aws", path, line, key_lines)
        except ConfigError as error:
            found.broken[name] = error
        if not has_keys:
            return
    identity = tuple(
        sorted((key, value) for key, value in items.items() if not _SECRET_KEY.search(key))
    )
    # mfa_serial beside role_arn is the role's; on a plain profile it guards the base
    mfa = _base_mfa(found, where, items) if "role_arn" not in items else {}
    permission_set: SsoRole | None = None
    if web_identity is None and "role_arn" not in items and sso_sessions.is_sso(items):
        try:  # botocore asks SSO before a profile's static keys
            permission_set = sso_sessions.role(where, items, found.sessions)
        except ConfigError as error:
            found.broken[name] = error
    if name not in found.broken or name in found.roles:
        found.bases[name] = AwsBase(
            name,
            path,
            line,
            identity,
            has_static_keys=has_keys,
            key_lines=key_lines,
            keys_path=section.keys_path if has_keys else None,
            web_identity=web_identity,
            has_session_token=has_keys and bool(items.get("aws_session_token")),
            sso=permission_set,
            **mfa,
        )


def _base_mfa(found: AwsProfiles, where: Where, items: Mapping[str, str]) -> dict[str, str]:
    """A plain profile's mfa_serial and mfa_process; a bad one breaks the profile."""
    mfa: dict[str, str] = {}
    for key in ("mfa_serial", "mfa_process"):
        try:
            if key in items:
                mfa[key] = PROFILE_KEYS[key](items[key])
        except ValueError as error:
            found.broken[where.name] = bad_value(where, key, error)
    return mfa


def _web_identity(where: Where, items: Mapping[str, str]) -> WebIdentity:
    if all(key in items for key in WEB_IDENTITY_KEYS):
        raise where.error(
            "set either web_identity_token_file or web_identity_token_process, not both",
            "web_identity_token_process",
        )
    if "role_arn" not in items:
        raise where.error(
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
                raise where.error(str(error), key) from None
    return WebIdentity(**values)


def _token_file(value: Any) -> str:
    """A path, used as botocore uses it (no ``~`` expansion)."""
    text = validate.string(value).strip()
    if not text:
        raise ValueError("must name the file that holds the token")
    return text
