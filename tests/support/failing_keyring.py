"""A keyring backend that raises on every call: a locked, broken or vanished keyring.

Selected with ``PYTHON_KEYRING_BACKEND=tests.support.failing_keyring.FailingKeyring``. Its
priority is positive, so rolehop takes it for a usable backend and meets the failures only
when it reads or writes. With ``ROLEHOP_TEST_KEYRING_CALLS=<path>``, every call is appended
to that file (one ``method service username`` line, never a password), so a test can tell
what rolehop tried. Test-only.
"""

from __future__ import annotations

import os

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError

MESSAGE = "the keyring is locked (injected failure)"


class FailingKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def _fail(self, method: str, service: str, username: str) -> KeyringError:
        log = os.environ.get("ROLEHOP_TEST_KEYRING_CALLS")
        if log:
            with open(log, "a", encoding="utf-8") as calls:
                calls.write(f"{method} {service} {username}\n")
        return KeyringError(MESSAGE)

    def get_password(self, service: str, username: str) -> str | None:
        raise self._fail("get_password", service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self._fail("set_password", service, username)

    def delete_password(self, service: str, username: str) -> None:
        raise self._fail("delete_password", service, username)
