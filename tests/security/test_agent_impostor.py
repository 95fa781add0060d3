"""Another local user listens where the victim's agent would: the victim never talks to it.

The victim is the test process (root, as CI runs) and the ``rolehop`` it starts; the other
user runs a listener that answers every connection at once with a "cache hit" whose stdout
is shell code, then records what it receives. Whatever the place — a shared runtime
directory, the other user's own, or a socket moved into the victim's private directory —
rolehop must send it nothing, eval nothing, say so in one warning naming the path, and
answer from the direct path.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from rolehop import __version__
from rolehop.agent.protocol import PROTOCOL, socket_name
from rolehop.features.demo import Emulator
from tests.conftest import Sandbox
from tests.security.conftest import OtherUser
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import run_captured

# The other user's listener: answers every connection with a hit that would run a payload,
# then records how many bytes the client sent. argv: socket path, report path, payload.
LISTENER = """\
import json, os, socket, sys
path, report, payload = sys.argv[1], sys.argv[2], sys.argv[3]
if os.path.dirname(path) and not os.path.isdir(os.path.dirname(path)):
    os.makedirs(os.path.dirname(path), mode=0o755)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o777)
server.listen(16)
print("ready", flush=True)
while True:
    connection, _ = server.accept()
    with connection:
        answer = {"v": PROTOCOL, "version": VERSION, "ok": True, "hit": True,
                  "stdout": payload, "stderr": "", "code": 0}
        try:
            connection.sendall(json.dumps(answer).encode() + b"\\n")
        except OSError:
            pass
        connection.settimeout(1.0)
        received = b""
        try:
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        except OSError:
            pass
    with open(report, "a") as out:
        out.write(json.dumps({"bytes": len(received), "text": received.decode("latin-1")}) + "\\n")
""".replace("PROTOCOL", str(PROTOCOL)).replace("VERSION", repr(__version__))

SECRET_TOKEN = "ghp_victimsGitHubTokenThatMustNeverLeave000"


@pytest.fixture
def victim(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> dict[str, str]:
    """The victim's environment: the agent on, a token of another service beside it."""
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    return {**subprocess_env, "ROLEHOP_AGENT": "1", "GITHUB_TOKEN": SECRET_TOKEN}


def _program() -> str:
    found = shutil.which("rolehop", path=os.path.dirname(sys.executable))
    assert found, "the rolehop script is not installed next to this Python"
    return found


class Impostor:
    def __init__(self, other_user: OtherUser, path: Path) -> None:
        self.path = path
        self.marker = other_user.scratch / "pwned"
        self.report = other_user.scratch / "report.jsonl"
        payload = f"touch {self.marker}; echo PWNED\n"
        self.process = other_user.start_python(LISTENER, str(path), str(self.report), payload)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "ready", self.process.stderr.read() if self.process.stderr else ""

    def connections(self) -> list[dict[str, object]]:
        if not self.report.exists():
            return []
        return [json.loads(line) for line in self.report.read_text().splitlines()]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def _run_all(env: dict[str, str]) -> list[tuple[int, str, str]]:
    outcomes = []
    for args in (("env", "research-ro", "--shell", "bash"), ("credential-process", "research-ro")):
        done = run_captured([_program(), *args], env)
        outcomes.append((done.returncode, done.stdout, done.stderr))
    return outcomes


def _assert_direct_answers(outcomes: list[tuple[int, str, str]], place: Path) -> None:
    (env_code, env_out, env_err), (cp_code, cp_out, cp_err) = outcomes
    assert env_code == 0 and cp_code == 0, (env_err, cp_err)
    assert "export AWS_SESSION_TOKEN=" in env_out and "PWNED" not in env_out
    assert json.loads(cp_out)["Version"] == 1 and "PWNED" not in cp_out
    for stderr in (env_err, cp_err):
        warnings = [line for line in stderr.splitlines() if "not using the agent" in line]
        assert len(warnings) == 1, stderr
        assert warnings[0].startswith("rolehop: warning: not using the agent: ")
        assert str(place) in warnings[0]


def test_an_impostor_in_a_shared_runtime_directory_gets_nothing(
    victim: dict[str, str], other_user: OtherUser, shared_dir: Path
) -> None:
    env = {**victim, "XDG_RUNTIME_DIR": str(shared_dir)}
    impostor = Impostor(other_user, shared_dir / "rolehop" / socket_name(env))
    try:
        outcomes = _run_all(env)
    finally:
        impostor.stop()

    _assert_direct_answers(outcomes, shared_dir)
    assert impostor.connections() == []  # never even connected
    assert not impostor.marker.exists()


def test_an_impostor_in_the_other_users_runtime_directory_gets_nothing(
    victim: dict[str, str], other_user: OtherUser
) -> None:
    """``su`` without ``-`` keeps the previous user's XDG_RUNTIME_DIR."""
    theirs = other_user.scratch / "run"
    other_user.run_python(f"import os; os.mkdir({str(theirs)!r}, 0o700)").check_returncode()
    env = {**victim, "XDG_RUNTIME_DIR": str(theirs)}
    impostor = Impostor(other_user, theirs / "rolehop" / socket_name(env))
    try:
        outcomes = _run_all(env)
    finally:
        impostor.stop()

    _assert_direct_answers(outcomes, theirs)
    assert impostor.connections() == []
    assert not impostor.marker.exists()


def test_a_socket_of_another_user_in_the_victims_own_directory_gets_not_a_byte(
    victim: dict[str, str], other_user: OtherUser, sandbox: Sandbox
) -> None:
    """The directory is the victim's, but the process listening is not: a socket moved
    there (or a directory swapped after it was checked). The peer's uid decides."""
    env = victim
    ours = Path(env["XDG_RUNTIME_DIR"]) / "rolehop"
    ours.mkdir(mode=0o700)
    staged = other_user.scratch / "staged.sock"
    impostor = Impostor(other_user, staged)
    target = ours / socket_name(env)
    os.rename(staged, target)
    impostor.path = target
    try:
        outcomes = _run_all(env)
        deadline = time.monotonic() + 5
        while len(impostor.connections()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        impostor.stop()

    _assert_direct_answers(outcomes, target)
    seen = impostor.connections()
    assert seen, "the victim never connected: this test would prove nothing"
    assert all(connection["bytes"] == 0 for connection in seen), seen
    assert not impostor.marker.exists()
