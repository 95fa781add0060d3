"""Failures end in one clear line and the right exit code, fast: never a hang or traceback."""

from __future__ import annotations

import socket
import sys
import time

from rolehop.features.demo import ROLE_ARN, Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import require_tool, run_captured

ROLE = 'role_arn = "arn:aws:iam::111122223333:role/r"\n'


def _one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_credential_process_pointing_back_at_rolehop_fails_fast(
    sandbox: Sandbox, run_rolehop: RunRolehop
) -> None:
    sandbox.write_aws_config(
        f"""\
        [profile x]
        role_arn = {ROLE_ARN}
        source_profile = y

        [profile y]
        credential_process = {sys.executable} -m rolehop credential-process x
        """
    )
    started = time.monotonic()
    result = run_rolehop("credential-process", "x")
    assert time.monotonic() - started < 20
    assert result.returncode == 6
    line = _one_line(result.stderr)
    assert line.startswith("rolehop: error: profile 'x': source profile 'y'")
    assert "credential_process loop: resolving 'x'" in line
    assert result.stdout == ""


def test_credential_process_printing_garbage(sandbox: Sandbox, run_rolehop: RunRolehop) -> None:
    sandbox.write_aws_config(f"[profile y]\ncredential_process = {sys.executable} -c print(42)\n")
    sandbox.write_rolehop(f'[profiles.x]\n{ROLE}source_profile = "y"\n')
    result = run_rolehop("credential-process", "x")
    assert result.returncode == 6
    assert _one_line(result.stderr).startswith("rolehop: error: profile 'x': source profile 'y'")


def _static_base(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials("[b]\naws_access_key_id = AKIAB\naws_secret_access_key = s\n")
    sandbox.write_rolehop(f'[profiles.x]\n{ROLE}source_profile = "b"\n')


def test_invalid_endpoint_url(sandbox: Sandbox, run_rolehop: RunRolehop) -> None:
    _static_base(sandbox)
    result = run_rolehop("credential-process", "x", env={"AWS_ENDPOINT_URL": "notaurl"})
    assert result.returncode == 3
    assert "cannot create an STS client" in _one_line(result.stderr)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_endpoint_fails_fast(sandbox: Sandbox, run_rolehop: RunRolehop) -> None:
    _static_base(sandbox)
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    result = run_rolehop("credential-process", "x", env={"AWS_ENDPOINT_URL": url})
    assert time.monotonic() - started < 15
    assert result.returncode == 7
    line = _one_line(result.stderr)
    assert line.startswith(f"rolehop: error: profile 'x': cannot reach the STS endpoint {url}")


def test_tls_to_a_plain_http_server_is_a_network_error(
    sandbox: Sandbox, moto: Emulator, run_rolehop: RunRolehop
) -> None:
    _static_base(sandbox)
    url = moto.url.replace("http://", "https://")
    result = run_rolehop("credential-process", "x", env={"AWS_ENDPOINT_URL": url})
    assert result.returncode == 7
    assert "cannot reach the STS endpoint" in _one_line(result.stderr)


def test_a_read_only_home_without_a_runtime_directory_works_with_one_warning(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> None:
    """Locks go to ~/.cache when there is no XDG_RUNTIME_DIR; a read-only HOME (a locked
    down container) made that an internal error (exit 70). Now: no locks, one warning."""
    unshare = require_tool("unshare")
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    env = {key: value for key, value in subprocess_env.items() if key != "XDG_RUNTIME_DIR"}
    home = sandbox.home
    assert not (home / ".cache").exists()
    # a private mount namespace: HOME read-only for this command only (root ignores modes)
    script = 'mount --bind -o ro "$HOME" "$HOME" && exec "$@"'
    argv = [unshare, "--mount", "sh", "-c", script, "sh", sys.executable, "-m", "rolehop"]

    done = run_captured([*argv, "env", "research-ro", "--refresh", "--shell", "bash"], env)

    assert done.returncode == 0, done.stderr
    assert "export AWS_SESSION_TOKEN=" in done.stdout
    line = _one_line(done.stderr)
    assert line.startswith("rolehop: warning: not using the lock directory: ")
    assert "Read-only file system" in line and str(home / ".cache") in line
    assert not (home / ".cache").exists()
