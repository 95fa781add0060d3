"""``rolehop env`` output evaluated by the real bash, zsh and fish: hundreds of cases each.

Issue 4, "Hostile input": every value that reaches ``env`` output (profile names, regions,
credentials themselves...) is quoted so that ``eval`` in a real shell sets exactly that value
and runs nothing. Hypothesis draws a value for every variable ``env`` prints, in batches: one
shell process evaluates a whole batch, case after case, and prints each variable NUL-separated
(and dumps its exported environment); a canary command hidden in the values must never run.

``env`` prints no role ARN or session name today; two extra variables carry them through the
same quoting, so that they are covered should they ever be printed.
"""

from __future__ import annotations

import os
import re
import string
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rolehop.common.creds import Credentials
from rolehop.config import validate
from rolehop.config.files import Profile
from rolehop.engine.hops import BaseHop, Chain
from rolehop.engine.resolve import Resolution
from rolehop.output import UNSET, Environment, Shell, environment, render_env
from tests.support.tools import require_tool

SHELLS: tuple[Shell, ...] = ("bash", "zsh", "fish")
BATCH = 26  # cases per shell process
BATCHES = 20  # generated batches per shell, besides the explicit one
MINIMUM_CASES = 500

# every variable `rolehop env` prints (test_names_match_rolehop_env keeps this list true)
ENV_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "ROLEHOP_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "ROLEHOP_PROFILE",
)
EXTRA_NAMES = ("ROLEHOP_FUZZ_ROLE_ARN", "ROLEHOP_FUZZ_SESSION_NAME")
NAMES = ENV_NAMES + EXTRA_NAMES
LEFT_OVER = {"AWS_PROFILE": "joe", "AWS_DEFAULT_PROFILE": "joe", "AWS_SECURITY_TOKEN": "stale"}

CANARY = "{canary}"  # replaced by an absolute path under the test's tmp_path

# What would run the canary, or expand something, if a quote ever broke in one of the shells.
PAYLOADS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"(touch {CANARY})",  # fish command substitution
    f"'(touch {CANARY})'",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY}; "',
    f"\\'; touch {CANARY}; #",  # fish: \' inside single quotes
    f"'\\''; touch {CANARY}; echo '",
    f"\\\\'; touch {CANARY}; '",
    f"\ntouch {CANARY}\n",
    f"\r\ntouch {CANARY}\r\n",
    f"; touch {CANARY}",
    f"&& touch {CANARY}",
    f"|| touch {CANARY}",
    f"| touch {CANARY}",
    f"& touch {CANARY} &",
    f"=(touch {CANARY})",  # zsh =(...) process substitution
    f"<(touch {CANARY})",
    f">(touch {CANARY})",
    f"$(touch {CANARY})$",
    f"{{touch,{CANARY}}}",
    f"\\\ntouch {CANARY}",  # backslash-newline
    "'",
    '"',
    "\\",
    "\\\\",
    "\\'",
    "'\\'",
    "\\n",
    "\\x41",
    "\\u00e9",
    "\\$HOME",
    "$'\\x41'",
    "$HOME",
    "${HOME}",
    "${IFS}",
    "$fish_pid",
    "%self",
    "%s%n%d",
    "!",
    "!!",
    "!$",
    "{}",
    "{a,b}",
    "*",
    "~",
    "#",
    "^",
    "=ls",
    "\t",
    "\x1b[31m",
    "\x07",
    "\x7f",
    "\x1e",
    "ünïcødé ✓",
    "\U0001f680",
    "\u200b\u202e",
    "\u2018\u2019",
    "\u201a\u201b\u201c\u201d",
    "\uf600\uf6ff",  # fish keeps raw bytes in this private-use range
    "\ufdd0\ufdef",  # fish's internal wildcard markers
    "\ufffe\uffff",
]

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0"), max_size=8)
HOSTILE = st.lists(st.one_of(TEXT, st.sampled_from(PAYLOADS)), max_size=4).map("".join)


def chars(alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=low, max_size=high)


