"""Where MFA codes come from (``rolehop.engine.mfa.MfaCodes``): --mfa-token once, then
mfa_process, then the terminal, which is asked at most three times and never waited for
when there is none.

``MfaCodes`` is tested with an injected terminal and real ``mfa_process`` commands; the last
test goes through the engine with a stubbed STS (the ``world`` fixture).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rolehop.engine.mfa import PROCESS_TIMEOUT, MfaCodes, Terminal
from rolehop.engine.resolve import resolve
from rolehop.errors import MfaError
from tests.support.mfa import SERIAL, THREE_ROLES, World
from tests.support.stubs import JOE_CREDENTIALS, joe

pytestmark = pytest.mark.world(kind=World, aws_credentials=JOE_CREDENTIALS)


# ---------------------------------------------------------------------------------------
# MfaCodes: --mfa-token, then mfa_process, then the terminal


@dataclass
class FakeTerminal:
    """A terminal that answers ``readline`` from a list ("" once the list is used up)."""

    answers: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    reads: int = 0
    closed: bool = False

    def write(self, text: str) -> None:
        assert not self.closed
        self.written.append(text)

    def readline(self) -> str:
        assert not self.closed
        self.reads += 1
        return self.answers[self.reads - 1] if self.reads <= len(self.answers) else ""

    def close(self) -> None:
        self.closed = True


PROMPT = f"MFA code for {SERIAL} (profile company): "


RE_ASK = "An MFA code is 6 digits.\n"


def opens(terminal: FakeTerminal, opened: list[FakeTerminal]) -> Callable[[], Terminal]:
    def open_tty() -> Terminal:
        opened.append(terminal)
        return terminal

    return open_tty


def no_tty() -> Terminal:
    raise OSError(6, "No such device or address")


def must_not_open() -> Terminal:
    raise AssertionError("the terminal must not be opened")


def python(code: str, *args: str) -> str:
    """An mfa_process command line running ``code`` with this Python."""
    return shlex.join([sys.executable, "-c", code, *args])


def test_given_code_is_used_once_then_the_terminal_is_asked() -> None:
    terminal = FakeTerminal(["654321\n"])
    opened: list[FakeTerminal] = []
    codes = MfaCodes(" 123456\n", open_tty=opens(terminal, opened))

    assert codes(SERIAL, "company", None) == "123456"
    assert opened == []

    assert codes(SERIAL, "company", None) == "654321"
    assert opened == [terminal]
    assert terminal.written == [PROMPT]
    assert terminal.closed


def test_given_code_is_used_once_then_mfa_process_is_run() -> None:
    codes = MfaCodes("123456", open_tty=must_not_open)

    assert codes(SERIAL, "company", python("print('111111')")) == "123456"
    assert codes(SERIAL, "company", python("print('222222')")) == "222222"


@pytest.mark.parametrize("given", ["12345", "1234567", "abcdef", "12 345", "", "123456x"])
def test_malformed_given_code_is_an_mfa_error(given: str) -> None:
    codes = MfaCodes(given, open_tty=must_not_open)

    with pytest.raises(MfaError) as caught:
        codes(SERIAL, "company", None)

    assert str(caught.value) == f"--mfa-token: {given.strip()!r} is not a 6-digit code"
    assert caught.value.exit_code == 9


def test_mfa_process_prints_the_code_and_the_terminal_is_not_opened() -> None:
    codes = MfaCodes(open_tty=must_not_open)

    assert codes(SERIAL, "company", python("print('123456')")) == "123456"


def test_mfa_process_is_split_with_shlex_and_run_without_a_shell() -> None:
    codes = MfaCodes(open_tty=must_not_open)
    # a shell would run `echo 999999` too and two lines would not be one code; without a
    # shell, ";" "echo" "999999" are only arguments of the Python program
    command = python("import sys; print(sys.argv[1])", "654321") + " ; echo 999999"

    assert codes(SERIAL, "company", command) == "654321"


def test_mfa_process_with_a_quoted_program_path(tmp_path: Path) -> None:
    program = tmp_path / "my tools" / "otp"
    program.parent.mkdir()
    program.write_text(f"#!{sys.executable}\nprint('  246810  ')\n")
    program.chmod(0o755)

    command = f"'{program}' --account 'AWS joe'"

    assert MfaCodes(open_tty=must_not_open)(SERIAL, "company", command) == "246810"


def _process_error(command: str) -> MfaError:
    with pytest.raises(MfaError) as caught:
        MfaCodes(open_tty=must_not_open)(SERIAL, "company", command)
    assert caught.value.exit_code == 9
    return caught.value


def test_mfa_process_exiting_non_zero_is_a_clear_error() -> None:
    command = python("import sys; print('123456'); sys.exit(3)")

    error = _process_error(command)

    assert str(error) == (
        f"profile 'company': mfa_process {command!r} (for {SERIAL}): failed with exit status 3"
    )


@pytest.mark.parametrize(
    "output", ["touch your YubiKey", "12345", "123456\n654321", "", "code: 123456"]
)
def test_mfa_process_printing_no_code_is_a_clear_error(output: str) -> None:
    command = python("import sys; sys.stdout.write(sys.argv[1])", output)

    error = _process_error(command)

    assert str(error) == (
        f"profile 'company': mfa_process {command!r} (for {SERIAL}): printed no 6-digit code"
    )


def test_mfa_process_not_found_is_a_clear_error(tmp_path: Path) -> None:
    command = f"{tmp_path}/no-such-ykman oath accounts code"

    error = _process_error(command)

    assert str(error) == (
        f"profile 'company': mfa_process {command!r} (for {SERIAL}): command not found"
    )


def test_mfa_process_not_executable_is_a_clear_error(tmp_path: Path) -> None:
    program = tmp_path / "otp"
    program.write_text("#!/bin/sh\necho 123456\n")
    program.chmod(0o644)

    error = _process_error(str(program))

    assert str(error) == (
        f"profile 'company': mfa_process {str(program)!r} (for {SERIAL}): cannot run: "
        "Permission denied"
    )


def test_mfa_process_timeout_is_a_clear_error() -> None:
    seen: list[tuple[list[str], dict[str, Any]]] = []

    def run(argv: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        seen.append((argv, options))
        raise subprocess.TimeoutExpired(argv, PROCESS_TIMEOUT)

    codes = MfaCodes(open_tty=must_not_open, run=run)

    with pytest.raises(MfaError) as caught:
        codes(SERIAL, "company", "ykman oath accounts code --single 'AWS joe'")

    assert str(caught.value) == (
        "profile 'company': mfa_process \"ykman oath accounts code --single 'AWS joe'\" "
        f"(for {SERIAL}): no answer after 120 s"
    )
    assert seen == [
        (
            ["ykman", "oath", "accounts", "code", "--single", "AWS joe"],
            {
                "stdout": subprocess.PIPE,
                "stdin": subprocess.DEVNULL,
                "text": True,
                "timeout": 120,
                "check": False,
            },
        )
    ]


def test_terminal_accepts_a_good_code_and_is_closed() -> None:
    terminal = FakeTerminal(["  123456 \n"])
    opened: list[FakeTerminal] = []

    assert MfaCodes(open_tty=opens(terminal, opened))(SERIAL, "company", None) == "123456"

    assert opened == [terminal]
    assert terminal.written == [PROMPT]
    assert terminal.reads == 1
    assert terminal.closed


def test_terminal_re_asks_on_a_malformed_code() -> None:
    terminal = FakeTerminal(["12345\n", "\n", "123456\n"])

    assert MfaCodes(open_tty=opens(terminal, []))(SERIAL, "company", None) == "123456"

    assert terminal.written == [PROMPT, RE_ASK, PROMPT, RE_ASK, PROMPT]
    assert terminal.reads == 3
    assert terminal.closed


def test_terminal_gives_up_after_three_bad_codes() -> None:
    terminal = FakeTerminal(["1\n", "abcdef\n", "1234567\n", "123456\n"])

    with pytest.raises(MfaError) as caught:
        MfaCodes(open_tty=opens(terminal, []))(SERIAL, "company", None)

    assert str(caught.value) == f"profile 'company': no valid MFA code entered for {SERIAL}"
    assert caught.value.exit_code == 9
    assert terminal.reads == 3  # the fourth (good) answer is never read
    assert terminal.written == [PROMPT, RE_ASK, PROMPT, RE_ASK, PROMPT, RE_ASK]
    assert terminal.closed


def test_terminal_end_of_input_is_an_error_at_once() -> None:
    terminal = FakeTerminal([])

    with pytest.raises(MfaError) as caught:
        MfaCodes(open_tty=opens(terminal, []))(SERIAL, "company", None)

    assert str(caught.value) == f"profile 'company': no valid MFA code entered for {SERIAL}"
    assert terminal.reads == 1
    assert terminal.written == [PROMPT]
    assert terminal.closed


def test_terminal_re_asks_on_non_ascii_digits() -> None:
    terminal = FakeTerminal(["\uff11\uff12\uff13\uff14\uff15\uff16\n", "123456\n"])  # fullwidth

    assert MfaCodes(open_tty=opens(terminal, []))(SERIAL, "company", None) == "123456"

    assert terminal.written == [PROMPT, RE_ASK, PROMPT]


UNLOCK_HINT = (
    f"profile 'company' needs an MFA code for {SERIAL} and there is no terminal to ask: run "
    "`rolehop env company` in a terminal first (the session is then cached), or set "
    "mfa_process to a command that prints the code"
)


def test_no_terminal_fails_at_once_with_the_unlock_hint() -> None:
    started = time.monotonic()

    with pytest.raises(MfaError) as caught:
        MfaCodes(open_tty=no_tty)(SERIAL, "company", None)

    assert time.monotonic() - started < 2
    assert str(caught.value) == UNLOCK_HINT
    assert caught.value.exit_code == 9


def test_no_controlling_terminal_for_real_fails_within_two_seconds() -> None:
    """The real /dev/tty, in a process started in a new session (so with no terminal)."""
    script = (
        "from rolehop.errors import MfaError\n"
        "from rolehop.engine.mfa import MfaCodes\n"
        "try:\n"
        f"    MfaCodes()({SERIAL!r}, 'company', None)\n"
        "except MfaError as error:\n"
        "    print(error.exit_code, error)\n"
    )
    started = time.monotonic()

    done = subprocess.run(
        [sys.executable, "-c", script],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )

    assert time.monotonic() - started < 2
    assert (done.returncode, done.stdout, done.stderr) == (0, f"9 {UNLOCK_HINT}\n", "")


def test_no_terminal_through_rolehop_makes_no_sts_call_after_the_failure(world: World) -> None:
    world.sandbox.write_rolehop(THREE_ROLES)
    world.sts.expect(lambda stubber: None)  # the GetSessionToken client: never called
    app = world.context(keys=world.stored_keys(), mfa_codes=MfaCodes(open_tty=no_tty))

    with pytest.raises(MfaError) as caught:
        resolve(app, "company")

    assert str(caught.value) == UNLOCK_HINT
    assert world.sts.calls == [(joe(), None)]
    world.sts.verify()
    assert world.keyring.items == {}
