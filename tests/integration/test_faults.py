"""Failures end in one clear line and the right exit code, fast: never a hang or traceback."""

from __future__ import annotations

import socket
import sys
import time

from rolehop.demo import ROLE_ARN, Emulator
from tests.conftest import RunRolehop, Sandbox

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
