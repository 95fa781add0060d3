"""The keyring cache: entries, expiry margin, corruption, failing backends, the index."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from keyring.backend import KeyringBackend

from rolehop.common.creds import Credentials
from rolehop.engine.providers.cached import CachedProvider
from rolehop.stores.cache import (
    INDEX,
    SERVICE,
    IndexEntry,
    KeyringCache,
    NullCache,
    decode_entry,
    encode_entry,
    open_cache,
)
from rolehop.stores.memory_keyring import MemoryKeyring

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
MARGIN = timedelta(minutes=20)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def temporary(n: int = 1, expiration: datetime = T0 + timedelta(hours=1)) -> Credentials:
    return Credentials(
        access_key_id=f"ASIATEMPORARY{n:04d}",
        secret_access_key=f"temporary-secret-access-key-{n:04d}",
        session_token=f"temporary-session-token-{n:04d}",
        expiration=expiration,
        arn=f"arn:aws:sts::123456789012:assumed-role/r/s{n}",
    )


class FakeProvider:
    """Makes fresh one-hour credentials at each load, and counts the loads."""

    def __init__(self, clock: Clock, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.loads = 0

    @property
    def key(self) -> str:
        return "hop-key"

    @property
    def name(self) -> str:
        return "dev"

    def load(self) -> Credentials:
        self.loads += 1
        return temporary(self.loads, self.clock() + self.lifetime)


class RaisingKeyring(KeyringBackend):
    priority = 1

    def __init__(self, fail_on: frozenset[str] = frozenset({"get", "set", "delete"})) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.fail_on = fail_on
        self.calls: list[str] = []
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        self.calls.append("get")
        if "get" in self.fail_on:
            raise RuntimeError("backend down")
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls.append("set")
        if "set" in self.fail_on:
            raise RuntimeError("backend down")
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls.append("delete")
        raise RuntimeError("backend down")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def cache(memory_keyring: MemoryKeyring, warnings: list[str], clock: Clock) -> KeyringCache:
    return KeyringCache(memory_keyring, warnings.append, clock)


def stored(keyring: MemoryKeyring, key: str) -> object:
    return json.loads(keyring.items[(SERVICE, key)])


# ---------------------------------------------------------------------------------------
# round trip


def test_put_get_round_trip(
    cache: KeyringCache, memory_keyring: MemoryKeyring, warnings: list[str]
) -> None:
    credentials = temporary()
    cache.put("k1", credentials, label="dev")
    assert cache.get("k1") == credentials
    assert stored(memory_keyring, "k1") == {
        "v": 1,
        "profile": "dev",
        "credentials": {
            "AccessKeyId": "ASIATEMPORARY0001",
            "SecretAccessKey": "temporary-secret-access-key-0001",
            "SessionToken": "temporary-session-token-0001",
            "Expiration": "2030-01-01T13:00:00Z",
            "Arn": "arn:aws:sts::123456789012:assumed-role/r/s1",
        },
    }
    assert stored(memory_keyring, INDEX) == {
        "v": 1,
        "entries": {"k1": {"profile": "dev", "expiration": "2030-01-01T13:00:00Z"}},
    }
    assert cache.get("other") is None
    assert warnings == []


def test_round_trip_keeps_the_instant_of_a_non_utc_expiration(cache: KeyringCache) -> None:
    paris = timezone(timedelta(hours=1))
    credentials = temporary(expiration=datetime(2030, 1, 1, 14, 0, tzinfo=paris))
    cache.put("k1", credentials, label="dev")
    got = cache.get("k1")
    assert got is not None
    assert got.expiration == T0 + timedelta(hours=1)
    assert got.expiration is not None and got.expiration.tzinfo == UTC


def test_encode_decode_entry() -> None:
    credentials = temporary(7)
    assert decode_entry(encode_entry(credentials, "x")) == credentials


def test_credentials_repr_holds_no_secret() -> None:
    credentials = temporary(3)
    text = repr(credentials)
    assert "temporary-secret-access-key-0003" not in text
    assert "temporary-session-token-0003" not in text
    assert "ASIATEMPORARY0003" in text
    assert "temporary-secret-access-key-0003" not in str(credentials)


def test_long_term_credentials_are_never_stored(
    cache: KeyringCache, memory_keyring: MemoryKeyring
) -> None:
    cache.put("k1", Credentials("AKIALONGTERM0001", "long-term-secret-0001"), label="dev")
    assert memory_keyring.items == {}
    assert cache.get("k1") is None
    assert cache.index() == {}


# ---------------------------------------------------------------------------------------
# the margin, through CachedProvider


def test_first_load_is_a_miss_then_a_hit(cache: KeyringCache, clock: Clock) -> None:
    inner = FakeProvider(clock)
    provider = CachedProvider(inner, cache, clock, MARGIN)
    assert provider.status == "unused"
    first = provider.load()
    assert (provider.status, inner.loads) == ("miss", 1)
    assert provider.load() == first
    assert (provider.status, inner.loads) == ("hit", 1)
    assert provider.key == "hop-key"
    assert provider.name == "dev"


EXPIRY = T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("now", "hit"),
    [
        (T0, True),
        (EXPIRY - MARGIN - timedelta(seconds=1), True),
        (EXPIRY - MARGIN - timedelta(microseconds=1), True),
        (EXPIRY - MARGIN, False),  # exactly the margin left: not more than it
        (EXPIRY - MARGIN + timedelta(seconds=1), False),
        (EXPIRY, False),
        (EXPIRY + timedelta(seconds=1), False),
    ],
    ids=["now", "margin+1s", "margin+1us", "margin", "margin-1s", "expiry", "expired"],
)
def test_entry_served_only_while_more_than_margin_remains(
    cache: KeyringCache, clock: Clock, now: datetime, hit: bool
) -> None:
    inner = FakeProvider(clock)
    first = CachedProvider(inner, cache, clock, MARGIN).load()
    assert (first.expiration, inner.loads) == (EXPIRY, 1)
    clock.now = now
    provider = CachedProvider(inner, cache, clock, MARGIN)
    got = provider.load()
    if hit:
        assert (provider.status, inner.loads, got) == ("hit", 1, first)
    else:
        assert (provider.status, inner.loads) == ("miss", 2)
        assert got.access_key_id == "ASIATEMPORARY0002"
        assert cache.get("hop-key") == got  # the reload replaced the entry


def test_refresh_always_loads(cache: KeyringCache, clock: Clock) -> None:
    inner = FakeProvider(clock)
    CachedProvider(inner, cache, clock, MARGIN).load()
    provider = CachedProvider(inner, cache, clock, MARGIN, refresh=True)
    got = provider.load()
    assert (provider.status, inner.loads) == ("refreshed", 2)
    assert cache.get("hop-key") == got


def test_credentials_fresh_boundaries() -> None:
    credentials = temporary()
    assert credentials.remaining(T0) == timedelta(hours=1)
    assert credentials.fresh(T0 + timedelta(minutes=40) - timedelta(seconds=1), MARGIN)
    assert not credentials.fresh(T0 + timedelta(minutes=40), MARGIN)
    long_term = Credentials("AKIA", "secret")
    assert long_term.remaining(T0) is None
    assert long_term.fresh(T0 + timedelta(days=3650), MARGIN)


# ---------------------------------------------------------------------------------------
# corrupt entries

VALID = temporary().to_dict()


def entry(**credentials: object) -> str:
    merged = {**VALID, **credentials}
    return json.dumps(
        {"v": 1, "profile": "dev", "credentials": {k: v for k, v in merged.items() if v != "-"}}
    )


CORRUPT = {
    "not-json": "not json at all {",
    "empty": "",
    "json-null": "null",
    "json-list": "[1, 2]",
    "json-string": '"text"',
    "no-version": json.dumps({"profile": "dev", "credentials": VALID}),
    "wrong-version": json.dumps({"v": 2, "profile": "dev", "credentials": VALID}),
    "version-as-string": json.dumps({"v": "1", "profile": "dev", "credentials": VALID}),
    "no-credentials": json.dumps({"v": 1, "profile": "dev"}),
    "credentials-list": json.dumps({"v": 1, "profile": "dev", "credentials": [VALID]}),
    "key-id-number": entry(AccessKeyId=5),
    "key-id-empty": entry(AccessKeyId=""),
    "secret-missing": entry(SecretAccessKey="-"),
    "secret-null": entry(SecretAccessKey=None),
    "token-missing": entry(SessionToken="-"),
    "token-number": entry(SessionToken=12),
    "expiration-missing": entry(Expiration="-"),
    "expiration-naive": entry(Expiration="2030-01-01T13:00:00"),
    "expiration-garbage": entry(Expiration="tomorrow"),
    "expiration-number": entry(Expiration=1893502800),
    "arn-number": entry(Arn=1),
    "deeply-nested": "[" * 100_000,
    "expiration-overflows": entry(Expiration="0001-01-01T00:00:00+01:00"),
}


@pytest.mark.parametrize("text", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_entry_is_a_miss_and_is_overwritten(
    cache: KeyringCache,
    memory_keyring: MemoryKeyring,
    clock: Clock,
    warnings: list[str],
    text: str,
) -> None:
    memory_keyring.set_password(SERVICE, "hop-key", text)
    assert cache.get("hop-key") is None
    inner = FakeProvider(clock)
    provider = CachedProvider(inner, cache, clock, MARGIN)
    got = provider.load()
    assert (provider.status, inner.loads) == ("miss", 1)
    assert memory_keyring.items[(SERVICE, "hop-key")] != text
    assert cache.get("hop-key") == got
    assert warnings == []


def test_the_valid_entry_of_the_corrupt_corpus_is_a_hit(
    cache: KeyringCache, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password(SERVICE, "hop-key", entry())
    assert cache.get("hop-key") == temporary()


# ---------------------------------------------------------------------------------------
# failing backends


def test_failing_backend_warns_once_and_behaves_as_no_cache(clock: Clock) -> None:
    backend = RaisingKeyring()
    warnings: list[str] = []
    cache = KeyringCache(backend, warnings.append, clock)
    inner = FakeProvider(clock)
    first = CachedProvider(inner, cache, clock, MARGIN)
    second = CachedProvider(inner, cache, clock, MARGIN)
    assert first.load().access_key_id == "ASIATEMPORARY0001"
    assert second.load().access_key_id == "ASIATEMPORARY0002"
    assert (first.status, second.status, inner.loads) == ("miss", "miss", 2)
    assert warnings == [
        "the keyring (tests.test_cache.RaisingKeyring) failed to read: "
        "RuntimeError: backend down; continuing without the cache"
    ]
    assert backend.calls == ["get", "get"]  # tried once more, then given up
    assert cache.index() == {}
    assert cache.delete("hop-key") is False
    assert cache.remove({"hop-key"}) == 0
    assert len(warnings) == 1


class OnceFailingKeyring(RaisingKeyring):
    """Fails its first call only: gnome-keyring under dozens of parallel clients."""

    def get_password(self, service: str, username: str) -> str | None:
        self.fail_on = frozenset({"get"}) if not self.calls else frozenset()
        return super().get_password(service, username)


def test_a_keyring_failing_once_is_asked_again(clock: Clock) -> None:
    backend = OnceFailingKeyring()
    warnings: list[str] = []
    cache = KeyringCache(backend, warnings.append, clock)
    entry = Credentials("ASIAONCE", "s", "t", clock() + timedelta(hours=1))
    backend.items[(SERVICE, "k")] = encode_entry(entry, "p")

    assert cache.get("k") == entry
    assert backend.calls == ["get", "get"] and warnings == [] and not cache.broken


def test_backend_failing_to_store_warns_once(clock: Clock) -> None:
    backend = RaisingKeyring(fail_on=frozenset({"set"}))
    warnings: list[str] = []
    cache = KeyringCache(backend, warnings.append, clock)
    inner = FakeProvider(clock)
    for _ in range(3):
        CachedProvider(inner, cache, clock, MARGIN).load()
    assert inner.loads == 3
    assert warnings == [
        "the keyring (tests.test_cache.RaisingKeyring) failed to store: "
        "RuntimeError: backend down; continuing without the cache"
    ]
    assert backend.calls == ["get", "set", "set"]


def test_null_cache_stores_nothing() -> None:
    cache = NullCache()
    cache.put("k", temporary(), label="dev")
    assert cache.get("k") is None
    assert cache.index() == {}
    assert cache.delete("k") is False
    assert cache.remove({"k"}) == 0
    assert cache.description == "none (credentials are not cached)"


# ---------------------------------------------------------------------------------------
# the index


def test_index_lists_keys(cache: KeyringCache) -> None:
    cache.put("k1", temporary(1, T0 + timedelta(hours=1)), label="dev")
    cache.put("k2", temporary(2, T0 + timedelta(hours=2)), label="prod")
    assert cache.index() == {
        "k1": IndexEntry("dev", T0 + timedelta(hours=1)),
        "k2": IndexEntry("prod", T0 + timedelta(hours=2)),
    }


def test_index_holds_no_secret(cache: KeyringCache, memory_keyring: MemoryKeyring) -> None:
    cache.put("k1", temporary(1), label="dev")
    text = memory_keyring.items[(SERVICE, INDEX)]
    assert "temporary-secret-access-key-0001" not in text
    assert "temporary-session-token-0001" not in text


@pytest.mark.parametrize(
    ("later", "pruned"),
    [(timedelta(0), False), (timedelta(seconds=1), True)],
    ids=["at-expiry-kept", "after-expiry-pruned"],
)
def test_put_prunes_expired_entries(
    cache: KeyringCache,
    memory_keyring: MemoryKeyring,
    clock: Clock,
    later: timedelta,
    pruned: bool,
) -> None:
    cache.put("old", temporary(1, T0 + timedelta(hours=1)), label="dev")
    cache.put("live", temporary(2, T0 + timedelta(hours=5)), label="prod")
    clock.now = T0 + timedelta(hours=1) + later
    cache.put("new", temporary(3, clock.now + timedelta(hours=1)), label="ops")
    assert set(cache.index()) == ({"live", "new"} if pruned else {"old", "live", "new"})
    assert ((SERVICE, "old") in memory_keyring.items) is not pruned
    assert (SERVICE, "live") in memory_keyring.items


def test_remove_deletes_entries_and_index_rows(
    cache: KeyringCache, memory_keyring: MemoryKeyring
) -> None:
    for n, key in enumerate(("k1", "k2", "k3"), start=1):
        cache.put(key, temporary(n), label=key)
    assert cache.remove({"k1", "k2", "missing"}) == 2
    assert set(memory_keyring.items) == {(SERVICE, "k3"), (SERVICE, INDEX)}
    assert set(cache.index()) == {"k3"}
    assert cache.remove({"k1"}) == 0


def test_remove_deletes_entries_missing_from_the_index(
    cache: KeyringCache, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password(SERVICE, "orphan", entry())
    assert cache.remove({"orphan"}) == 1
    assert memory_keyring.items == {}


def test_delete(cache: KeyringCache) -> None:
    cache.put("k1", temporary(), label="dev")
    assert cache.delete("k1") is True
    assert cache.delete("k1") is False
    assert cache.get("k1") is None


def test_corrupt_index_reads_as_empty_and_is_rewritten(
    cache: KeyringCache, memory_keyring: MemoryKeyring, warnings: list[str]
) -> None:
    memory_keyring.set_password(SERVICE, INDEX, "{not json")
    assert cache.index() == {}
    cache.put("k1", temporary(), label="dev")
    assert set(cache.index()) == {"k1"}
    assert warnings == []


def test_one_bad_index_row_keeps_the_others(
    cache: KeyringCache, memory_keyring: MemoryKeyring
) -> None:
    cache.put("k1", temporary(1), label="dev")
    document = json.loads(memory_keyring.items[(SERVICE, INDEX)])
    document["entries"]["bad"] = {"profile": "x", "expiration": "not a date"}
    memory_keyring.set_password(SERVICE, INDEX, json.dumps(document))
    assert "k1" in cache.index()


# ---------------------------------------------------------------------------------------
# open_cache


def test_open_cache_uses_the_installed_keyring(
    memory_keyring: MemoryKeyring, warnings: list[str]
) -> None:
    opened = open_cache(enabled=True, backend_name=None, environ={}, warn=warnings.append)
    assert isinstance(opened, KeyringCache)
    assert opened.backend is memory_keyring
    assert opened.description == "rolehop.stores.memory_keyring.MemoryKeyring"
    assert warnings == []


def test_open_cache_backend_setting(warnings: list[str]) -> None:
    opened = open_cache(
        enabled=True,
        backend_name="rolehop.stores.memory_keyring.MemoryKeyring",
        environ={},
        warn=warnings.append,
    )
    assert isinstance(opened, KeyringCache)
    assert type(opened.backend) is MemoryKeyring
    assert warnings == []


def test_open_cache_fail_backend_is_null_with_a_warning(warnings: list[str]) -> None:
    opened = open_cache(
        enabled=True,
        backend_name="rolehop.stores.memory_keyring.MemoryKeyring",
        environ={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
        warn=warnings.append,
    )
    assert isinstance(opened, NullCache)
    assert len(warnings) == 1
    assert "keyring.backends.fail.Keyring" in warnings[0]
    assert "credentials are not cached" in warnings[0]


def test_open_cache_disabled_is_null_without_warning(warnings: list[str]) -> None:
    opened = open_cache(
        enabled=False,
        backend_name=None,
        environ={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
        warn=warnings.append,
    )
    assert isinstance(opened, NullCache)
    assert warnings == []


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"PYTHON_KEYRING_BACKEND": "no.such.module.Keyring"}, None),
        ({"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.NoSuchClass"}, None),
        ({}, "no.such.module.Keyring"),
    ],
)
def test_open_cache_bogus_backend_is_null_with_a_warning(
    warnings: list[str], environ: dict[str, str], setting: str | None
) -> None:
    opened = open_cache(enabled=True, backend_name=setting, environ=environ, warn=warnings.append)
    assert isinstance(opened, NullCache)
    assert len(warnings) == 1
    assert warnings[0].startswith("cannot load the keyring backend: ")
    assert warnings[0].endswith("; credentials are not cached")


def test_open_cache_passes_the_clock(memory_keyring: MemoryKeyring) -> None:
    clock = Clock(T0 + timedelta(hours=10))
    opened = open_cache(enabled=True, backend_name=None, environ={}, warn=pytest.fail, clock=clock)
    assert isinstance(opened, KeyringCache)
    opened.put("old", temporary(1, T0 + timedelta(hours=1)), label="dev")
    assert opened.index() == {}  # pruned at once: the injected clock is past its expiry


def test_corrupt_index_rows_do_not_break_put_or_remove(
    cache: KeyringCache, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password(
        "rolehop",
        "index",
        json.dumps({"v": 1, "entries": {"old": {"expiration": "0001-01-01T00:00:00+01:00"}}}),
    )
    cache.put("new", temporary(), label="dev")
    assert set(cache.index()) == {"old", "new"}
    assert cache.remove({"old", "new"}) == 1


def test_deeply_nested_index_is_an_empty_index(
    cache: KeyringCache, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("rolehop", "index", "[" * 100_000)
    assert cache.index() == {}
    cache.put("new", temporary(), label="dev")
    assert set(cache.index()) == {"new"}
