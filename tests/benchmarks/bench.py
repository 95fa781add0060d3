"""rolehop's start-up and STS costs, side by side with the floor, raw boto3, the AWS CLI and awsume.

Run it from the repository root with the project's virtualenv (``. .venv/bin/activate``)::

    python tests/benchmarks/bench.py                  # 20 runs per case: ~3-4 minutes
    python tests/benchmarks/bench.py --quick          # 3 runs (1 parallel batch): ~20 s
    python tests/benchmarks/bench.py --json out.json  # also write every sample as JSON

It prints a table; ``--json PATH`` also writes the results (nothing is written otherwise).
The exit status is 1 when a correctness check fails (a command fails, a wrong number of
AssumeRole calls) and never because of a timing: machines are noisy, so the ``TARGET``
column (✓/✗) is for information.

The script builds its world itself and leaves nothing behind: a moto server on a free port
of 127.0.0.1 seeded with an IAM user (account 100000000001) and a chain of three roles in
three more accounts (``hop-a`` trusts the user, ``hop-b`` trusts ``hop-a``, ``hop-c`` trusts
``hop-b``); a temporary HOME with rolehop's TOML and the AWS config and credentials files;
``XDG_RUNTIME_DIR`` (mode 0700) and ``AWS_ENDPOINT_URL`` pointing at moto. The real HOME and
keyring are never used. The keyring (``--keyring``, named in the table's header line):

- ``secret-service`` (chosen by ``auto`` when ``dbus-run-session`` and
  ``gnome-keyring-daemon`` exist): the script runs itself again under a private
  ``dbus-run-session`` (whose bus has the temporary HOME too) and unlocks a new
  gnome-keyring in the temporary HOME;
- ``test-file``: tests/support/file_keyring.py, a JSON file. A test keyring, not an OS one.
  The default keyring is never used: it is the user's own (a desktop session's Secret
  Service, the macOS Keychain), or none at all.

Every case runs a fresh process per sample, started by a small helper Python
(``posix_spawn`` then ``os.wait4``: wall time, and peak RSS from that child's rusage; see
:data:`SPAWNER`), and reports the median, the 90th percentile, the peak RSS, the ratio to
the floor and, where it has one, to its reference case:

- ``floor``: ``python -c pass``, with the interpreter rolehop runs on;
- ``hit.*``: ``rolehop credential-process hop-c`` and ``rolehop env hop-c`` from a warm
  cache, on the direct path (``ROLEHOP_AGENT=0``) and on the agent path (the default; one
  unmeasured warm-up call first, since it starts the agent; ``rolehop agent stop`` at the
  end; the RSS is the client's, not the agent's). The cold, list and parallel cases run
  on both paths too (``.agent`` keys: with the agent running, the default);
- ``cold.3hop.cleared``: 3 AssumeRole calls, the cache emptied (``rolehop cache clear``,
  not timed) before each run: exactly a first call. ``cold.3hop.refresh``: the same with
  ``--refresh``, which skips the cache reads but still writes. Both must make exactly 3
  AssumeRole calls (moto's ``/moto-api/data.json``); the cleared one has the target;
- ``boto3.3hop``: a fresh Python process importing boto3 and making the same three
  AssumeRole calls hop by hop: the reference of the cold chain (target: at most 1.2x);
- ``list.*``, ``complete.*``: ``rolehop list`` (to a pipe) and bash completion of a profile
  name with 10, 1,000 and 10,000 profiles, direct and through the agent (targets: at most
  20 ms more at 1,000; through the agent at 10,000, 100 ms: what a person does not notice);
- ``hit.credential-process.agent.10000``: the agent's hit with 10,000 more profiles in the
  config (target: at most 5 ms more than among a few);
- ``generate.sso.3000``: ``rolehop generate --sso`` for 1,000 accounts x 3 permission sets
  against the IAM Identity Center stand-in answering each call 20 ms late (pages of 20;
  signed in once with the device code, not timed; target: 30 s);
- ``cold.2hop`` and ``parallel.2hop``: one cold call on a 2-hop chain, then 32 cold calls
  at once; those must share exactly 2 AssumeRole calls (target: wall time at most 2x one);
  ``parallel.floor``: 32 ``python -c pass`` at once, the least any 32 processes cost;
- ``aws-cli.hit``, ``aws-cli.cold``, ``awsume``: the same chain as AWS CLI profiles
  (``role_arn`` + ``source_profile``) through the AWS CLI, warm and with its cache removed,
  and through awsume (which caches no role credentials: every call is cold), when they are
  installed next to this Python or on PATH; else a "not installed" row.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rolehop.features.demo import Emulator, local_aws
from rolehop.features.demo.sso_standin import IdentityCenter, identity_center

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
FULL_RUNS, QUICK_RUNS = 20, 3
PARALLEL = 32
QUICK_BATCHES = 1  # of PARALLEL processes: a batch costs seconds on a small machine
TIMEOUT = 120  # seconds; a hung child is killed and its case fails
REGION = "us-east-1"
ISOLATED = ("AWS_", "_AWS", "ROLEHOP_", "_ROLEHOP", "XDG_", "PYTHON_KEYRING")

BASE_ACCOUNT = "100000000001"
HOPS = (("hop-a", "100000000002"), ("hop-b", "100000000003"), ("hop-c", "100000000004"))
THREE_HOPS, TWO_HOPS = "hop-c", "hop-b"
LIST_SIZES = (10, 1000, 10000)
SCALE = LIST_SIZES[-1]  # generated profiles: the organisation-scale cases
INTERACTIVE_MS = 100  # what a person does not notice: list and completion at SCALE

SECRET_SERVICE = "keyring.backends.SecretService.Keyring"
FILE_KEYRING = "tests.support.file_keyring.FileKeyring"

BOTO3_CHAIN = """\
import sys, boto3
session = boto3.session.Session(profile_name="base", region_name=sys.argv[1])
sts = session.client("sts")
for arn in sys.argv[2:]:
    issued = sts.assume_role(RoleArn=arn, RoleSessionName="bench")["Credentials"]
    sts = session.client(
        "sts",
        aws_access_key_id=issued["AccessKeyId"],
        aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"],
    )