WORD = string.ascii_letters + string.digits + "_"
# short values from each validated charset (hypothesis has a budget per example: a batch
# of long ones would not fit)
# any name the AWS CLI takes: slashes, spaces, quotes, and the payloads themselves (a
# profile name has no control characters)
PROFILE_NAMES = st.one_of(
    st.builds(str.__add__, chars(WORD[:62], 1, 1), chars(WORD[:62] + "_.@+=-", 0, 15)),
    st.sampled_from(["team/dev", "team dev", "joe's", 'say "hi"', "-x", "a,b", "%p %t"]),
    HOSTILE.map(lambda value: re.sub(r"[\x00-\x1f\x7f-\x9f]", "", value) or "x"),
)
REGIONS = st.one_of(
    st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]),
    st.builds(
        "{}-{}-{}".format,
        chars(string.ascii_lowercase, 2, 4),
        chars("abc", 1, 5),
        chars(string.digits, 1, 2),
    ),
)
ROLE_ARNS = st.builds(
    "arn:{}:iam::{:012d}:role/{}{}".format,
    st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    st.integers(0, 10**12 - 1),
    st.one_of(
        st.just(""), chars("".join(map(chr, range(0x21, 0x7F))), 0, 12).map(lambda p: p + "/")
    ),
    chars(WORD + "+=,.@-", 1, 16),
).filter(validate.ROLE_ARN.fullmatch)
SESSION_NAMES = chars(WORD + "+=,.@-", 2, 16)
ACCESS_KEY_IDS = st.builds(
    str.__add__,
    st.sampled_from(["AKIA", "ASIA"]),
    chars(string.ascii_uppercase + string.digits, 16, 16),
)
EXPIRATIONS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
)


@dataclass(frozen=True)
class Case:
    exports: dict[str, str]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    expiration = draw(EXPIRATIONS)
    region = draw(st.one_of(REGIONS, HOSTILE))
    exports = {
        "AWS_ACCESS_KEY_ID": draw(st.one_of(ACCESS_KEY_IDS, HOSTILE)),
        "AWS_SECRET_ACCESS_KEY": draw(HOSTILE),
        "AWS_SESSION_TOKEN": draw(HOSTILE),
        "AWS_CREDENTIAL_EXPIRATION": draw(
            st.one_of(st.just(expiration.strftime("%Y-%m-%dT%H:%M:%SZ")), HOSTILE)
        ),
        "ROLEHOP_EXPIRATION": draw(st.one_of(st.just(str(int(expiration.timestamp()))), HOSTILE)),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "ROLEHOP_PROFILE": validate.profile_name(draw(PROFILE_NAMES)),
        "ROLEHOP_FUZZ_ROLE_ARN": draw(ROLE_ARNS),
        "ROLEHOP_FUZZ_SESSION_NAME": draw(SESSION_NAMES),
    }
    return Case(exports)


BATCHES_OF_CASES = st.lists(cases(), min_size=BATCH, max_size=BATCH)


def payload_batch() -> list[Case]:
    """Every payload in every variable: the explicit batch each run starts with."""
    batch = []
    for index in range(len(PAYLOADS)):
        exports = {
            name: PAYLOADS[(index + offset) % len(PAYLOADS)] for offset, name in enumerate(NAMES)
        }
        batch.append(Case(exports))
    return batch


# ---------------------------------------------------------------------------------------
# one shell process, one batch


def argv(shell: Shell, program: str) -> list[str]:
    path = require_tool(shell)
    if shell == "bash":
        return [path, "--norc", "--noprofile", "-c", program]
    if shell == "zsh":
        return [path, "-f", "-c", program]
    return [path, "--no-config", "-c", program]


def program(shell: Shell, count: int) -> str:
    """Case after case: stale values, the script loaded as users do, then what it set.

    For each of NAMES: how many values it holds (a fish list of one; "1" when a POSIX
    variable is set) and the value; then "set" or "" for each of UNSET; then `env -0`.
    """
    lines = []
    for index in range(count):
        script = f"$ROLEHOP_TEST_DIR/{index}.sh"
        dump = f"$ROLEHOP_TEST_DIR/{index}.env"
        stale = {**LEFT_OVER, **{name: f"stale-{index}" for name in NAMES}}
        if shell == "fish":
            lines += [f"set -gx {name} {value}" for name, value in stale.items()]
            lines.append(f"cat {script} | source")
            lines.append("printf '%s\\0' " + " ".join(f"(count ${n}) ${n}" for n in NAMES))
            lines += [f"if set -q {n}; printf 'set\\0'; else; printf '\\0'; end" for n in UNSET]
            lines.append(f"env -0 > {dump}")
        else:
            lines.append("export " + " ".join(f"{name}={value}" for name, value in stale.items()))
            lines.append(f'eval "$(cat "{script}")"')
            lines.append("printf '%s\\0' " + " ".join(f'"${{{n}+1}}" "${n}"' for n in NAMES))
            lines.append("printf '%s\\0' " + " ".join(f'"${{{n}+set}}"' for n in UNSET))
            lines.append(f'env -0 > "{dump}"')
    return "\n".join(lines) + "\n"


