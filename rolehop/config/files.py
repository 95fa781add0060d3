"""Where the configuration files are, and load(): rolehop's TOML and the AWS files as one Config."""

# load() and the modules it imports use the standard library only: it runs on a cache hit
# of the direct path, where importing boto3 or rich would cost ~0.2 s a call.
from __future__ import annotations

import configparser
import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from rolehop.config import aws_files, locations, owned, sso_sessions, toml_file
from rolehop.config.model import (
    DEFAULT_REFRESH_MARGIN,
    AwsBase,
    BaseProfile,
    Config,
    Profile,
    Settings,
    WebIdentity,
    Where,
)
from rolehop.config.profiles import PROFILE_KEYS
from rolehop.config.settings import SETTINGS_KEYS, local_stand_in, signin_partition
from rolehop.errors import ConfigError

# The configuration as the rest of rolehop sees it: this module's functions, and the names
# of the modules that build it, re-exported here.
__all__ = [
    "DEFAULT_REFRESH_MARGIN",
    "PROFILE_KEYS",
    "SETTINGS_KEYS",
    "AwsBase",
    "BaseProfile",
    "Config",
    "Profile",
    "Settings",
    "WebIdentity",
    "aws_paths",
    "config_files",
    "default_config_path",
    "generated_directory",
    "generated_files",
    "load",
    "local_stand_in",
    "profile_names",
    "rolehop_config_path",
    "signin_partition",
]

log = logging.getLogger(__name__)


def load(environ: Mapping[str, str], override: str | None = None) -> Config:
    """Read rolehop's TOML file and the AWS shared files named by ``environ``."""
    path = rolehop_config_path(environ, override)
    aws_config_path, aws_credentials_path = aws_paths(environ)
    log.debug("config files: %s, %s, %s", path, aws_config_path, aws_credentials_path)
    # a file named on the command line must be there; the default one, or ROLEHOP_CONFIG's
    # (as AWS_CONFIG_FILE), may be missing: an empty configuration
    rolehop = toml_file.with_generated(
        toml_file.load(path, required=bool(override)), generated_files(path)
    )
    aws = aws_files.load(aws_config_path, aws_credentials_path)
    rolehop = _hand_written_win(rolehop, aws, generated_directory(path))
    sessions = rolehop.sessions.merged(aws.sessions)
    bases, broken = _bind_sso(rolehop.bases, sessions)
    # a name in both places: rolehop's TOML wins, even where its profile is broken
    broken = {**rolehop.broken, **broken}
    merged = {
        **{name: role for name, role in aws.roles.items() if name not in broken},
        **rolehop.profiles,
    }
    return Config(
        path=path,
        settings=rolehop.settings,
        profiles=merged,
        aws_bases=aws.bases,
        base_profiles=bases,
        aws_config_path=aws_config_path,
        aws_credentials_path=aws_credentials_path,
        broken={
            **{name: error for name, error in aws.broken.items() if name not in merged},
            **broken,
        },
        endpoint_settings=aws.endpoint_settings,
        sso_sessions=sessions.found,
        aws_mirrors=aws.mirrors,
    )


def _hand_written_win(
    rolehop: toml_file.RolehopFile, aws: aws_files.AwsProfiles, generated: Path
) -> toml_file.RolehopFile:
    """Without the generated profiles that a profile written by hand in the AWS files has
    the name of (one in ``generate --aws-config``'s block mirrors rolehop's: not by hand)."""
    taken = {*aws.roles, *aws.bases, *aws.broken} - aws.mirrors

    def kept(name: str, where: Path | None) -> bool:
        return name not in taken or where is None or where.parent != generated

    return dataclasses.replace(
        rolehop,
        profiles={n: p for n, p in rolehop.profiles.items() if kept(n, p.path)},
        bases={n: b for n, b in rolehop.bases.items() if kept(n, b.path)},
        broken={n: e for n, e in rolehop.broken.items() if kept(n, e.path)},
    )


def _bind_sso(
    bases: Mapping[str, BaseProfile], sessions: sso_sessions.Sessions
) -> tuple[dict[str, BaseProfile], dict[str, ConfigError]]:
    """rolehop's SSO base profiles bound to their sessions (of either file); those whose
    session is missing or broken are broken."""
    bound: dict[str, BaseProfile] = {}
    broken: dict[str, ConfigError] = {}
    for name, base in bases.items():
        if not base.sso_keys:
            bound[name] = base
            continue
        where = Where(name, base.path, base.line, base.key_lines)
        try:
            bound[name] = dataclasses.replace(
                base, sso=sso_sessions.role(where, base.sso_keys, sessions)
            )
        except ConfigError as error:
            broken[name] = error
    return bound, broken


def generated_directory(config_path: Path) -> Path:
    """Where ``rolehop generate`` writes its files: ``generated/`` beside rolehop's TOML."""
    return config_path.parent / "generated"


def generated_files(config_path: Path) -> list[Path]:
    """The generated files that config.toml includes, in name order; raises
    :class:`ConfigError` for a directory that is not this user's alone (rolehop.config.owned;
    each file is checked when it is read)."""
    directory = generated_directory(config_path)
    owned.check(directory, directory=True)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [
        generated_directory(config_path) / name for name in sorted(names) if name.endswith(".toml")
    ]


def config_files(environ: Mapping[str, str], override: str | None = None) -> list[Path]:
    """Every path whose change changes the configuration: rolehop's TOML, the generated
    directory and its files, the AWS files (the agent keeps a parse while they stay)."""
    path = rolehop_config_path(environ, override)
    return [path, generated_directory(path), *generated_files(path), *aws_paths(environ)]


# what makes a section of the AWS files a profile one can ask credentials of
_CREDENTIAL_KEYS = (
    "role_arn",
    "aws_access_key_id",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
    "credential_source",
)


def profile_names(
    environ: Mapping[str, str], override: str | None = None, *, bases: bool = False
) -> set[str]:
    """The names of every role profile (``bases``: every profile, bases too), without
    validating them: for completion and ``use``'s picker, which run while a person waits (a
    thousand profiles parse in half the time of :func:`load`). Raises what reading the
    files raises (tomllib, configparser, OSError)."""
    wanted = _CREDENTIAL_KEYS if bases else ("role_arn",)
    path = rolehop_config_path(environ, override)
    names: set[str] = set()
    for toml_path in (path, *generated_files(path)):
        try:
            document = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            document = {}
        profiles = document.get("profiles")
        if isinstance(profiles, dict):
            names.update(
                name
                for name, table in profiles.items()
                if isinstance(table, dict) and (bases or "role_arn" in table)
            )
    # the credentials file by its place, not its name ($AWS_SHARED_CREDENTIALS_FILE)
    for credentials, aws_path in enumerate(aws_paths(environ)):
        parser = configparser.RawConfigParser(interpolation=None, strict=False)
        parser.read(aws_path, encoding="utf-8")
        for section in parser.sections():
            name = section if credentials else aws_files.config_profile_name(section)
            if name is not None and any(parser.has_option(section, key) for key in wanted):
                names.add(name)
    return names


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