print(issued["AccessKeyId"])
"""


class CheckFailed(Exception):
    """A correctness check failed: the case is marked failed and the script exits 1."""


@dataclass(frozen=True)
class Run:
    """One measured process (for the parallel case: one batch of processes)."""

    seconds: float
    max_rss_kib: int
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Target:
    """``ratio``: median at most ``limit`` times the reference's; ``delta``: at most
    ``limit`` milliseconds more than the reference's."""

    kind: Literal["ratio", "delta", "max"]
    limit: float

    def text(self, reference: str | None) -> str:
        if self.kind == "max":
            return f"≤ {self.limit:g} ms"
        if self.kind == "ratio":
            return f"≤ {self.limit:g}x {reference}"
        return f"≤ +{self.limit:g} ms vs {reference}"

    def met(self, median: float, reference: float | None) -> bool:
        if self.kind == "max":
            return median * 1000 <= self.limit
        assert reference is not None
        if self.kind == "ratio":
            return median <= self.limit * reference
        return (median - reference) * 1000 <= self.limit


@dataclass
class Case:
    key: str
    title: str
    runs: list[Run] = field(default_factory=list)
    status: Literal["ok", "failed", "not installed"] = "ok"
    note: str = ""
    reference: str | None = None  # the key of the case this one is compared with
    target: Target | None = None

    @property
    def seconds(self) -> list[float]:
        return [run.seconds for run in self.runs]

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.runs and self.status == "ok" else None

    @property
    def p90(self) -> float | None:
        if not self.runs or self.status != "ok":
            return None
        if len(self.runs) < 2:
            return self.runs[0].seconds
        return statistics.quantiles(self.seconds, n=10, method="inclusive")[-1]

    @property
    def peak_rss_kib(self) -> int | None:
        return max(run.max_rss_kib for run in self.runs) if self.runs else None


# -- measuring processes ---------------------------------------------------------------

# The measured processes are started and reaped by this small separate Python, not by the
# benchmark itself: Linux folds the parent's peak RSS into a vforked child's ru_maxrss at
# exec (the benchmark, hosting moto, is well over 100 MiB), and the timing would share a
# GIL with moto's threads. Its own peak (under 10 MiB, started with -S) becomes a floor
# under every RSS, below that of `python -c pass`.
# One request per line: {"argv", "env", "outputs": [[stdout, stderr], ...], "timeout"}.
SPAWNER = """\
import json, os, signal, sys, time

children = []


def stop(signum, frame):
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def spawn(argv, env, out, err):
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out, flags, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, err, flags, 0o600),
    ]
    return os.posix_spawnp(argv[0], argv, env, file_actions=actions)


signal.signal(signal.SIGALRM, stop)
for line in sys.stdin:
    request = json.loads(line)
    children.clear()
    signal.alarm(request["timeout"])
    started = time.perf_counter()
    try:
        for out, err in request["outputs"]:
            children.append(spawn(request["argv"], request["env"], out, err))
    except OSError as error:
        stop(None, None)
        print(json.dumps({"error": str(error)}), flush=True)
        continue
    results = []
    for pid in children:
        _, status, usage = os.wait4(pid, 0)
        results.append([os.waitstatus_to_exitcode(status), usage.ru_maxrss])
    elapsed = time.perf_counter() - started
    signal.alarm(0)
    print(json.dumps({"seconds": elapsed, "results": results}), flush=True)
"""


