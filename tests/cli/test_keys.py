"""``rolehop keys add|list|remove``: what each prints, where, its exit code, what is stored.

``rolehop.cli.main`` runs in process (see tests/support/cli.py) with a
:class:`StubbedState`: a stubbed STS, a fixed clock, and the sandbox's in-memory keyring,
which is also where the keys end up. Prompts are answered through ``CliRunner``'s input.
"""

from __future__ import annotations

import json

import pytest

from rolehop.common.creds import Credentials
from rolehop.stores.memory_keyring import MemoryKeyring
from tests.conftest import Sandbox
from tests.support.cli import CONFIG, Outcome, StubbedState, fresh_run, rolehop_main
from tests.support.stubs import (
    COMPANY_ROLE,
    JOE_ARN,
    JOE_KEY_ID,
    JOE_SECRET,
    NOW,
    issue,
    params,
)

# a fresh state for every test (the shared fixture), a fresh_run() for each further run
pytestmark = pytest.mark.usefixtures("state")

KEY_JOE = ("rolehop-keys", "key:joe")
INDEX = ("rolehop-keys", "index")
FROM_ENV = {"AWS_ACCESS_KEY_ID": JOE_KEY_ID, "AWS_SECRET_ACCESS_KEY": JOE_SECRET}
STORED_JOE = "stored keys 'joe' (…0001) in the keyring\n"


def stored(keyring: MemoryKeyring, name: str = "joe") -> Credentials | None:
    text = keyring.items.get(("rolehop-keys", f"key:{name}"))
    if text is None:
        return None
    document = json.loads(text)
    return Credentials(document["AccessKeyId"], document["SecretAccessKey"])


def add_joe() -> None:
    assert rolehop_main("keys", "add", "joe", "--from-env", "--no-verify", env=FROM_ENV) == (
        Outcome(0, "", STORED_JOE)
    )


def _whoami(state: StubbedState) -> None:
    state.sts.expect(
        lambda stubber: stubber.add_response(
            "get_caller_identity",
            {"UserId": "AIDAJOE", "Account": "111111111111", "Arn": JOE_ARN},
            {},
        )
    )


# ---------------------------------------------------------------------------------------
# keys add


def test_add_from_env_without_verifying(state: StubbedState, memory_keyring: MemoryKeyring) -> None:
    outcome = rolehop_main("keys", "add", "joe", "--from-env", "--no-verify", env=FROM_ENV)

    assert outcome == Outcome(0, "", STORED_JOE)
    assert stored(memory_keyring) == Credentials(JOE_KEY_ID, JOE_SECRET)
    assert set(memory_keyring.items) == {KEY_JOE, INDEX}
    assert state.sts.calls == []


def test_add_from_env_verifies_with_get_caller_identity(
    state: StubbedState, memory_keyring: MemoryKeyring
) -> None:
    _whoami(state)

    outcome = rolehop_main("keys", "add", "joe", "--from-env", env=FROM_ENV)

    state.sts.verify()
    assert outcome == Outcome(0, "", STORED_JOE + f"they act as {JOE_ARN}\n")
    assert state.sts.calls == [(Credentials(JOE_KEY_ID, JOE_SECRET), None)]
    assert stored(memory_keyring) == Credentials(JOE_KEY_ID, JOE_SECRET)


def test_add_with_keys_sts_refuses_stores_nothing(
    state: StubbedState, memory_keyring: MemoryKeyring
) -> None:
    state.sts.expect(
        lambda stubber: stubber.add_client_error(
            "get_caller_identity",
            service_error_code="InvalidClientTokenId",
            service_message="The security token included in the request is invalid.",
            http_status_code=403,
        )
    )

    outcome = rolehop_main("keys", "add", "joe", "--from-env", env=FROM_ENV)

    assert outcome == Outcome(
        6,
        "",
        "rolehop: error: the keys to store: STS does not accept them (InvalidClientTokenId: "
        "The security token included in the request is invalid.)\n",
    )
    assert memory_keyring.items == {}


def test_add_prompts_for_the_keys_and_never_shows_the_secret(
    memory_keyring: MemoryKeyring,
) -> None:
    outcome = rolehop_main(
        "keys", "add", "joe", "--no-verify", input=f"{JOE_KEY_ID}\n{JOE_SECRET}\n"
    )

    # the key id is echoed as typed; the secret is not
    assert outcome == Outcome(
        0, "", f"Access Key ID: {JOE_KEY_ID}\nSecret Access Key: \n" + STORED_JOE
    )
    assert JOE_SECRET not in outcome.stdout + outcome.stderr
    assert stored(memory_keyring) == Credentials(JOE_KEY_ID, JOE_SECRET)


