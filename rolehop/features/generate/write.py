"""``rolehop generate``: profiles for every account and role of a source, in a file rolehop
owns (``generated/<source>.toml`` beside config.toml, which it includes).

The run is idempotent: the same accounts make the same bytes, and an unchanged file is not
written (its mtime stays). Profiles whose account or role is gone are kept (and said)
unless ``prune``; ``dry_run`` says what would change and writes nothing. The file is
written whole or not at all (a temporary file beside it, synced, then renamed over it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rolehop.config.files import generated_directory
from rolehop.engine.context import Context
from rolehop.errors import ConfigError
from rolehop.features.generate import generated_file, naming
from rolehop.features.generate.sources import Found
from rolehop.stores.private import UnsafePath, open_directory, replace_file


@dataclass(frozen=True)
class Request:
    """What to generate, as the command line says it."""

    source: str  # the file's name: sso-<session> or org-<profile>
    command: str  # for the file's header
    template: str = naming.DEFAULT_TEMPLATE
    region: str | None = None
    prune: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class Outcome:
    path: Path
    diff: generated_file.Diff
    written: bool
    profiles: Mapping[str, generated_file.Entry]
    problems: list[str] = field(default_factory=list)
    # names config.toml or the AWS files define by hand (skipped) -> that file
    hand_written: Mapping[str, Path] = field(default_factory=dict)


def entry_of(target: naming.Target, request: Request, kind: str, origin: str) -> dict[str, str]:
    """A profile's keys: an SSO base of session ``origin``, or a role reached from the
    profile ``origin`` (Organizations)."""
    if kind == "sso":
        entry = {
            "sso_session": origin,
            "sso_account_id": target.account_id,
            "sso_role_name": target.role_name,
        }
    else:
        entry = {
            "role_arn": f"arn:aws:iam::{target.account_id}:role/{target.role_name}",
            "source_profile": origin,
        }
    if request.region:
        entry["region"] = request.region
    return entry


def _pair(entry: Mapping[str, str]) -> tuple[str, str]:
    """Which account and role an entry stands for (to tell what is gone upstream)."""
    if "role_arn" in entry:
        arn = entry["role_arn"]
        return arn.split(":")[4], arn.rsplit("/", 1)[-1]
    return entry.get("sso_account_id", ""), entry.get("sso_role_name", "")


def generate(ctx: Context, request: Request, found: Found, kind: str, origin: str) -> Outcome:
    """Write (or, ``dry_run``, only compare) the source's file for what ``found`` lists."""
    named = naming.names(request.template, found.targets)
    hand_written = {
        name: path for name in sorted(named) if (path := _hand_written(ctx, name)) is not None
    }
    fresh = {
        name: entry_of(target, request, kind, origin)
        for name, target in named.items()
        if name not in hand_written
    }
    path = generated_directory(ctx.config.path) / f"{request.source}.toml"
    old_text = _read(path)
    old = generated_file.parse(old_text) if old_text is not None else {}
    present = {_pair(entry) for entry in fresh.values()}
    gone = {
        name: entry
        for name, entry in old.items()
        if _pair(entry) not in present and name not in fresh
    }
    prune = request.prune and not found.problems  # an account not read is not gone
    kept = {} if prune else gone
    profiles = {**kept, **fresh}
    diff = generated_file.compare(old, profiles, sorted(kept))
    text = generated_file.render(request.source, request.command, profiles)
    written = False
    if not request.dry_run and text != old_text:
        _write(path, text)
        written = True
    return Outcome(path, diff, written, profiles, list(found.problems), hand_written)


def _hand_written(ctx: Context, name: str) -> Path | None:
    """The file that defines ``name`` by hand (config.toml or an AWS file), if one does:
    those win. A profile of the block ``--aws-config`` wrote mirrors a generated one: it
    is not hand-written."""
    config = ctx.config
    where = (
        config.profiles.get(name) or config.base_profiles.get(name) or config.aws_bases.get(name)
    )
    broken = config.broken.get(name)
    found = where if where is not None else broken
    path = found.path if found is not None else None
    if path is None or path.parent == generated_directory(config.path):
        return None
    if path == config.aws_config_path and name in config.aws_mirrors:
        return None
    return path


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", path=path) from None


def _write(path: Path, text: str) -> None:
    """``text`` at ``path`` whole or not at all (0600, a temporary file beside it renamed
    over it), in a directory of this user's alone (made 0700 if missing; one of another
    user's, others may write, or a symlink is refused: rolehop reads every file there)."""
    try:
        directory = open_directory(str(path.parent))
    except UnsafePath as error:
        raise ConfigError(f"cannot write the generated profiles: {error}", path=path) from None
    try:
        replace_file(directory, path.name, text.encode("utf-8"))
    except (OSError, UnsafePath) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise ConfigError(f"cannot write the generated profiles: {reason}", path=path) from None
    finally:
        os.close(directory)
