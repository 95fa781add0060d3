"""Long-term keys in the keyring: the KeyStore itself, and chains that start at stored keys.

:class:`rolehop.stores.keys.KeyStore` runs over an in-memory keyring (or a subclass that fails
on purpose) with an injected clock; through the engine (the ``world`` fixture), STS is real boto3
clients with botocore's ``Stubber``, and ``StubSts.calls`` records which keys sign each call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import pytest
from keyring.errors import PasswordSetError

from rolehop.common.creds import Credentials
from rolehop.engine import admin
from rolehop.engine.context import Context
from rolehop.engine.resolve import resolve
from rolehop.errors import CacheError, SourceCredentialsError, StsError, UsageError
from rolehop.stores import cache as caches
from rolehop.stores import keys as keystores
from rolehop.stores.keys import KeyStore, StoredKey
from rolehop.stores.memory_keyring import MemoryKeyring
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_ARN,
    JOE_CREDENTIALS,
    NOW,
    RESEARCH_ROLE,
    FakeClock,
    StubWorld,
    issue,
    joe,
    params,
)

STORED = Credentials("AKIASTORED0000000042", "storedSecretAccessKey/0000000000000042")
NEWER = Credentials("AKIANEWER00000000077", "newerSecretAccessKey/00000000000000077")
ANN = Credentials("AKIAANN0000000000123", "annSecretAccessKey/000000000000000123")

KEY_JOE = (keystores.SERVICE, "key:joe")
INDEX = (keystores.SERVICE, keystores.INDEX)


def index_document(keyring: MemoryKeyring) -> object:
    return json.loads(keyring.items[INDEX])


# ---------------------------------------------------------------------------------------
# KeyStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def store(backend: MemoryKeyring, clock: FakeClock) -> KeyStore:
    return KeyStore(backend, clock)


def test_add_then_get_round_trip(store: KeyStore) -> None:
    assert store.add("joe", STORED) == StoredKey("joe", "0042", NOW)

    assert store.get("joe") == STORED
    assert store.get("nobody") is None
    assert store.names() == {"joe"}


def test_entries_live_under_their_own_service_not_the_caches(
    store: KeyStore, backend: MemoryKeyring
) -> None:
    store.add("joe", STORED)

    assert keystores.SERVICE == "rolehop-keys"
    assert set(backend.items) == {KEY_JOE, INDEX}
    assert json.loads(backend.items[KEY_JOE]) == {
        "v": 1,
        "AccessKeyId": STORED.access_key_id,
        "SecretAccessKey": STORED.secret_access_key,
        "added": "2030-01-01T12:00:00Z",
    }
    assert not any(service == caches.SERVICE for service, _ in backend.items)


def test_list_shows_name_key_id_suffix_and_time_never_a_secret(
    store: KeyStore, backend: MemoryKeyring, clock: FakeClock
) -> None:
    store.add("joe", STORED)
    clock.now = NOW + timedelta(days=2, minutes=5)
    store.add("ann", ANN)

    assert store.list() == [
        StoredKey("ann", "0123", NOW + timedelta(days=2, minutes=5)),
        StoredKey("joe", "0042", NOW),
    ]
    text = backend.items[INDEX]
    for secret in (STORED.secret_access_key, ANN.secret_access_key):
        assert secret not in text
    # nor the full key ids: the last 4 characters are all that is shown
    for key_id in (STORED.access_key_id, ANN.access_key_id):
        assert key_id not in text
    assert json.loads(text) == {
        "v": 1,
        "keys": {
            "joe": {"key_id_suffix": "0042", "added": "2030-01-01T12:00:00Z"},
            "ann": {"key_id_suffix": "0123", "added": "2030-01-03T12:05:00Z"},
        },
    }


def test_remove(store: KeyStore, backend: MemoryKeyring) -> None:
    store.add("joe", STORED)
    store.add("ann", ANN)

    assert store.remove("joe") is True

    assert store.get("joe") is None
    assert store.list() == [StoredKey("ann", "0123", NOW)]
    assert KEY_JOE not in backend.items
    assert store.remove("joe") is False
    assert store.get("ann") == ANN


def test_overwriting_keeps_one_entry(
    store: KeyStore, backend: MemoryKeyring, clock: FakeClock
) -> None:
    store.add("joe", STORED)
    clock.now = NOW + timedelta(hours=3)

    assert store.add("joe", NEWER) == StoredKey("joe", "0077", NOW + timedelta(hours=3))

    assert store.get("joe") == NEWER
    assert store.list() == [StoredKey("joe", "0077", NOW + timedelta(hours=3))]
    assert set(backend.items) == {KEY_JOE, INDEX}


class MangleOnce(MemoryKeyring):
    """Stores one key entry wrongly (as a backend that silently truncates would)."""

    mangle = False

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.mangle and username.startswith("key:"):
            self.mangle = False
            password = password[:-1]
        super().set_password(service, username, password)


def test_a_read_back_that_differs_restores_the_previous_keys(clock: FakeClock) -> None:
    backend = MangleOnce()
    store = KeyStore(backend, clock)
    store.add("joe", STORED)
    before = dict(backend.items)
    backend.mangle = True

    with pytest.raises(CacheError) as caught:
        store.add("joe", NEWER)

    assert str(caught.value) == (
        "storing keys 'joe' failed: what was read back differs from what was written"
    )
    assert caught.value.exit_code == 8
    assert backend.items == before
    assert store.get("joe") == STORED
    assert store.list() == [StoredKey("joe", "0042", NOW)]


def test_a_read_back_that_differs_leaves_nothing_when_there_was_nothing(
    clock: FakeClock,
) -> None:
    backend = MangleOnce()
    backend.mangle = True

    with pytest.raises(CacheError):
        KeyStore(backend, clock).add("joe", STORED)

    assert backend.items == {}


class RefusesToStore(MemoryKeyring):
    """A locked keyring: every write fails (reads work)."""

    refuse: tuple[str, ...] = ("key:", "index")

    def set_password(self, service: str, username: str, password: str) -> None:
        if username.startswith(self.refuse):
            raise PasswordSetError("the collection is locked")
        super().set_password(service, username, password)


def test_a_backend_raising_on_set_is_a_cache_error_and_nothing_is_stored(
    clock: FakeClock,
) -> None:
    backend = RefusesToStore()

    with pytest.raises(CacheError) as caught:
        KeyStore(backend, clock).add("joe", STORED)

    assert str(caught.value) == (
        "the keyring (tests.test_keystore.RefusesToStore) failed to store keys 'joe': "
        "PasswordSetError: the collection is locked"
    )
    assert backend.items == {}
    assert STORED.secret_access_key not in str(caught.value)


def test_a_backend_raising_on_set_keeps_the_previous_keys(clock: FakeClock) -> None:
    backend = RefusesToStore()
    backend.refuse = ()
    store = KeyStore(backend, clock)
    store.add("joe", STORED)
    before = dict(backend.items)
    backend.refuse = ("key:", "index")

    with pytest.raises(CacheError):
        store.add("joe", NEWER)

    assert backend.items == before
    assert store.get("joe") == STORED


def test_a_failing_index_write_leaves_nothing_half_way(clock: FakeClock) -> None:
    backend = RefusesToStore()
    backend.refuse = ()
    store = KeyStore(backend, clock)
    store.add("joe", STORED)
    before = dict(backend.items)
    backend.refuse = ("index",)

    with pytest.raises(CacheError) as caught:
        store.add("joe", NEWER)

    assert str(caught.value) == (
        "storing keys 'joe' failed: the keyring (tests.test_keystore.RefusesToStore) failed "
        "to write the stored keys index: PasswordSetError: the collection is locked"
    )
    assert backend.items == before
    assert store.get("joe") == STORED


def test_corrupt_index_rows_keep_their_names_listed(
    store: KeyStore, backend: MemoryKeyring
) -> None:
    store.add("ann", ANN)
    backend.items[INDEX] = json.dumps(
        {
            "v": 1,
            "keys": {
                "joe": {"key_id_suffix": "0042", "added": "not a time"},
                "ann": "not a row",
                "bob": {"key_id_suffix": "BBBB", "added": "2030-01-01T12:00:00Z"},
                "cid": {},
            },
        }
    )

    assert store.list() == [
        StoredKey("ann", "????", None),
        StoredKey("bob", "BBBB", NOW),
        StoredKey("cid", "????", None),
        StoredKey("joe", "????", None),
    ]
    assert store.names() == {"ann", "bob", "cid", "joe"}
    # and they stay removable
    assert store.remove("ann") is True
    assert [stored.name for stored in store.list()] == ["bob", "cid", "joe"]
    assert store.get("ann") is None


def test_unreadable_stored_keys_are_a_cache_error(store: KeyStore, backend: MemoryKeyring) -> None:
    backend.items[KEY_JOE] = "{not json"

    with pytest.raises(CacheError) as caught:
        store.get("joe")

    assert str(caught.value) == (
        "the keys stored as 'joe' are unreadable: run rolehop keys add joe"
    )


# ---------------------------------------------------------------------------------------
# through Rolehop


@dataclass
class World(StubWorld):
    """Its contexts keep stored keys in its keyring, beside the cache."""

    def app(self, environ: Mapping[str, str] | None = None) -> Context:
        return self.context(environ, keys=self.stored_keys())


COMPANY = f"""\
    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"
    """

COMPANY_AND_ANNS = (
    COMPANY
    + f"""
    [profiles.anns]
    role_arn = "{RESEARCH_ROLE}"
    source_profile = "ann"
    """
)

# the world fixture of the tests below
pytestmark = pytest.mark.world(kind=World)


def expect_company(world: World, tag: str = "company") -> Credentials:
    company = issue(tag, COMPANY_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    return company.credentials


def test_a_chain_starts_at_stored_keys_without_any_aws_file(world: World) -> None:
    world.sandbox.write_rolehop(COMPANY)
    app = world.app()
    admin.add_keys(app, "joe", STORED)
    company = expect_company(world)

    resolution = resolve(app, "company")

    world.sts.verify()
    assert resolution.credentials == company
    assert resolution.chain.names == ("joe", "company")
    assert world.sts.calls == [(STORED, None)]
    assert not world.sandbox.aws_credentials.exists()
    assert not world.sandbox.aws_config.exists()


def test_stored_keys_win_over_the_aws_credentials_file(world: World) -> None:
    world.sandbox.write_aws_credentials(JOE_CREDENTIALS)
    world.sandbox.write_rolehop(COMPANY)
    app = world.app()
    admin.add_keys(app, "joe", STORED)
    expect_company(world)

    resolve(app, "company")

    world.sts.verify()
    assert world.sts.calls == [(STORED, None)]


def test_adding_new_keys_invalidates_credentials_cached_from_that_base(world: World) -> None:
    world.sandbox.write_aws_credentials(JOE_CREDENTIALS)
    world.sandbox.write_rolehop(COMPANY_AND_ANNS)
    app = world.app()
    admin.add_keys(app, "ann", ANN)
    expect_company(world)
    anns = issue("anns", RESEARCH_ROLE, NOW + timedelta(hours=1))
    world.sts.expect_assume_role(params(RESEARCH_ROLE), anns.response)
    resolve(app, "company")
    resolve(app, "anns")
    assert [hop.status for hop in resolve(app, "company").hops] == ["hit"]

    admin.add_keys(app, "joe", STORED)
    company2 = expect_company(world, "company2")
    again = resolve(app, "company")

    world.sts.verify()
    assert again.credentials == company2
    assert [hop.status for hop in again.hops] == ["miss"]
    assert world.sts.calls == [(joe(), None), (ANN, None), (STORED, None)]
    # a chain from another base keeps its cached credentials
    assert [hop.status for hop in resolve(app, "anns").hops] == ["hit"]
    assert len(world.sts.calls) == 3


def test_keys_replaced_outside_keys_add_are_a_new_cache_key(world: World) -> None:
    """The stored access key id is part of the base's cache key: keys replaced in the
    keyring by other means (another tool, a restored backup) are never served credentials
    made from the old ones."""
    world.sandbox.write_rolehop(COMPANY)
    app = world.app()
    admin.add_keys(app, "joe", STORED)
    expect_company(world)
    first = resolve(app, "company")
    world.keyring.items[KEY_JOE] = json.dumps(
        {"v": 1, "AccessKeyId": NEWER.access_key_id, "SecretAccessKey": NEWER.secret_access_key}
    )
    company2 = expect_company(world, "company2")

    again = resolve(world.app(), "company")

    world.sts.verify()
    assert again.credentials == company2
    assert again.chain.keys[0] != first.chain.keys[0]
    assert again.chain.keys[-1] != first.chain.keys[-1]
    assert world.sts.calls == [(STORED, None), (NEWER, None)]


def test_removing_keys_invalidates_credentials_cached_from_them(world: World) -> None:
    world.sandbox.write_aws_credentials(JOE_CREDENTIALS)
    world.sandbox.write_rolehop(COMPANY)
    app = world.app()
    admin.add_keys(app, "joe", STORED)
    expect_company(world)
    resolve(app, "company")

    assert admin.remove_keys(app, "joe") is True
    expect_company(world, "company2")
    again = resolve(app, "company")

    world.sts.verify()
    assert [hop.status for hop in again.hops] == ["miss"]
    assert world.sts.calls == [(STORED, None), (joe(), None)]  # back to the file's keys


def test_clear_cache_never_touches_stored_keys(world: World) -> None:
    world.sandbox.write_rolehop(COMPANY)
    app = world.app()
    admin.add_keys(app, "joe", STORED)
    expect_company(world)
    resolve(app, "company")
    stored_entries = {
        item: value for item, value in world.keyring.items.items() if item[0] == "rolehop-keys"
    }
    assert set(stored_entries) == {KEY_JOE, INDEX}
    assert any(service == "rolehop" for service, _ in world.keyring.items)

    assert admin.clear_cache(app) == 1

    assert {
        item: value for item, value in world.keyring.items.items() if item[0] != "rolehop"
    } == stored_entries
    assert world.keyring.items[("rolehop", "index")] == json.dumps({"v": 1, "entries": {}})
    assert admin.list_keys(app) == [StoredKey("joe", "0042", NOW)]


def test_unreadable_stored_keys_fall_back_to_the_aws_profile_with_a_warning(
    world: World,
) -> None:
    world.sandbox.write_aws_credentials(JOE_CREDENTIALS)
    world.sandbox.write_rolehop(COMPANY)
    app = world.app()
    admin.add_keys(app, "joe", STORED)
    world.keyring.items[KEY_JOE] = "garbage"
    expect_company(world)

    resolve(app, "company")

    world.sts.verify()
    assert world.sts.calls == [(joe(), None)]
    assert world.warnings == [
        "the keys stored as 'joe' are unreadable: run rolehop keys add joe; using the AWS "
        "profile 'joe' instead"
    ]


def test_unreadable_stored_keys_without_an_aws_profile_are_a_source_error(
    world: World,
) -> None:
    world.sandbox.write_rolehop(COMPANY)
    app = world.app()
    admin.add_keys(app, "joe", STORED)
    world.keyring.items[KEY_JOE] = "garbage"

    with pytest.raises(SourceCredentialsError) as caught:
        resolve(app, "company")

    assert str(caught.value) == (
        "profile 'company': source profile 'joe': the keys stored as 'joe' are unreadable: "
        "run rolehop keys add joe"
    )
    assert world.sts.calls == []


def test_check_keys_returns_the_caller_identity_arn(world: World) -> None:
    world.sts.expect(
        lambda stubber: stubber.add_response(
            "get_caller_identity",
            {"UserId": "AIDAJOE", "Account": "111111111111", "Arn": JOE_ARN},
            {},
        )
    )

    assert admin.check_keys(world.app(), STORED) == JOE_ARN

    world.sts.verify()
    assert world.sts.calls == [(STORED, None)]


def test_check_keys_uses_the_default_region(world: World) -> None:
    world.sandbox.write_rolehop('[settings]\ndefault_region = "eu-north-1"\n')
    world.sts.expect(
        lambda stubber: stubber.add_response(
            "get_caller_identity",
            {"UserId": "AIDAJOE", "Account": "111111111111", "Arn": JOE_ARN},
            {},
        )
    )

    admin.check_keys(world.app(), STORED)

    assert world.sts.calls == [(STORED, "eu-north-1")]


def test_check_keys_maps_invalid_client_token_id_to_a_source_error(world: World) -> None:
    world.sts.expect(
        lambda stubber: stubber.add_client_error(
            "get_caller_identity",
            service_error_code="InvalidClientTokenId",
            service_message="The security token included in the request is invalid.",
            http_status_code=403,
        )
    )

    with pytest.raises(SourceCredentialsError) as caught:
        admin.check_keys(world.app(), STORED)

    assert str(caught.value) == (
        "the keys to store: STS does not accept them (InvalidClientTokenId: The security "
        "token included in the request is invalid.)"
    )
    assert caught.value.exit_code == 6


def test_check_keys_other_failures_are_sts_errors(world: World) -> None:
    world.sts.expect(
        lambda stubber: stubber.add_client_error(
            "get_caller_identity",
            service_error_code="Throttling",
            service_message="Rate exceeded",
            http_status_code=400,
        )
    )

    with pytest.raises(StsError) as caught:
        admin.check_keys(world.app(), STORED)

    assert type(caught.value) is StsError
    assert str(caught.value) == (
        "the keys to store: GetCallerIdentity failed: Throttling: Rate exceeded"
    )


@pytest.mark.parametrize("name", ["", "joe\x1b]0;x\x07", "joe\ndoe", "x\x00y", "a\x85"])
def test_invalid_names_are_usage_errors_and_nothing_is_stored(world: World, name: str) -> None:
    with pytest.raises(UsageError) as caught:
        admin.add_keys(world.app(), name, STORED)

    assert str(caught.value) == (
        f"keys name: {name!r} is not a valid profile name (any text without control "
        "characters, as in the AWS CLI)"
    )
    assert caught.value.exit_code == 2
    assert world.keyring.items == {}


@pytest.mark.parametrize("name", ["-joe", "joe doe", "team/joe", "käse", "j" * 65, "key:joe"])
def test_any_name_the_aws_cli_takes_stores_keys(world: World, name: str) -> None:
    admin.add_keys(world.app(), name, STORED)

    assert world.app().keys.get(name) == STORED
    assert [key.name for key in admin.list_keys(world.app())] == [name]


def test_list_keys_through_rolehop(world: World) -> None:
    app = world.app()
    admin.add_keys(app, "joe", STORED)
    world.clock.now = NOW + timedelta(minutes=1)
    admin.add_keys(app, "ann", ANN)

    assert admin.list_keys(app) == [
        StoredKey("ann", "0123", NOW + timedelta(minutes=1)),
        StoredKey("joe", "0042", NOW),
    ]


SERIAL = "arn:aws:iam::111111111111:mfa/joe"


def expect_session(world: World, tag: str, code: str) -> Credentials:
    """Queue one GetSessionToken with ``code``; returns the session it hands out."""
    key_id = f"ASIA{tag.upper():0<16}"
    session = Credentials(key_id, f"{tag}-secret-key-000000", f"{tag}-token", NOW.replace(hour=23))
    response = {
        "Credentials": {
            "AccessKeyId": key_id,
            "SecretAccessKey": session.secret_access_key,
            "SessionToken": session.session_token,
            "Expiration": session.expiration,
        }
    }
    expected = {"SerialNumber": SERIAL, "TokenCode": code, "DurationSeconds": 43200}
    world.sts.expect(lambda stubber: stubber.add_response("get_session_token", response, expected))
    return session


def test_adding_new_keys_drops_the_mfa_session_made_with_the_old_ones(world: World) -> None:
    """An MFA session belongs to the keys that started it: new keys need a new session."""
    world.sandbox.write_aws_credentials(JOE_CREDENTIALS)
    world.sandbox.write_rolehop(f'[profiles.joe]\nmfa_serial = "{SERIAL}"\n\n' + COMPANY)
    asked: list[tuple[str, str, str | None]] = []

    def codes(serial: str, profile: str, mfa_process: str | None) -> str:
        asked.append((serial, profile, mfa_process))
        return f"{len(asked)}00000"

    app = world.context(keys=world.stored_keys(), mfa_codes=codes)
    first = expect_session(world, "first", "100000")
    expect_company(world, "company1")
    resolve(app, "company")

    admin.add_keys(app, "joe", STORED)
    second = expect_session(world, "second", "200000")
    company2 = expect_company(world, "company2")
    again = resolve(app, "company")

    world.sts.verify()
    assert again.credentials == company2
    assert asked == [(SERIAL, "company", None), (SERIAL, "company", None)]
    assert world.sts.calls == [(joe(), None), (first, None), (STORED, None), (second, None)]