def test_add_keys_given_as_arguments_are_refused(memory_keyring: MemoryKeyring) -> None:
    outcome = rolehop_main("keys", "add", "joe", JOE_KEY_ID, JOE_SECRET)

    assert outcome.code == 2
    assert outcome.stdout == ""
    assert outcome.stderr.splitlines()[-1] == (
        f"Error: Got unexpected extra arguments ({JOE_KEY_ID} {JOE_SECRET})"
    )
    assert memory_keyring.items == {}


@pytest.mark.parametrize("prompted", [False, True])
def test_add_refuses_temporary_asia_keys(memory_keyring: MemoryKeyring, prompted: bool) -> None:
    key_id = "ASIAJOE0000000000002"
    if prompted:
        outcome = rolehop_main(
            "keys", "add", "joe", "--no-verify", input=f"{key_id}\n{JOE_SECRET}\n"
        )
    else:
        env = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": JOE_SECRET}
        outcome = rolehop_main("keys", "add", "joe", "--from-env", "--no-verify", env=env)

    assert outcome.code == 2
    assert outcome.stdout == ""
    assert outcome.stderr.splitlines()[-1] == (
        "rolehop: error: ASIA… keys are temporary (they need a session token): store "
        "long-term AKIA… keys"
    )
    assert memory_keyring.items == {}


@pytest.mark.parametrize("key_id", ["AKIA", "akiajoe0000000000001", "AKIAJOE-000000000001", "x"])
def test_add_refuses_what_is_not_an_access_key_id(
    memory_keyring: MemoryKeyring, key_id: str
) -> None:
    env = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": JOE_SECRET}

    outcome = rolehop_main("keys", "add", "joe", "--from-env", "--no-verify", env=env)

    assert outcome == Outcome(
        2,
        "",
        "rolehop: error: an Access Key ID looks like AKIA followed by 16 letters and digits\n",
    )
    assert memory_keyring.items == {}


@pytest.mark.parametrize("secret", ["   ", "two words"])
def test_add_refuses_an_empty_or_spaced_secret(memory_keyring: MemoryKeyring, secret: str) -> None:
    env = {"AWS_ACCESS_KEY_ID": JOE_KEY_ID, "AWS_SECRET_ACCESS_KEY": secret}

    outcome = rolehop_main("keys", "add", "joe", "--from-env", "--no-verify", env=env)

    assert outcome == Outcome(
        2, "", "rolehop: error: the Secret Access Key is empty or holds spaces\n"
    )
    assert memory_keyring.items == {}


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"AWS_ACCESS_KEY_ID": JOE_KEY_ID},
        {"AWS_SECRET_ACCESS_KEY": JOE_SECRET},
        {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": JOE_SECRET},
    ],
)
def test_add_from_env_with_missing_variables_is_exit_2(
    memory_keyring: MemoryKeyring, env: dict[str, str]
) -> None:
    outcome = rolehop_main("keys", "add", "joe", "--from-env", "--no-verify", env=env)

    assert outcome == Outcome(
        2, "", "rolehop: error: --from-env needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"
    )
    assert memory_keyring.items == {}


def test_add_with_no_usable_keyring_is_exit_8_and_stores_nothing(
    memory_keyring: MemoryKeyring,
) -> None:
    env = {**FROM_ENV, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}

    outcome = rolehop_main("keys", "add", "joe", "--from-env", "--no-verify", env=env)

    assert outcome == Outcome(
        8,
        "",
        "rolehop: error: no usable keyring backend (keyring.backends.fail.Keyring cannot "
        "store secrets)\n",
    )
    assert memory_keyring.items == {}


def test_add_with_an_invalid_name_is_exit_2(memory_keyring: MemoryKeyring) -> None:
    outcome = rolehop_main("keys", "add", "joe\x1b", "--from-env", "--no-verify", env=FROM_ENV)

    assert outcome == Outcome(
        2,
        "",
        "rolehop: error: keys name: 'joe\\x1b' is not a valid profile name (any text without "
        "control characters, as in the AWS CLI)\n",
    )
    assert memory_keyring.items == {}


def test_an_invalid_name_is_refused_before_asking_for_keys(
    state: StubbedState, memory_keyring: MemoryKeyring
) -> None:
    outcome = rolehop_main("keys", "add", "joe\x1b", input=f"{JOE_KEY_ID}\n{JOE_SECRET}\n")

    assert outcome == Outcome(
        2,
        "",
        "rolehop: error: keys name: 'joe\\x1b' is not a valid profile name (any text without "
        "control characters, as in the AWS CLI)\n",
    )
    assert state.sts.calls == []


