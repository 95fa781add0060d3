"""The direct path's cache and stored keys, through the agent when one runs.

With an agent up, a cold call needs the keyring only through it: the ``keyring`` package
(0.1-0.2 s to import) and the D-Bus round trips stay in the agent. The first time the
agent cannot answer, each falls back to the local keyring for the rest of the process.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from rolehop.agent import client
from rolehop.agent.protocol import AgentUnavailable, disabled_by, request_environ
from rolehop.common.creds import Credentials, format_expiration, parse_expiration
from rolehop.config.locations import absolute
from rolehop.engine.rows import ProfileSummary
from rolehop.errors import CacheError
from rolehop.stores.cache import Cache, IndexEntry, decode_entry, encode_entry
from rolehop.stores.keys import Keys, StoredKey

log = logging.getLogger(__name__)
Local = TypeVar("Local")


class AgentLink:
    """How the engine's context reaches the agent (``rolehop.engine.context.build(agent=...)``)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.usable = not disabled_by(environ)

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        if not self.usable:
            raise AgentUnavailable("not usable in this process")
        try:
            answer = client.ask(self.environ, op, timeout=5.0, **fields)
        except AgentUnavailable as error:
            self.usable = False  # once: the rest of this process goes the local way
            log.debug("agent: %s; using the keyring directly", error)
            raise
        if answer.get("error") == "cache":
            raise CacheError(str(answer.get("message")))
        if not answer.get("ok"):
            self.usable = False
            log.debug("agent: %s failed (%s); using the keyring directly", op, answer.get("error"))
            raise AgentUnavailable(str(answer.get("error")))
        return answer

    def cache(self, local: Callable[[], Cache], backend: str | None) -> Cache:
        return AgentCache(self, local, backend)

    def keys(self, local: Callable[[], Keys], backend: str | None) -> Keys:
        return AgentKeys(self, local, backend)

    def profiles(self, config_path: str | None, backend: str | None) -> list[ProfileSummary] | None:
        try:
            answer = self.ask(
                "profiles",
                environ=request_environ(self.environ, os.getcwd()),
                config=absolute(config_path, self.environ, os.getcwd()) if config_path else None,
                backend=backend,
            )
        except (AgentUnavailable, CacheError):
            return None  # the direct path reads the files (and says what is wrong in them)
        try:
            return [summary_from_row(row) for row in answer["rows"]]
        except (KeyError, TypeError, ValueError) as error:
            log.debug("agent: unreadable profiles (%s)", type(error).__name__)
            return None


class _Fallback(Generic[Local]):
    """Through the agent while it answers; else the local ``Local``, made once, on need."""

    def __init__(self, link: AgentLink, local: Callable[[], Local], backend: str | None) -> None:
        self.link = link
        self._make_local = local
        self._local: Local | None = None
        self.backend = backend  # the keyring this process would use: the agent's, or not

    def _ask(self, op: str, **fields: Any) -> dict[str, Any]:
        return self.link.ask(op, backend=self.backend, **fields)

    def _remote(self) -> bool:
        return self.link.usable

    def _fallback(self) -> Local:
        if self._local is None:
            self._local = self._make_local()
        return self._local


class AgentCache(_Fallback[Cache]):
    @property
    def description(self) -> str:
        return "the agent's" if self._remote() else self._fallback().description

    def get(self, key: str) -> Credentials | None:
        if self._remote():
            try:
                text = self._ask("get", key=key).get("entry")
                return decode_entry(text) if isinstance(text, str) else None
            except AgentUnavailable:
                pass
        return self._fallback().get(key)

    def put(self, key: str, credentials: Credentials, *, label: str) -> None:
        if self._remote():
            try:
                self._ask("put", key=key, entry=encode_entry(credentials, label), label=label)
                return
            except AgentUnavailable:
                pass
        self._fallback().put(key, credentials, label=label)

    def delete(self, key: str) -> bool:
        if self._remote():
            try:
                return bool(self._ask("delete", key=key).get("deleted"))
            except AgentUnavailable:
                pass
        return self._fallback().delete(key)

    def index(self) -> dict[str, IndexEntry]:
        if self._remote():
            try:
                rows = self._ask("index").get("index") or {}
                return {
                    key: IndexEntry(profile, parse_expiration(until) if until else None)
                    for key, (profile, until) in rows.items()
                }
            except AgentUnavailable:
                pass
        return self._fallback().index()

    def remove(self, keys: set[str]) -> int:
        if self._remote():
            try:
                return int(self._ask("remove", keys=sorted(keys)).get("removed", 0))
            except AgentUnavailable:
                pass
        return self._fallback().remove(keys)


class AgentKeys(_Fallback[Keys]):
    """Names and keys read through the agent; storing and removing stay local (and are
    announced to every agent: rolehop.stores.changes)."""

    def names(self) -> set[str]:
        if self._remote():
            try:
                return set(self._ask("stored-names").get("names") or ())
            except AgentUnavailable:
                pass
        return self._fallback().names()

    def get(self, name: str) -> Credentials | None:
        if self._remote():
            try:
                found = self._ask("stored-key", name=name).get("keys")
                return Credentials(found[0], found[1]) if found else None
            except AgentUnavailable:
                pass
        return self._fallback().get(name)

    def key_id(self, name: str) -> str | None:
        if self._remote():
            try:
                found = self._ask("stored-key-id", name=name).get("key_id")
                return found if isinstance(found, str) else None
            except AgentUnavailable:
                pass
        return self._fallback().key_id(name)

    def add(self, name: str, credentials: Credentials) -> StoredKey:
        return self._fallback().add(name, credentials)  # announced to the agent by core

    def remove(self, name: str) -> bool:
        return self._fallback().remove(name)

    def list(self) -> list[StoredKey]:
        return self._fallback().list()


def index_rows(index: Mapping[str, IndexEntry]) -> dict[str, tuple[str, str | None]]:
    """The index as the agent sends it."""
    return {
        key: (entry.profile, format_expiration(entry.expiration) if entry.expiration else None)
        for key, entry in index.items()
    }


def summary_row(summary: ProfileSummary) -> dict[str, Any]:
    """A ``list`` row as the agent sends it."""
    row = dataclasses.asdict(summary)
    row["chain"] = list(summary.chain)
    until = summary.cached_until
    row["cached_until"] = format_expiration(until) if until else None
    return row


def summary_from_row(row: Mapping[str, Any]) -> ProfileSummary:
    until = row.get("cached_until")
    return ProfileSummary(
        **{
            **row,
            "chain": tuple(row["chain"]),
            "cached_until": parse_expiration(until) if until else None,
        }
    )
