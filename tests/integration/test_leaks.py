"""No secret leaks (issue 4, Secrets): every command, with ``--debug``, against moto, then a
search for Joe's secret access key and every issued secret access key and session token.

They may be only where they are meant to be: the stdout of ``env``, ``credential-process``
and of the child of ``exec``, and the keyring, a JSON file in these tests. Everywhere else
is searched: every file under the sandbox HOME and ``tmp_path`` (the TMPDIR and working
directory of the processes are there), rolehop's platformdirs directories, the stderr of
every command, the stdout of the commands that print no credentials, and the argv of every
process rolehop starts. Those children (``mfa_process``, an AWS profile's
``credential_process``, the command of ``exec``, the browser of ``login``) are one recorder
script, which logs its argv and the names (not the values) of its environment variables, then
does its job. ``login``'s sign-in token (a fake federation endpoint's) is looked for too: it
may be only on the stdout of ``login --print``.

The profiles cover each way a secret travels: Joe's keys from the keyring (research-ro), MFA
on the role (research-mfa), a ``credential_process`` base with an MFA session, so
GetSessionToken and a request signed with a session token (research-proc), and a second hop
from cached credentials (warehouse).

moto evaluates no trust policy: the refused call turns on moto's IAM enforcement
(``/moto-api/reset-auth``) for that one call, so that the refusal comes from Joe's own
policy, which allows sts:AssumeRole on the research role only.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rolehop.features.demo import JOE_ARN, RESEARCH, ROLE_ARN, Emulator
from rolehop.shell import SHELLS
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML, WAREHOUSE, WAREHOUSE_ARN, WAREHOUSE_ROLE
from tests.support.federation import FakeFederation, fake_federation
from tests.support.leaks import Secrets, app_dirs, files_under, moto_issued
from tests.support.tools import run_captured

SERIAL = "arn:aws:iam::444455556666:mfa/joe"
CODE = "123456"
DENIED_ROLE = "Not-For-Joe"
DENIED_ARN = f"arn:aws:iam::{RESEARCH}:role/{DENIED_ROLE}"
PROCESS_VARIABLE = "LEAKTEST_JOE_CREDENTIALS"  # what the credential_process recorder prints
SECRET_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
BUDGET = 30  # seconds for the whole test

RECORDER = """\
#!{python}
import json, os, sys

with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": sys.argv, "env": sorted(os.environ)}}) + "\\n")
job = sys.argv[1] if len(sys.argv) > 1 else ""
if job == "mfa":
    print({code!r})
elif job == "credentials":
    print(os.environ[{variable!r}])