def read_fields(shell: Shell, fields: list[bytes]) -> tuple[dict[str, list[str]], list[str]]:
    """One case's output: the values of each of NAMES, and the set-markers of UNSET."""
    values: dict[str, list[str]] = {}
    for name in NAMES:
        count = fields.pop(0).decode()
        if shell == "fish":
            values[name] = [fields.pop(0).decode("utf-8") for _ in range(int(count))]
        else:
            value = fields.pop(0).decode("utf-8")
            values[name] = [value] if count == "1" else []
    markers = [fields.pop(0).decode() for _ in UNSET]
    return values, markers


def environ_dump(raw: bytes) -> dict[str, str]:
    entries = [entry.decode("utf-8") for entry in raw.split(b"\0") if entry]
    return dict(entry.split("=", 1) for entry in entries)


def evaluate(shell: Shell, batch: Sequence[Case], canary: Path) -> None:
    """Run one batch in one ``shell`` process; assert each case came back exactly."""
    batch = [
        Case({k: v.replace(CANARY, str(canary)) for k, v in case.exports.items()}) for case in batch
    ]
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory() as cwd:
        for index, case in enumerate(batch):
            script = render_env(Environment(case.exports), shell)
            Path(scratch, f"{index}.sh").write_bytes(script.encode("utf-8"))
        env = {
            "PATH": os.environ["PATH"],
            "HOME": scratch,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "ROLEHOP_TEST_DIR": scratch,
        }
        result = subprocess.run(
            argv(shell, program(shell, len(batch))),
            env=env,
            cwd=cwd,
            capture_output=True,
            timeout=60,
            check=False,
        )
        left_in_cwd = sorted(os.listdir(cwd))
        dumps = [
            Path(scratch, f"{index}.env").read_bytes()
            if Path(scratch, f"{index}.env").exists()
            else b""
            for index in range(len(batch))
        ]

    assert not canary.exists(), "a value ran the canary"
    assert left_in_cwd == [], f"a value ran something: {left_in_cwd}"
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert result.stderr == b"", result.stderr.decode("utf-8", "replace")
    fields = result.stdout.split(b"\0")
    assert fields.pop() == b""
    for index, case in enumerate(batch):
        values, markers = read_fields(shell, fields)
        expected = {name: [value] for name, value in case.exports.items()}
        assert values == expected, f"case {index} of the batch in {shell}"
        assert markers == ["" for _ in UNSET], f"case {index}: {UNSET} left set"
        child = environ_dump(dumps[index])
        assert {name: child.get(name) for name in NAMES} == case.exports, f"case {index} env"
        assert not set(UNSET) & set(child), f"case {index}: {UNSET} exported"
    assert fields == [], "more output than cases"


@pytest.mark.parametrize("shell", SHELLS)
def test_env_output_round_trips_in_real_shells(
    shell: Shell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool(shell)
    canary = tmp_path / "canary"
    ran = {"cases": 0, "processes": 0}

    @settings(
        max_examples=BATCHES,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,  # a batch is large by design
        ],
    )
    @given(batch=BATCHES_OF_CASES)
    @example(batch=payload_batch())
    def run(batch: list[Case]) -> None:
        evaluate(shell, batch, canary)
        ran["cases"] += len(batch)
        ran["processes"] += 1

    started = perf_counter()
    run()
    elapsed = perf_counter() - started
    with capsys.disabled():
        print(
            f"\nshell fuzz: {shell}: {ran['cases']} cases in {ran['processes']} processes, "
            f"{elapsed:.1f} s"
        )
    assert ran["cases"] >= MINIMUM_CASES


# ---------------------------------------------------------------------------------------
# the harness itself


def test_names_match_rolehop_env() -> None:
    """ENV_NAMES is every variable `env` prints when a resolution has everything."""
    profile = Profile(
        name="dev",
        origin="rolehop",
        path=Path("rolehop.toml"),
        line=1,
        role_arn="arn:aws:iam::123456789012:role/dev",
    )
    base = BaseHop(
        name="base", aws=None, aws_config_path="c", aws_credentials_path="k", endpoint=None
    )
    credentials = Credentials(
        "ASIAEXAMPLE", "names-secret", "names-token", datetime(2030, 1, 1, tzinfo=UTC)
    )
    resolution = Resolution(profile, Chain(profile, base, ()), credentials, "eu-west-1", ())
    assert tuple(environment(resolution).exports) == ENV_NAMES


def test_a_broken_quote_is_caught(tmp_path: Path) -> None:
    """The harness fails when a shell does not get the value back, or runs the canary."""
    canary = tmp_path / "canary"
    case = Case({name: f"$(touch {CANARY})" for name in NAMES})

    def unquoted(env: Environment, shell: Shell) -> str:
        return "".join(f"export {name}={value}\n" for name, value in env.exports.items())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(f"{__name__}.render_env", unquoted)
        with pytest.raises(AssertionError, match="canary"):
            evaluate("bash", [case], canary)