class Spawner:
    """Runs processes through :data:`SPAWNER`; their output goes to files in ``directory``."""

    def __init__(self, directory: Path, env: Mapping[str, str]) -> None:
        self.directory = directory
        self.process = subprocess.Popen(
            [PYTHON, "-I", "-S", "-c", SPAWNER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def batch(self, argv: Sequence[str], env: Mapping[str, str], count: int) -> list[Run]:
        """``count`` copies of ``argv`` at once; the wall time is until the last one ends."""
        outputs = [(self.directory / f"{n}.out", self.directory / f"{n}.err") for n in range(count)]
        request = {
            "argv": list(argv),
            "env": dict(env),
            "outputs": [[str(out), str(err)] for out, err in outputs],
            "timeout": TIMEOUT,
        }
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline() or '{"error": "spawner died"}')
        if "error" in answer:
            raise CheckFailed(f"cannot run {argv[0]}: {answer['error']}")
        return [
            Run(answer["seconds"], rss, code, _read(out), _read(err))
            for (code, rss), (out, err) in zip(answer["results"], outputs, strict=True)
        ]

    def once(self, argv: Sequence[str], env: Mapping[str, str]) -> Run:
        return self.batch(argv, env, 1)[0]

    def parallel(self, argv: Sequence[str], env: Mapping[str, str], count: int) -> Run:
        """One batch as one sample: its wall time, the largest child's peak RSS; the first
        failed child's exit status and output, else the first one's."""
        runs = self.batch(argv, env, count)
        failed = [run for run in runs if run.returncode != 0]
        distinct = len({run.stdout for run in runs})
        if not failed and distinct > 1:
            said = [last_line(run.stderr) for run in runs if run.stderr.strip()]
            because = f"; one said: {said[0]}" if said else ""
            raise CheckFailed(f"{count} parallel calls printed {distinct} credentials{because}")
        worst = failed[0] if failed else runs[0]
        rss = max(run.max_rss_kib for run in runs)
        return Run(worst.seconds, rss, worst.returncode, worst.stdout, worst.stderr)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=TIMEOUT)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no output)"


def check_ok(run: Run, what: str) -> None:
    if run.returncode != 0:
        raise CheckFailed(f"{what}: exit {run.returncode}: {last_line(run.stderr)}")


# -- the scenario ----------------------------------------------------------------------


def isolated_environ() -> dict[str, str]:
    """This process's environment without anything that would reach the user's AWS
    settings, rolehop settings, keyring or runtime directory."""
    return {name: value for name, value in os.environ.items() if not name.startswith(ISOLATED)}


def role_arn(name: str) -> str:
    account = dict(HOPS)[name]
    return f"arn:aws:iam::{account}:role/{name}"


def _admin(emulator: Emulator, account: str) -> dict[str, str]:
    """Credentials acting in ``account``: moto acts in the account of the assumed role."""
    sts = emulator.client("sts", aws_access_key_id="setup", aws_secret_access_key="setup")
    issued = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="bench-setup"
    )["Credentials"]
    return {
        "aws_access_key_id": issued["AccessKeyId"],
        "aws_secret_access_key": issued["SecretAccessKey"],
        "aws_session_token": issued["SessionToken"],
    }


def _trust(principal: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def seed(emulator: Emulator) -> dict[str, str]:
    """The user ``bench`` and the chain hop-a -> hop-b -> hop-c; returns the user's key."""
    iam = emulator.client("iam", **_admin(emulator, BASE_ACCOUNT))
    iam.create_user(UserName="bench")
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    principal = f"arn:aws:iam::{BASE_ACCOUNT}:user/bench"
    for name, account in HOPS:
        iam = emulator.client("iam", **_admin(emulator, account))
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(principal))
        principal = role_arn(name)
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def chain_toml() -> str:
    lines = ["[settings]", f'default_region = "{REGION}"', ""]
    source = "base"
    for name, _ in HOPS:
        lines += [f"[profiles.{name}]", f'role_arn = "{role_arn(name)}"']
        lines += [f'source_profile = "{source}"', ""]
        source = name
    return "\n".join(lines)


def list_toml(size: int, settings: bool = True) -> str:
    """``size`` role profiles, in chains of up to three hops from ``base``."""
    lines = ["[settings]", f'default_region = "{REGION}"', ""] if settings else []
    for n in range(size):
        source = "base" if n % 3 == 0 else f"p{n - 1:04d}"
        lines += [f"[profiles.p{n:04d}]", f'role_arn = "arn:aws:iam::3{n:011d}:role/r{n}"']
        lines += [f'source_profile = "{source}"', ""]
    return "\n".join(lines)


def aws_cli_config() -> str:
    """The same chain as AWS CLI profiles (role_arn + source_profile), for the AWS CLI and
    awsume."""
    lines = [f"[default]\nregion = {REGION}\n"]
    source = "base"
    for name, _ in HOPS:
        lines.append(
            f"[profile {name}]\nrole_arn = {role_arn(name)}\n"
            f"source_profile = {source}\nregion = {REGION}\n"
        )
        source = name
    return "\n".join(lines)


def write_files(root: Path, key: dict[str, str]) -> None:
    home = root / "home"
    credentials = home / ".aws" / "credentials"
    credentials.write_text(
        f"[base]\naws_access_key_id = {key['id']}\naws_secret_access_key = {key['secret']}\n"
    )
    credentials.chmod(0o600)
    (root / "aws-config").write_text("")
    (home / ".aws" / "config").write_text(aws_cli_config())
    (root / "rolehop.toml").write_text(chain_toml())
    for size in LIST_SIZES:
        (root / f"list-{size}.toml").write_text(list_toml(size))
    # the chain of the hit cases among SCALE more profiles
    (root / f"hit-{SCALE}.toml").write_text(chain_toml() + "\n" + list_toml(SCALE, False))


def home_environ(root: Path) -> dict[str, str]:
    """The environment with a HOME and a runtime directory under ``root``."""
    return {
        **isolated_environ(),
        "HOME": str(root / "home"),
        "USER": "bench",
        "XDG_RUNTIME_DIR": str(root / "run"),
    }


def make_home(root: Path) -> dict[str, str]:
    (root / "home" / ".aws").mkdir(parents=True)
    (root / "run").mkdir(mode=0o700)
    return home_environ(root)