elif job == "exec":
    print(json.dumps({{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}))
elif job == "server":  # fetch from the endpoint as an SDK would; show the AWS_* variables
    import http.client, urllib.parse
    address = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
    connection = http.client.HTTPConnection(address.netloc, timeout=10)
    token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    connection.request("GET", address.path, headers={{"Authorization": token}})
    status = connection.getresponse().status
    aws = {{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
    print(json.dumps({{"status": status, "env": aws}}))
elif job == "browser":  # fetch the address given, as a browser would; not the redirect
    import http.client, urllib.parse
    address = urllib.parse.urlsplit(sys.argv[2])
    connection = http.client.HTTPConnection(address.netloc, timeout=10)
    connection.request("GET", address.path)
    connection.getresponse().read()
else:
    sys.exit("recorder: unknown job " + repr(job))
"""


@dataclass(frozen=True)
class Recorder:
    """The child process rolehop starts: ``PATH JOB``; it appends a line to ``log``."""

    path: Path
    log: Path

    def command(self, job: str) -> str:
        return f"{self.path} {job}"

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def jobs(self) -> list[str]:
        return sorted(entry["argv"][1] for entry in self.entries())


@dataclass(frozen=True)
class Ran:
    """One rolehop command: its output, and whose credentials its stdout is meant to hold."""

    what: str
    result: subprocess.CompletedProcess[str]
    gives: str | None = None


@pytest.fixture
def env(moto: Emulator, sandbox: Sandbox, subprocess_env: dict[str, str]) -> dict[str, str]:
    """The sandbox environment with moto's endpoint and a TMPDIR under tmp_path."""
    tmp = sandbox.root / "tmpdir"
    tmp.mkdir()
    return {**subprocess_env, "AWS_ENDPOINT_URL": moto.url, "TMPDIR": str(tmp)}


@pytest.fixture
def recorder(sandbox: Sandbox) -> Recorder:
    folder = sandbox.root / "bin"
    folder.mkdir()
    path = folder / "recorder"
    log = sandbox.root / "recorder.log"
    path.write_text(
        RECORDER.format(python=sys.executable, log=str(log), code=CODE, variable=PROCESS_VARIABLE)
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return Recorder(path, log)


@pytest.fixture
def federation() -> Iterator[FakeFederation]:
    with fake_federation() as fake:
        yield fake


@contextmanager
def iam_enforced(url: str) -> Iterator[None]:
    """moto checks signatures and IAM policies (not trust policies) until the block ends."""

    def reset_auth(count: str) -> str:
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{url}/moto-api/reset-auth",
            data=count.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            previous: str = json.load(response)["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]
        return previous

    previous = reset_auth("0")
    try:
        yield
    finally:
        reset_auth(previous)


def _trusting(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _setup(
    sandbox: Sandbox, moto: Emulator, recorder: Recorder, federation: FakeFederation
) -> dict[str, str]:
    """Joe (his key in no file), the warehouse role, one Joe may not assume, the profiles."""
    key = moto.seed()
    research = moto.client("iam", **moto.admin_of(RESEARCH))
    research.create_role(
        RoleName=DENIED_ROLE, AssumeRolePolicyDocument=_trusting("arn:aws:iam::999988887777:root")
    )
    warehouse = moto.client("iam", **moto.admin_of(WAREHOUSE))
    warehouse.create_role(RoleName=WAREHOUSE_ROLE, AssumeRolePolicyDocument=_trusting(ROLE_ARN))
    sandbox.write_rolehop(
        f"""\
        [profiles.research-ro]
        role_arn = "{ROLE_ARN}"
        source_profile = "joe"

        [profiles.research-mfa]
        role_arn = "{ROLE_ARN}"
        source_profile = "joe"
        role_session_name = "with-mfa"
        mfa_serial = "{SERIAL}"
        mfa_process = "{recorder.command("mfa")}"

        [profiles.research-proc]
        role_arn = "{ROLE_ARN}"
        source_profile = "joe-proc"
        role_session_name = "from-process"

        [profiles.joe-proc]
        mfa_serial = "{SERIAL}"
        mfa_process = "{recorder.command("mfa")}"

        [profiles.warehouse]
        role_arn = "{WAREHOUSE_ARN}"
        source_profile = "research-ro"

        [profiles.denied]
        role_arn = "{DENIED_ARN}"
        source_profile = "joe"

        [settings]
        federation_url = "{federation.url}"
        """
    )
    sandbox.write_aws_config(
        f"""\
        [profile joe-proc]
        credential_process = {recorder.command("credentials")}
        """
    )
    assert not sandbox.aws_credentials.exists()
    return key


def _mfa_session(moto: Emulator) -> dict[str, Any]:
    """What moto's GetSessionToken issues: the same credentials every time."""
    sts = moto.client("sts", aws_access_key_id="leaktest", aws_secret_access_key="leaktest")
    issued: dict[str, Any] = sts.get_session_token()["Credentials"]
    return issued


def test_no_secret_leaks_from_any_command(
    sandbox: Sandbox,
    moto: Emulator,
    env: dict[str, str],
    recorder: Recorder,
    federation: FakeFederation,
) -> None:
    started = time.monotonic()
    key = _setup(sandbox, moto, recorder, federation)
    workdir = sandbox.root / "cwd"
    workdir.mkdir()
    keyring_file = Path(env["ROLEHOP_TEST_KEYRING"])
    runs: list[Ran] = []

    def rolehop(
        *args: str, gives: str | None = None, code: int = 0, extra: dict[str, str] | None = None
    ) -> str:
        """Run ``rolehop --debug ARGS``; its stdout."""
        command = [sys.executable, "-m", "rolehop", "--debug", *args]
        result = run_captured(command, {**env, **(extra or {})}, cwd=workdir)
        assert result.returncode == code, f"{args}: {result.stderr[-3000:]}"
        runs.append(Ran(" ".join(args), result, gives))
        return result.stdout

    def credentials(profile: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            rolehop("credential-process", profile, gives=profile, extra=extra)
        )
        return document

    # keys from the environment, checked against STS
    joe_env = {"AWS_ACCESS_KEY_ID": key["id"], "AWS_SECRET_ACCESS_KEY": key["secret"]}
    assert rolehop("keys", "add", "joe", "--from-env", extra=joe_env) == ""
    assert f"they act as {JOE_ARN}" in runs[-1].result.stderr

    listed = json.loads(rolehop("list", "--json"))["profiles"]
    assert {row["name"]: row["credentials"] for row in listed}["research-ro"] == "keyring"
    assert "research-ro" in rolehop("list")
    assert f"…{key['id'][-4:]}" in rolehop("keys", "list")

    # credential-process: a miss, then a hit; env in every shell and exec are hits too
    before = moto.assume_role_calls()
    research = credentials("research-ro")
    assert credentials("research-ro") == research
    assert moto.assume_role_calls() == before + 1
    for shell in SHELLS:
        exported = rolehop("env", "research-ro", "--shell", shell, gives="research-ro")
        assert research["SessionToken"] in exported
    child = json.loads(
        rolehop("exec", "research-ro", "--", str(recorder.path), "exec", gives="research-ro")
    )
    assert child["AWS_SECRET_ACCESS_KEY"] == research["SecretAccessKey"]
    assert child["AWS_SESSION_TOKEN"] == research["SessionToken"]
    assert moto.assume_role_calls() == before + 1
    # exec --server: the child gets an endpoint and a token, never a key
    served = json.loads(
        rolehop("exec", "--server", "research-ro", "--", str(recorder.path), "server")
    )
    assert served["status"] == 200 and "AWS_CONTAINER_AUTHORIZATION_TOKEN" in served["env"]

    # MFA on the role; a credential_process base with an MFA session; a second hop
    by_mfa = credentials("research-mfa")
    printed = {"Version": 1, "AccessKeyId": key["id"], "SecretAccessKey": key["secret"]}
    by_process = credentials("research-proc", extra={PROCESS_VARIABLE: json.dumps(printed)})
    assert recorder.jobs() == ["credentials", "exec", "mfa", "mfa", "server"]
    chained = credentials("warehouse")
    assert "x-amz-security-token" in runs[-1].result.stderr.lower()  # a signed session token
    assert moto.assume_role_calls() == before + 4

    # login: the sign-in URL printed; then a browser given a one-time address only
    assert federation.token in rolehop("login", "research-ro", "--print")
    assert rolehop("login", "research-ro", extra={"BROWSER": f"{recorder.path} browser %s"}) == ""
    assert [request.session for request in federation.requests] == 2 * [
        {
            "sessionId": research["AccessKeyId"],
            "sessionKey": research["SecretAccessKey"],
            "sessionToken": research["SessionToken"],
        }
    ]
    assert moto.assume_role_calls() == before + 4

    secrets = Secrets()
    secrets.add("joe SecretAccessKey", key["secret"])
    secrets.add_credentials("MFA session", _mfa_session(moto))
    for profile, document in (
        ("research-ro", research),
        ("research-mfa", by_mfa),
        ("research-proc", by_process),
        ("warehouse", chained),
    ):
        secrets.add_credentials(profile, document)
    assert len(secrets) == 11

    # the scan finds secrets where they are: in the keyring, which is a file in these tests
    assert secrets.owners(keyring_file.read_bytes()) == set(secrets.labels)
    assert set(secrets.in_files([keyring_file])) == {str(keyring_file)}

    # refused: the research account has a role that Joe may not assume
    with iam_enforced(moto.url):
        assert rolehop("credential-process", "denied", code=5) == ""
    assert f"AccessDenied assuming {DENIED_ARN}" in runs[-1].result.stderr
    assert "Traceback" in runs[-1].result.stderr  # --debug shows it

    assert rolehop("cache", "clear").startswith("removed 5 cached credentials")
    assert rolehop("keys", "remove", "joe", "--yes") == ""
    assert "removed keys 'joe'" in runs[-1].result.stderr

    # everything moto's STS issued is a secret too (the emulator's own sessions included)
    sessions = moto_issued(moto.url)
    secrets.add_sessions(sessions)
    handed_out = [research, by_mfa, by_process, chained]
    assert {doc["SessionToken"] for doc in handed_out} <= {s["session_token"] for s in sessions}
    assert len(secrets) == 2 * len(sessions) + 3  # Joe's key and the MFA session besides

    # the scan sees every form of a secret it looks for, and not a near miss
    token = research["SessionToken"]
    assert secrets.owners(f"x{token}x") == {"research-ro SessionToken"}
    assert secrets.owners(urllib.parse.quote(token, safe="")) == {"research-ro SessionToken"}
    assert secrets.owners(token[40:120]) == {"research-ro SessionToken"}
    assert secrets.owners(key["secret"][:-1]) == set()

    # intended outputs hold their own profile's credentials, and nothing else
    for ran in runs:
        if ran.gives is not None:
            expected = {f"{ran.gives} SecretAccessKey", f"{ran.gives} SessionToken"}
            assert secrets.owners(ran.result.stdout) == expected, ran.what

    # ...every other output holds none, --debug logs included
    outputs: dict[str, str] = {}
    for number, ran in enumerate(runs):
        assert " DEBUG " in ran.result.stderr, ran.what
        outputs[f"#{number:02d} {ran.what}: stderr"] = ran.result.stderr
        if ran.gives is None:
            outputs[f"#{number:02d} {ran.what}: stdout"] = ran.result.stdout
    assert secrets.in_texts(outputs) == {}
    # the sign-in token: only on the stdout of login --print, nowhere else from here on
    assert [ran.what for ran in runs if federation.token in ran.result.stdout] == [
        "login research-ro --print"
    ]
    assert not any(federation.token in ran.result.stderr for ran in runs)
    secrets.add("SigninToken", federation.token)

    # ...nor the argv of a child; and only exec's child has credentials in its environment
    entries = recorder.entries()
    assert recorder.jobs() == ["browser", "credentials", "exec", "mfa", "mfa", "server"]
    argv = {f"child {n} argv": json.dumps(entry["argv"]) for n, entry in enumerate(entries)}
    assert secrets.in_texts(argv) == {}
    assert secrets.in_texts({"exec --server child's AWS_* variables": json.dumps(served)}) == {}
    for entry in entries:
        if entry["argv"][1] != "exec":
            assert not SECRET_VARIABLES & set(entry["env"]), entry["argv"]

    # ...nor any file: HOME, tmp_path (TMPDIR, the working directory, the recorder's log),
    # rolehop's platformdirs directories; only the keyring may, and after cache clear and
    # keys remove, not even the keyring
    dirs = app_dirs(env)
    for name, path in dirs.items():
        assert path.is_relative_to(sandbox.root), (name, path)
    files = files_under(
        [sandbox.home, sandbox.root, Path(env["TMPDIR"]), *dirs.values()], exclude=[keyring_file]
    )
    assert recorder.log.resolve() in files  # the scan is not empty
    assert sandbox.aws_config.resolve() in files
    assert any(path.suffix == ".lock" for path in files)  # rolehop's own files are there
    assert secrets.in_files(files) == {}
    assert secrets.in_files([keyring_file]) == {}

    assert time.monotonic() - started < BUDGET


def test_no_secret_leaks_through_the_agent(
    sandbox: Sandbox, moto: Emulator, env: dict[str, str], joe: dict[str, str]
) -> None:
    """The agent's way: misses, hits, env, cache and agent commands with --debug; then the
    files, every output but the intended ones, and the agent's own argv and environment."""
    from rolehop.agent import client

    sandbox.write_rolehop(RESEARCH_RO_TOML)
    agent_env = {**env, "ROLEHOP_AGENT": "1"}
    # the caller's own credentials must not reach the agent's environment
    caller = {"AWS_ACCESS_KEY_ID": "AKIACALLEREXAMPLE", "AWS_SECRET_ACCESS_KEY": "caller-" * 6}
    runs: list[tuple[str, subprocess.CompletedProcess[str], bool]] = []

    def rolehop(*args: str, intended: bool = False, debug: bool = True) -> str:
        flags = ["--debug"] if debug else []  # without: the agent may make credentials itself
        result = run_captured(
            [sys.executable, "-m", "rolehop", *flags, *args], {**agent_env, **caller}
        )
        assert result.returncode == 0, f"{args}: {result.stderr[-2000:]}"
        runs.append((" ".join(args), result, intended))
        return result.stdout

    try:
        first = json.loads(rolehop("credential-process", "research-ro", intended=True))
        deadline = time.monotonic() + 15
        while (status := client.status(agent_env)) is None:
            assert time.monotonic() < deadline, "no agent started"
            time.sleep(0.05)
        assert json.loads(rolehop("credential-process", "research-ro", intended=True)) == first
        for shell in SHELLS:
            rolehop("env", "research-ro", "--shell", shell, intended=True)
        rolehop("credential-process", "research-ro", "--refresh", intended=True)
        rolehop("cache", "clear")
        rolehop("credential-process", "research-ro", intended=True, debug=False)
        rolehop("cache", "list")
        rolehop("agent", "status", "--json")
        served = client.status(agent_env)
        assert served is not None and served["served"]["hit"] == 1 + len(SHELLS)
        assert served["served"]["work"] == 1  # the agent made the last cold credentials
        pid = int(status["pid"])
        agent_argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        agent_environ = Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        client.stop(agent_env)

    secrets = Secrets()
    secrets.add("joe SecretAccessKey", joe["secret"])
    secrets.add("the caller's SecretAccessKey", caller["AWS_SECRET_ACCESS_KEY"])
    secrets.add_sessions(moto_issued(moto.url))
    assert secrets.owners(json.dumps(first))  # the scan knows what was handed out

    outputs = {f"{what}: stderr": result.stderr for what, result, _ in runs}
    outputs |= {f"{what}: stdout": result.stdout for what, result, intended in runs if not intended}
    assert secrets.in_texts(outputs) == {}
    assert secrets.in_texts({"agent argv": agent_argv, "agent environ": agent_environ}) == {}
    keyring_file = Path(env["ROLEHOP_TEST_KEYRING"])
    # Joe's key is in ~/.aws/credentials by this setup's choice; the keyring is a file here
    where_they_belong = [keyring_file, sandbox.aws_credentials]
    files = files_under([sandbox.root, *app_dirs(env).values()], exclude=where_they_belong)
    assert any(path.name.endswith(".sock.lock") for path in files)  # the agent's own files
    assert secrets.in_files(files) == {}
