"""Where an MFA code comes from: ``--mfa-token``, then ``mfa_process``, then the terminal.

The terminal is ``/dev/tty``, not stdin/stdout: under ``credential_process`` both are pipes
to the AWS CLI, yet the user at the terminal can still be asked. With no terminal and no
``mfa_process`` this fails at once with how to unlock, never waiting for input that
cannot come.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable
from typing import Protocol

from rolehop.errors import MfaError

CODE = re.compile(r"[0-9]{6}")  # not \d: it would take other scripts' digits
PROCESS_TIMEOUT = 120  # seconds: long enough to touch a YubiKey
ATTEMPTS = 3


class Terminal(Protocol):
    def write(self, text: str) -> None: ...

    def readline(self) -> str: ...

    def close(self) -> None: ...


class DevTty:
    """The controlling terminal, read and written directly (a tty cannot seek, so no
    buffered ``open(..., "r+")``)."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)

    def write(self, text: str) -> None:
        os.write(self.fd, text.encode("utf-8"))

    def readline(self) -> str:
        data = b""
        while not data.endswith(b"\n"):
            chunk = os.read(self.fd, 1024)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", errors="replace")

    def close(self) -> None:
        os.close(self.fd)


class MfaCodes:
    """A callable giving the code for one MFA device, asked at most once per call."""

    def __init__(
        self,
        given: str | None = None,
        *,
        open_tty: Callable[[], Terminal] = DevTty,
        run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    ) -> None:
        self._given = given
        self._open_tty = open_tty
        self._run = run

    def __call__(self, serial: str, profile: str, mfa_process: str | None) -> str:
        if self._given is not None:
            code, self._given = self._given.strip(), None  # one code serves one call
            if not CODE.fullmatch(code):
                raise MfaError(f"--mfa-token: {code!r} is not a 6-digit code")
            return code
        if mfa_process:
            return self._from_process(serial, profile, mfa_process)
        return self._from_terminal(serial, profile)

    def _from_process(self, serial: str, profile: str, command: str) -> str:
        what = f"profile {profile!r}: mfa_process {command!r} (for {serial})"
        try:
            done = self._run(
                shlex.split(command),
                stdout=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=PROCESS_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise MfaError(f"{what}: command not found") from None
        except subprocess.TimeoutExpired:
            raise MfaError(f"{what}: no answer after {PROCESS_TIMEOUT} s") from None
        except OSError as error:
            raise MfaError(f"{what}: cannot run: {error.strerror}") from None
        if done.returncode != 0:
            raise MfaError(f"{what}: failed with exit status {done.returncode}")
        code = (done.stdout or "").strip()
        if not CODE.fullmatch(code):
            raise MfaError(f"{what}: printed no 6-digit code")
        return code

    def _from_terminal(self, serial: str, profile: str) -> str:
        try:
            tty = self._open_tty()
        except OSError:
            raise MfaError(
                f"profile {profile!r} needs an MFA code for {serial} and there is no terminal "
                f"to ask: run `rolehop env {profile}` in a terminal first (the session is "
                "then cached), or set mfa_process to a command that prints the code"
            ) from None
        try:
            for _ in range(ATTEMPTS):
                tty.write(f"MFA code for {serial} (profile {profile}): ")
                answer = tty.readline()
                if not answer:
                    break  # end of input: nobody is there to type
                code = answer.strip()
                if CODE.fullmatch(code):
                    return code
                tty.write("An MFA code is 6 digits.\n")
        finally:
            tty.close()
        raise MfaError(f"profile {profile!r}: no valid MFA code entered for {serial}")
