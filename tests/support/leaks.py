"""Finding secrets where they must not be: files, captured output, a child's argv.

A :class:`Secrets` holds the values to look for, each under a label (a report names the
label, never the value). It looks for each value as it is, URL-encoded (a query string or
form body) and JSON-escaped, and, for long values such as session tokens, for pieces of it
too, so a token that was cut or wrapped is still found. :func:`files_under` lists what
to scan, :func:`app_dirs` gives rolehop's platformdirs directories as a process with a given
environment sees them, and :func:`moto_issued` every credential moto's STS has handed out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

PIECE = 32  # characters of a long secret that are looked for on their own
PIECE_FROM = 16  # the first characters of a token are often a format prefix shared by all
MIN_LENGTH = 8  # shorter values would match by chance


class Secrets:
    """Secret values by label, and where they turn up."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}  # value -> label

    def add(self, label: str, value: str | None) -> None:
        """Look for ``value`` from now on (nothing to do for None or a value seen before)."""
        if value is None:
            return
        if len(value) < MIN_LENGTH:
            raise ValueError(f"{label}: too short to look for ({len(value)} characters)")
        self._labels.setdefault(value, label)

    def add_credentials(self, label: str, document: Mapping[str, object]) -> None:
        """The secrets of credential_process JSON (or of an STS ``Credentials`` member)."""
        for name in ("SecretAccessKey", "SessionToken"):
            value = document.get(name)
            if value is not None:
                assert isinstance(value, str), f"{label}: {name} is not a string"
                self.add(f"{label} {name}", value)

    def add_sessions(self, sessions: Iterable[Mapping[str, str]]) -> None:
        """The secrets of sessions as :func:`moto_issued` lists them, each labelled with its
        number and session name."""
        for number, session in enumerate(sessions):
            label = f"moto session {number} ({session['session_name']})"
            self.add(f"{label} SecretAccessKey", session["secret_access_key"])
            self.add(f"{label} SessionToken", session["session_token"])

    @property
    def labels(self) -> list[str]:
        return sorted(self._labels.values())

    def __len__(self) -> int:
        return len(self._labels)

    def _hits(self, data: str | bytes) -> dict[str, list[str]]:
        """label -> how each secret that ``data`` holds appears there."""
        raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
        hits: dict[str, list[str]] = {}
        for value, label in self._labels.items():
            whole = [f"{label}{how}" for form, how in _forms(value).items() if form in raw]
            if whole:
                hits[label] = whole
                continue
            pieces = _pieces(value)
            seen = sum(piece in raw for piece in pieces)
            if seen:
                hits[label] = [f"{label} ({seen} of {len(pieces)} pieces of {PIECE} characters)"]
        return hits

    def found_in(self, data: str | bytes) -> list[str]:
        """Each secret ``data`` holds, by label, and in which form."""
        return sorted(how for hows in self._hits(data).values() for how in hows)

    def owners(self, data: str | bytes) -> set[str]:
        """The labels of the secrets ``data`` holds, in whatever form."""
        return set(self._hits(data))

    def in_texts(self, texts: Mapping[str, str | bytes]) -> dict[str, list[str]]:
        """For each named text that holds a secret: which secrets."""
        found = {name: self.found_in(text) for name, text in texts.items()}
        return {name: hits for name, hits in found.items() if hits}

    def in_files(self, files: Iterable[Path]) -> dict[str, list[str]]:
        """For each file whose name or content holds a secret: which secrets."""
        found: dict[str, list[str]] = {}
        for path in files:
            hits = self.found_in(str(path)) + self.found_in(path.read_bytes())
            if hits:
                found[str(path)] = sorted(set(hits))
        return found


def _forms(value: str) -> dict[bytes, str]:
    """A secret as it is, URL-encoded, JSON-escaped: form -> how it is named in a report."""
    forms: dict[bytes, str] = {}
    for form, how in (
        (value, ""),
        (urllib.parse.quote(value, safe=""), " (URL-encoded)"),
        (urllib.parse.quote_plus(value, safe=""), " (URL-encoded)"),
        (json.dumps(value)[1:-1], " (JSON-escaped)"),
    ):
        forms.setdefault(form.encode("utf-8"), how)
    return forms


def _pieces(value: str) -> list[bytes]:
    """Disjoint pieces of a long secret (a session token), its common prefix left out."""
    if len(value) < PIECE_FROM + 2 * PIECE:
        return []
    return [
        value[start : start + PIECE].encode("utf-8")
        for start in range(PIECE_FROM, len(value) - PIECE + 1, PIECE)
    ]


def files_under(roots: Iterable[Path], exclude: Iterable[Path] = ()) -> list[Path]:
    """Every regular file under ``roots`` (a root may be a file), symlinks not followed,
    each once, without the ``exclude`` files."""
    excluded = {Path(path).resolve() for path in exclude}
    seen: dict[Path, None] = {}
    for root in roots:
        if root.is_file() and not root.is_symlink():
            candidates: Iterable[Path] = [root]
        elif root.is_dir():
            candidates = (
                Path(folder) / name
                for folder, _, names in os.walk(root, followlinks=False)
                for name in names
            )
        else:
            continue
        for path in candidates:
            if path.is_symlink() or not path.is_file():
                continue  # sockets, fifos and links are not where a secret is written
            resolved = path.resolve()
            if resolved not in excluded:
                seen.setdefault(resolved, None)
    return list(seen)


APP_DIRS = (
    "user_cache_dir",
    "user_config_dir",
    "user_data_dir",
    "user_state_dir",
    "user_log_dir",
    "user_runtime_dir",
)


def app_dirs(env: Mapping[str, str], app: str = "rolehop") -> dict[str, Path]:
    """platformdirs' directories for ``app`` as a process with ``env`` sees them."""
    code = (
        "import json, sys, platformdirs; "
        f"print(json.dumps({{n: getattr(platformdirs, n)(sys.argv[1]) for n in {APP_DIRS!r}}}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, app],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    paths: dict[str, str] = json.loads(done.stdout)
    return {name: Path(path) for name, path in paths.items()}


def moto_issued(url: str) -> list[dict[str, str]]:
    """What moto's STS issued by AssumeRole (``/moto-api/data.json``): each session's
    ``access_key_id``, ``secret_access_key``, ``session_token``, ``role_arn`` and
    ``session_name``. GetSessionToken is not listed there (moto issues fixed values)."""
    with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=10) as response:  # noqa: S310 - loopback
        data = json.load(response)
    roles: list[dict[str, str]] = data.get("sts", {}).get("AssumedRole", [])
    return roles
