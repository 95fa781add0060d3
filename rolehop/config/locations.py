"""Where rolehop's files are, computed from a given environment (not this process's own):
the agent answers for callers whose environment is not its own, and must find what their
direct path would find.

Imported on the cache-hit path: the standard library's ``os`` (and ``re`` when a path
holds a ``$``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def absolute(path: str, environ: Mapping[str, str], cwd: str) -> str:
    """``path`` as the direct path reads it (``~`` and ``$VAR`` from ``environ``), made
    absolute against ``cwd``."""
    if path.startswith("~") and environ.get("HOME"):
        path = environ["HOME"] + path[1:]
    path = expand_variables(path, environ)
    return os.path.normpath(os.path.join(cwd, path))


def expand_variables(text: str, environ: Mapping[str, str]) -> str:
    """``os.path.expandvars`` over ``environ`` instead of this process's own environment:
    ``$NAME`` and ``${NAME}`` of set variables, anything else left as it is."""
    if "$" not in text:
        return text
    import re

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return environ.get(name, match.group(0))

    return re.sub(r"\$(?:(\w+)|\{([^}]*)\})", value, text)


def cache_directory(environ: Mapping[str, str]) -> str:
    """rolehop's user cache directory as platformdirs finds it, but from ``environ``
    (the agent answers for callers whose environment is not its own)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "rolehop")
    if os.name == "nt":
        from platformdirs import user_cache_dir

        return user_cache_dir("rolehop")
    base = _xdg(environ, "XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(base, "rolehop")


def config_directory(environ: Mapping[str, str]) -> str:
    """rolehop's user config directory as platformdirs finds it, but from ``environ``."""
    home = environ.get("HOME") or os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "rolehop")
    if os.name == "nt":
        from platformdirs import user_config_dir

        return user_config_dir("rolehop")
    base = _xdg(environ, "XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return os.path.join(base, "rolehop")


def _xdg(environ: Mapping[str, str], name: str) -> str | None:
    """An XDG base directory variable as platformdirs reads it: unset when blank."""
    value = environ.get(name) or ""
    return value if value.strip() else None