def scenario_environ(root: Path, moto_url: str) -> dict[str, str]:
    """rolehop's environment. Its AWS config is empty: only its own TOML has profiles."""
    home = root / "home"
    return {
        **home_environ(root),
        "ROLEHOP_CONFIG": str(root / "rolehop.toml"),
        "AWS_CONFIG_FILE": str(root / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def secret_service_tools() -> list[str] | None:
    found = [shutil.which(tool) for tool in ("dbus-run-session", "gnome-keyring-daemon")]
    return [path for path in found if path] if all(found) else None


def under_dbus(dbus_run_session: str, root: Path, argv: Sequence[str]) -> int:
    """Run this script again under a private D-Bus session, in ``root``.

    The bus gets the temporary HOME too: whatever it starts on demand (a second
    gnome-keyring, a prompter) must not reach the user's files either.
    """
    script = str(Path(__file__).resolve())
    command = [dbus_run_session, "--", PYTHON, script, *argv, "--inside", str(root)]
    return subprocess.run(command, env=home_environ(root), check=False).returncode


def unlock_secret_service(env: dict[str, str], daemon: str, log: Path) -> str:
    """A new gnome-keyring in the temporary HOME, unlocked; its backend for keyring."""
    with open(log, "wb") as errors:
        done = subprocess.run(
            [daemon, "--unlock", "--components=secrets"],
            input=b"bench-password",
            env=env,
            stdout=subprocess.DEVNULL,  # it daemonizes: a pipe would stay open
            stderr=errors,
            timeout=30,
            check=False,
        )
    if done.returncode != 0:
        raise CheckFailed(f"gnome-keyring-daemon --unlock failed: {log.read_text().strip()}")
    env["PYTHON_KEYRING_BACKEND"] = SECRET_SERVICE
    return f"{SECRET_SERVICE} (gnome-keyring in a private dbus-run-session)"


def use_file_keyring(env: dict[str, str], root: Path) -> str:
    env["PYTHON_KEYRING_BACKEND"] = FILE_KEYRING
    env["ROLEHOP_TEST_KEYRING"] = str(root / "keyring.json")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return f"{FILE_KEYRING} (TEST keyring: a JSON file, not an OS keyring)"


# -- the cases -------------------------------------------------------------------------


def _program(name: str) -> str | None:
    """``name`` next to this Python (a virtualenv's), else on PATH."""
    sibling = Path(PYTHON).parent / name
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    return shutil.which(name)


def _credential_document(run: Run) -> None:
    document = json.loads(run.stdout)
    if document.get("Version") != 1 or not document.get("AccessKeyId"):
        raise CheckFailed("the output is not credential_process JSON")  # it holds secrets


def _exports(run: Run) -> None:
    if "AWS_SESSION_TOKEN" not in run.stdout:
        raise CheckFailed("no AWS_SESSION_TOKEN in the output")


def _awsume_line(run: Run) -> None:
    """What the awsume shell function reads: ``Awsume KEY SECRET TOKEN REGION ...``."""
    words = run.stdout.split()
    if words[:1] != ["Awsume"] or not words[1:2] or not words[1].startswith("ASIA"):
        raise CheckFailed(f"not awsume's credentials line (begins with {words[:1]})")


def _lines(expected: int) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        count = len(run.stdout.splitlines())
        if count != expected:
            raise CheckFailed(f"{count} lines of output, expected {expected}")

    return check


Prepare = Callable[[], None]
Check = Callable[[Run], None]


@dataclass
class Bench:
    """The running scenario and how to measure a case in it."""

    root: Path
    env: dict[str, str]  # direct path
    emulator: Emulator
    runs: int
    rolehop: list[str]
    spawner: Spawner
    center: IdentityCenter | None = None  # IAM Identity Center, for generate --sso

    def once(self, argv: Sequence[str], env: Mapping[str, str]) -> Run:
        return self.spawner.once(argv, env)

    @property
    def agent_env(self) -> dict[str, str]:
        return {name: value for name, value in self.env.items() if name != "ROLEHOP_AGENT"}

    def assume_role_calls(self) -> int:
        return self.emulator.assume_role_calls()

    def clear_cache(self, profile: str) -> Prepare:
        def clear() -> None:
            check_ok(self.once([*self.rolehop, "cache", "clear", profile], self.env), "cache clear")

        return clear

    def sample(
        self,
        case: Case,
        runner: Callable[[], Run],
        *,
        expect: int | None = None,
        prepare: Prepare | None = None,
        check: Check | None = None,
        runs: int | None = None,
    ) -> None:
        """``runs`` (default: ``self.runs``) samples into ``case``; each exits 0, passes
        ``check`` and makes exactly ``expect`` AssumeRole calls (when given)."""
        for _ in range(runs or self.runs):
            if prepare is not None:
                prepare()
            before = self.assume_role_calls() if expect is not None else 0
            run = runner()
            check_ok(run, case.title)
            if check is not None:
                check(run)
            if expect is not None:
                made = self.assume_role_calls() - before
                if made != expect:
                    raise CheckFailed(f"{made} AssumeRole calls in one run, expected {expect}")
            case.runs.append(run)
        if expect is not None:
            case.note = f"{expect} AssumeRole/run ✓"


def floor(bench: Bench, case: Case) -> None:
    bench.sample(case, lambda: bench.once([PYTHON, "-c", "pass"], bench.env))


def cache_hit(bench: Bench, case: Case, command: str, agent: bool) -> None:
    argv = [*bench.rolehop, command, THREE_HOPS, *(["--shell", "bash"] if command == "env" else [])]
    env = bench.agent_env if agent else bench.env
    check = _credential_document if command == "credential-process" else _exports
    check_ok(bench.once(argv, env), f"warm-up of {case.title}")  # starts the agent, if any
    bench.sample(case, lambda: bench.once(argv, env), expect=0, check=check)


def cold_chain(bench: Bench, case: Case, refresh: bool, agent: bool = False) -> None:
    argv = [*bench.rolehop, "credential-process", THREE_HOPS]
    if refresh:
        argv.append("--refresh")
    prepare = None if refresh else bench.clear_cache(THREE_HOPS)
    case.reference, case.target = "boto3.3hop", None if refresh else Target("ratio", 1.2)
    env = bench.agent_env if agent else bench.env
    bench.sample(
        case,
        lambda: bench.once(argv, env),
        expect=3,
        prepare=prepare,
        check=_credential_document,
    )


def boto3_chain(bench: Bench, case: Case) -> None:
    argv = [PYTHON, "-c", BOTO3_CHAIN, REGION, *(role_arn(name) for name, _ in HOPS)]
    bench.sample(case, lambda: bench.once(argv, bench.env), expect=3, check=_lines(1))


def list_profiles(bench: Bench, case: Case, size: int, agent: bool = False) -> None:
    base = bench.agent_env if agent else bench.env
    env = {**base, "ROLEHOP_CONFIG": str(bench.root / f"list-{size}.toml")}
    if size != LIST_SIZES[0]:
        path = ".agent" if agent else ""
        case.reference, case.target = f"list.{LIST_SIZES[0]}{path}", Target("delta", 20)
    if size == SCALE:
        case.target = Target("max", INTERACTIVE_MS) if agent else None
    argv = [*bench.rolehop, "list"]
    # the header, the role profiles, and the base profile ``base`` (keys in the credentials)
    bench.sample(case, lambda: bench.once(argv, env), expect=0, check=_lines(size + 2))


def complete_profiles(bench: Bench, case: Case, size: int, agent: bool = False) -> None:
    # the variables completions/rolehop.bash sets: click's bash protocol
    env = {
        **(bench.agent_env if agent else bench.env),
        "ROLEHOP_CONFIG": str(bench.root / f"list-{size}.toml"),
        "_ROLEHOP_COMPLETE": "bash_complete",
        "COMP_WORDS": "rolehop env ",
        "COMP_CWORD": "2",
    }
    path = ".agent" if agent else ""
    if size != LIST_SIZES[0]:
        case.reference, case.target = f"complete.{LIST_SIZES[0]}{path}", Target("delta", 20)
    if size == SCALE:
        case.target = Target("max", INTERACTIVE_MS) if agent else None
    bench.sample(case, lambda: bench.once(bench.rolehop, env), expect=0, check=_lines(size))


def cache_hit_at_scale(bench: Bench, case: Case) -> None:
    """The agent's hit among SCALE more profiles: no slower than among a few."""
    env = {**bench.agent_env, "ROLEHOP_CONFIG": str(bench.root / f"hit-{SCALE}.toml")}
    argv = [*bench.rolehop, "credential-process", THREE_HOPS]
    case.reference, case.target = "hit.credential-process.agent", Target("delta", 5)
    check_ok(bench.once(argv, env), f"warm-up of {case.title}")  # the agent reads the files
    bench.sample(case, lambda: bench.once(argv, env), expect=0, check=_credential_document)


# generate --sso: GENERATE_ACCOUNTS x GENERATE_ROLES, each call GENERATE_LATENCY late
GENERATE_ACCOUNTS, GENERATE_ROLES, GENERATE_LATENCY = 1000, 3, 0.020
GENERATE_RUNS = 3  # each run lists a thousand accounts: a few are enough (--quick: one)
GENERATE_LIMIT_MS = 30_000
# $BROWSER for the device code: opening the stand-in's page approves it
APPROVE = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=30).read()"


def generate_sso(bench: Bench, case: Case) -> None:
    """``rolehop generate --sso corp`` over the stand-in (signed in once, not timed)."""
    center = bench.center
    assert center is not None
    for number in range(GENERATE_ACCOUNTS):
        roles = [f"Role{role}" for role in range(GENERATE_ROLES)]
        center.add_account(f"{500000000000 + number:012d}", f"Team {number:04d}", "t@x", roles)
    folder = bench.root / "generate"
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(
        f'[sso.corp]\nsso_start_url = "{center.start_url}"\nsso_region = "us-east-1"\n'
        'sso_registration_scopes = ["sso:account:access"]\n'
    )
    env = {
        **bench.env,
        "ROLEHOP_CONFIG": str(config),
        "AWS_ENDPOINT_URL_SSO": center.url,
        "AWS_ENDPOINT_URL_SSO_OIDC": center.url,
        "BROWSER": f"{PYTHON} -c {shlex.quote(APPROVE)} %s",
    }
    signed = bench.once([*bench.rolehop, "sso", "login", "corp", "--device-code"], env)
    check_ok(signed, "sso login for generate")
    total = GENERATE_ACCOUNTS * GENERATE_ROLES
    case.target = Target("max", GENERATE_LIMIT_MS)
    argv = [*bench.rolehop, "generate", "--sso", "corp"]

    def made_all(run: Run) -> None:
        if f"{total} profile(s)" not in run.stderr:
            raise CheckFailed(f"not {total} profiles: {last_line(run.stderr)}")

    runs = 1 if bench.runs <= QUICK_RUNS else GENERATE_RUNS
    bench.sample(case, lambda: bench.once(argv, env), check=made_all, runs=runs)
    case.note = (
        f"{GENERATE_ACCOUNTS} accounts x {GENERATE_ROLES}, {GENERATE_LATENCY * 1000:g} ms/call"
    )


def cold_two_hops(bench: Bench, case: Case, agent: bool = False) -> None:
    argv = [*bench.rolehop, "credential-process", TWO_HOPS]
    env = bench.agent_env if agent else bench.env
    bench.sample(
        case,
        lambda: bench.once(argv, env),
        expect=2,
        prepare=bench.clear_cache(TWO_HOPS),
        check=_credential_document,
    )


def parallel_two_hops(bench: Bench, case: Case, agent: bool = False) -> None:
    argv = [*bench.rolehop, "credential-process", TWO_HOPS]
    case.reference = "cold.2hop.agent" if agent else "cold.2hop"
    case.target = Target("ratio", 2)
    env = bench.agent_env if agent else bench.env
    bench.sample(
        case,
        lambda: bench.spawner.parallel(argv, env, PARALLEL),
        expect=2,
        prepare=bench.clear_cache(TWO_HOPS),
        check=_credential_document,
        runs=QUICK_BATCHES if bench.runs == QUICK_RUNS else None,
    )
    case.note = f"{PARALLEL} processes, 2 AssumeRole/batch ✓; RSS: largest process"


def parallel_floor(bench: Bench, case: Case) -> None:
    """32 interpreters at once doing nothing: what any 32 parallel calls cost at least."""
    argv = [PYTHON, "-c", "pass"]
    bench.sample(
        case,
        lambda: bench.spawner.parallel(argv, bench.env, PARALLEL),
        expect=0,
        runs=QUICK_BATCHES if bench.runs == QUICK_RUNS else None,
    )
    case.note = f"{PARALLEL} processes; the floor of the parallel rows"


def aws_cli_argv(bench: Bench, aws: str) -> tuple[list[str], str]:
    """How the AWS CLI gets the credentials of the profile, and that in a few words.

    "Get credentials for P", the AWS CLI's way: its own role_arn + source_profile chain and
    its cache (~/.aws/cli/cache, the last hop's credentials). AWS CLI v2 prints them with
    `configure export-credentials`, no API call. v1 has no such command: the least it can
    do with them is `sts get-caller-identity`, one more (local, cheap) call to moto. (A
    credential_process profile running rolehop would measure rolehop again.)
    """
    version = bench.once([aws, "--version"], bench.env)
    check_ok(version, "aws --version")
    if (version.stdout + version.stderr).startswith("aws-cli/1."):
        argv = [aws, "sts", "get-caller-identity", "--profile", THREE_HOPS, "--output", "json"]
        return argv, "v1: sts get-caller-identity"
    return [aws, "configure", "export-credentials", "--profile", THREE_HOPS], "v2: export"


def aws_cli(bench: Bench, case: Case, cold: bool) -> None:
    """Warm (after one warm-up call) or cold (the CLI's cache removed before each run)."""
    aws = _program("aws")
    if aws is None:
        case.status, case.note = "not installed", "not installed"
        return
    argv, how = aws_cli_argv(bench, aws)
    env = {**bench.env, "AWS_CONFIG_FILE": str(bench.root / "home" / ".aws" / "config")}
    cache = bench.root / "home" / ".aws" / "cli" / "cache"
    if cold:
        case.reference = "cold.3hop.cleared"
        forget = functools.partial(shutil.rmtree, cache, ignore_errors=True)
        bench.sample(case, lambda: bench.once(argv, env), expect=3, prepare=forget)
    else:
        check_ok(bench.once(argv, env), f"warm-up of {case.title}")
        bench.sample(case, lambda: bench.once(argv, env), expect=0)
    case.note = f"{how}; {case.note}"


def awsume(bench: Bench, case: Case) -> None:
    # awsume is a shell function sourcing `awsume`; awsumepy is the program doing the work.
    # It caches MFA sessions only, never role credentials: every call is a cold chain.
    program = _program("awsumepy")
    if program is None:
        case.status, case.note = "not installed", "not installed"
        return
    env = {**bench.env, "AWS_CONFIG_FILE": str(bench.root / "home" / ".aws" / "config")}
    argv = [program, THREE_HOPS]
    case.reference = "cold.3hop.cleared"
    bench.sample(case, lambda: bench.once(argv, env), expect=3, check=_awsume_line)
    case.note = f"awsumepy, no role cache; {case.note}"


Fill = Callable[[Bench, Case], None]


def plan() -> Iterator[tuple[str, str, Fill]]:
    """(key, title, how to measure) of every case, in the order they run."""
    yield "floor", "python -c pass", floor
    for command in ("credential-process", "env"):
        for path, agent in (("direct", False), ("agent", True)):
            fill = functools.partial(cache_hit, command=command, agent=agent)
            yield f"hit.{command}.{path}", f"rolehop {command} hit, {path}", fill
    # the agent is running from here on (the hit cases started it): the default path
    paths = (("", "direct", False), (".agent", "agent", True))
    for key, path, agent in paths:
        cleared = functools.partial(cold_chain, refresh=False, agent=agent)
        yield f"cold.3hop.cleared{key}", f"rolehop cold 3 hops, cleared, {path}", cleared
    refreshed = functools.partial(cold_chain, refresh=True)
    yield "cold.3hop.refresh", "rolehop cold 3 hops, --refresh, direct", refreshed
    yield "boto3.3hop", "raw boto3, 3 AssumeRole", boto3_chain
    for key, path, agent in paths:
        for size in LIST_SIZES:
            fill = functools.partial(list_profiles, size=size, agent=agent)
            yield f"list.{size}{key}", f"rolehop list, {size:,} profiles, {path}", fill
    for key, path, agent in paths:
        for size in LIST_SIZES:
            fill = functools.partial(complete_profiles, size=size, agent=agent)
            yield f"complete.{size}{key}", f"completion, {size:,} profiles, {path}", fill
    yield (
        f"hit.credential-process.agent.{SCALE}",
        f"hit, agent, {SCALE:,} profiles",
        (cache_hit_at_scale),
    )
    total = GENERATE_ACCOUNTS * GENERATE_ROLES
    yield f"generate.sso.{total}", f"generate --sso, {total:,} profiles", generate_sso
    yield "parallel.floor", f"{PARALLEL} parallel python -c pass", parallel_floor
    for key, path, agent in paths:
        fill = functools.partial(cold_two_hops, agent=agent)
        yield f"cold.2hop{key}", f"rolehop cold 2 hops, {path}", fill
        fill = functools.partial(parallel_two_hops, agent=agent)
        yield f"parallel.2hop{key}", f"{PARALLEL} parallel cold, 2 hops, {path}", fill
    for state, cold in (("hit", False), ("cold", True)):
        fill = functools.partial(aws_cli, cold=cold)
        yield f"aws-cli.{state}", f"aws-cli {state}, 3 hops", fill
    yield "awsume", "awsume, 3 hops", awsume


def measure(bench: Bench, key: str, title: str, fill: Fill) -> Case:
    started = time.monotonic()
    case = Case(key, title)
    try:
        fill(bench, case)
    except (CheckFailed, json.JSONDecodeError) as error:
        case.status, case.note = "failed", f"FAILED: {error}"
    print(f"bench: {key}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return case


def warm_up(bench: Bench) -> None:
    """One cold call fills the cache (the hit cases then check the keyring kept it)."""
    bench.clear_cache(THREE_HOPS)()
    before = bench.assume_role_calls()
    check_ok(
        bench.once([*bench.rolehop, "credential-process", THREE_HOPS], bench.env), "first call"
    )
    made = bench.assume_role_calls() - before
    if made != 3:
        raise CheckFailed(f"the first call made {made} AssumeRole calls, expected 3")


def stop_agent(bench: Bench) -> None:
    """The agent path may have started an agent; ``agent stop`` may not exist yet."""
    bench.once([*bench.rolehop, "agent", "stop"], bench.agent_env)


# -- the report ------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _versus(case: Case, cases: Mapping[str, Case]) -> tuple[str, bool | None]:
    """The comparison with the reference case, and whether the target is met."""
    reference = cases.get(case.reference) if case.reference else None
    if case.target is not None and case.target.kind == "max" and case.median is not None:
        return "", case.target.met(case.median, None)
    if reference is None or case.median is None or reference.median is None:
        return "", None
    if case.target is not None and case.target.kind == "delta":
        text = f"{(case.median - reference.median) * 1000:+.1f} ms vs {reference.key}"
    else:
        text = f"{case.median / reference.median:.2f}x {reference.key}"
    met = case.target.met(case.median, reference.median) if case.target else None
    return text, met


def _target(case: Case, met: bool | None) -> str:
    if case.target is None or (case.reference is None and case.target.kind != "max"):
        return ""
    mark = {True: "✓", False: "✗", None: "?"}[met]
    return f"{mark} {case.target.text(case.reference)}"


def row(case: Case, cases: Mapping[str, Case]) -> dict[str, Any]:
    floor_case = cases.get("floor")
    floor_median = floor_case.median if floor_case else None
    versus, met = _versus(case, cases)
    median = case.median
    return {
        "title": case.title,
        "status": case.status,
        "runs": len(case.runs),
        "median_ms": None if median is None else round(median * 1000, 2),
        "p90_ms": None if case.p90 is None else round(case.p90 * 1000, 2),
        "ratio_to_floor": round(median / floor_median, 2) if median and floor_median else None,
        "reference": case.reference,
        "versus": versus,
        "target": case.target.text(case.reference) if case.target else None,
        "target_met": met,
        "peak_rss_kib": case.peak_rss_kib,
        "note": case.note,
        "samples_ms": [round(seconds * 1000, 2) for seconds in case.seconds],
    }


COLUMNS = ("CASE", "RUNS", "MEDIAN ms", "P90 ms", "xFLOOR", "VERSUS", "RSS MiB", "TARGET", "NOTE")


def table(header: str, rows: Mapping[str, dict[str, Any]], cases: Mapping[str, Case]) -> str:
    lines = [
        [
            values["title"],
            str(values["runs"]),
            _ms(cases[key].median),
            _ms(cases[key].p90),
            f"{values['ratio_to_floor']:.2f}" if values["ratio_to_floor"] else "-",
            values["versus"],
            f"{values['peak_rss_kib'] / 1024:.1f}" if values["peak_rss_kib"] else "-",
            _target(cases[key], values["target_met"]),
            values["note"],
        ]
        for key, values in rows.items()
    ]
    widths = [max(len(cells[i]) for cells in [list(COLUMNS), *lines]) for i in range(len(COLUMNS))]
    numeric = {1, 2, 3, 4, 6}
    text = [header]
    for cells in [list(COLUMNS), *lines]:
        padded = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        text.append("  ".join(padded).rstrip())
    return "\n".join(text)


def machine(keyring: str) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "interpreter": PYTHON,
        "platform": f"{platform.system()} {platform.machine()}",
        "keyring": keyring,
    }


def header(facts: Mapping[str, Any], mode: str, runs: int) -> str:
    return (
        f"rolehop benchmark, {mode} ({runs} runs per case) - machine: {facts['cpus']} CPUs, "
        f"Python {facts['python']}, {facts['platform']}; keyring: {facts['keyring']}"
    )


# -- main ------------------------------------------------------------------------------


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} runs per case")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write results here")
    parser.add_argument(
        "--keyring",
        choices=("auto", "secret-service", "test-file"),
        default="auto",
        help="auto: a private gnome-keyring when available, else the test file keyring",
    )
    # set by the script itself when it runs again under dbus-run-session
    parser.add_argument("--inside", metavar="ROOT", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def rolehop_command() -> list[str]:
    script = Path(PYTHON).parent / "rolehop"
    return [str(script)] if script.is_file() else [PYTHON, "-m", "rolehop"]


def choose_keyring(args: argparse.Namespace, env: dict[str, str], root: Path) -> str:
    """The Secret Service when running under our own D-Bus session, else the test keyring;
    the description of the one set up."""
    daemon = shutil.which("gnome-keyring-daemon")
    if args.inside is None or daemon is None:
        return use_file_keyring(env, root)
    return unlock_secret_service(env, daemon, root / "gnome-keyring.log")


@contextmanager
def spawner(directory: Path, env: Mapping[str, str]) -> Iterator[Spawner]:
    directory.mkdir()
    started = Spawner(directory, env)
    try:
        yield started
    finally:
        started.close()


def measure_all(bench: Bench) -> dict[str, Case]:
    try:
        warm_up(bench)
        return {key: measure(bench, key, title, fill) for key, title, fill in plan()}
    finally:
        stop_agent(bench)


def report(args: argparse.Namespace, cases: Mapping[str, Case], keyring: str) -> int:
    """Print the table, write the JSON when asked; 1 when a check failed."""
    facts = machine(keyring)
    rows = {key: row(case, cases) for key, case in cases.items()}
    mode, runs = ("quick", QUICK_RUNS) if args.quick else ("full", FULL_RUNS)
    print(table(header(facts, mode, runs), rows, cases))
    failures = [f"{key}: {case.note}" for key, case in cases.items() if case.status == "failed"]
    if args.json is not None:
        document = {"version": 1, "mode": mode, "machine": facts, "cases": rows}
        args.json.write_text(json.dumps({**document, "failures": failures}, indent=2) + "\n")
    for failure in failures:
        print(f"bench: check failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def benchmark(args: argparse.Namespace, root: Path) -> int:
    """Measure in ``root`` (a HOME and a runtime directory made already)."""
    with local_aws() as emulator:
        env = scenario_environ(root, emulator.url)
        os.environ.clear()  # this process's own boto3 (the seeding) sees the scenario too
        os.environ.update(env)
        write_files(root, seed(emulator))
        keyring = choose_keyring(args, env, root)
        runs = QUICK_RUNS if args.quick else FULL_RUNS
        direct = {**env, "ROLEHOP_AGENT": "0"}
        with (
            spawner(root / "out", env) as children,
            identity_center(emulator.url, latency=GENERATE_LATENCY, page_size=20) as center,
        ):
            bench = Bench(root, direct, emulator, runs, rolehop_command(), children, center)
            cases = measure_all(bench)
    return report(args, cases, keyring)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = arguments(argv)
    tools = secret_service_tools()
    if args.keyring == "secret-service" and tools is None:
        print("bench: needs dbus-run-session and gnome-keyring-daemon", file=sys.stderr)
        return 2
    if args.json is not None:
        args.json = args.json.resolve()
    try:
        if args.inside is not None:  # under dbus-run-session, in the first run's directory
            return benchmark(args, args.inside)
        with tempfile.TemporaryDirectory(
            prefix="rolehop-bench-", ignore_cleanup_errors=True
        ) as tmp:
            make_home(Path(tmp))
            if args.keyring != "test-file" and tools is not None:
                return under_dbus(tools[0], Path(tmp), argv)
            return benchmark(args, Path(tmp))
    except CheckFailed as error:
        print(f"bench: check failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