def test_stored_keys_start_a_chain_for_credential_process(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    sandbox.write_rolehop(CONFIG)  # company's source_profile is joe; no AWS files
    add_joe()
    run = fresh_run(monkeypatch)
    company = issue("company", COMPANY_ROLE, NOW.replace(hour=13))
    run.sts.expect_assume_role(params(COMPANY_ROLE), company.response)

    outcome = rolehop_main("credential-process", "company")

    run.sts.verify()
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["AccessKeyId"] == company.credentials.access_key_id
    assert run.sts.calls == [(Credentials(JOE_KEY_ID, JOE_SECRET), "eu-west-1")]
    assert not sandbox.aws_credentials.exists()


# ---------------------------------------------------------------------------------------
# keys list


def test_list_shows_names_suffixes_and_times_never_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_joe()
    run = fresh_run(monkeypatch)
    run.clock.now = NOW.replace(day=2)
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAANOTHERUSER00XYZ",
        "AWS_SECRET_ACCESS_KEY": "anotherSecretAccessKey/00000000000000XYZ",
    }
    assert rolehop_main("keys", "add", "ci-user", "--from-env", "--no-verify", env=env).code == 0
    fresh_run(monkeypatch)

    outcome = rolehop_main("keys", "list")

    assert outcome == Outcome(
        0,
        "NAME     KEY ID    ADDED\n"
        "ci-user  …0XYZ     2030-01-02T12:00:00Z\n"
        "joe      …0001     2030-01-01T12:00:00Z\n",
        "",
    )
    for secret in (JOE_SECRET, env["AWS_SECRET_ACCESS_KEY"], JOE_KEY_ID):
        assert secret not in outcome.stdout


def test_list_json(monkeypatch: pytest.MonkeyPatch) -> None:
    add_joe()
    fresh_run(monkeypatch)

    outcome = rolehop_main("keys", "list", "--json")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert json.loads(outcome.stdout) == {
        "version": 1,
        "keys": [{"name": "joe", "key_id": "…0001", "added": "2030-01-01T12:00:00Z"}],
    }
    assert JOE_SECRET not in outcome.stdout
    assert JOE_KEY_ID not in outcome.stdout


def test_list_without_keys() -> None:
    assert rolehop_main("keys", "list") == Outcome(0, "", "no keys stored: rolehop keys add NAME\n")
    assert rolehop_main("keys", "list", "--json") == Outcome(
        0, '{\n  "version": 1,\n  "keys": []\n}\n', ""
    )


# ---------------------------------------------------------------------------------------
# keys remove


def test_remove_with_yes(monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring) -> None:
    add_joe()
    fresh_run(monkeypatch)

    outcome = rolehop_main("keys", "remove", "joe", "--yes")

    assert outcome == Outcome(0, "", "removed keys 'joe'\n")
    assert stored(memory_keyring) is None
    assert json.loads(memory_keyring.items[INDEX]) == {"v": 1, "keys": {}}


def test_remove_asks_and_no_aborts_without_removing(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    add_joe()
    fresh_run(monkeypatch)

    outcome = rolehop_main("keys", "remove", "joe", input="n\n")

    assert outcome == Outcome(
        1, "", "Delete the keys stored as 'joe'? [y/N]: n\nrolehop: aborted\n"
    )
    assert stored(memory_keyring) == Credentials(JOE_KEY_ID, JOE_SECRET)


def test_remove_asks_and_end_of_input_aborts(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    add_joe()
    fresh_run(monkeypatch)

    outcome = rolehop_main("keys", "remove", "joe", input="")

    assert outcome.code == 1
    assert outcome.stderr.endswith("rolehop: aborted\n")
    assert stored(memory_keyring) == Credentials(JOE_KEY_ID, JOE_SECRET)


def test_remove_asks_and_yes_removes(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    add_joe()
    fresh_run(monkeypatch)

    outcome = rolehop_main("keys", "remove", "joe", input="y\n")

    assert outcome == Outcome(
        0, "", "Delete the keys stored as 'joe'? [y/N]: y\nremoved keys 'joe'\n"
    )
    assert stored(memory_keyring) is None


def test_remove_of_unknown_keys_is_exit_2(memory_keyring: MemoryKeyring) -> None:
    outcome = rolehop_main("keys", "remove", "nobody", "--yes")

    assert outcome == Outcome(2, "", "rolehop: error: no keys are stored as 'nobody'\n")
