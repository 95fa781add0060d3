"""The command line's entry (rolehop/cli/app.py): --version, and every failure as one
stderr line (or a JSON object with --json) and its exit code; --debug adds the traceback.

Most tests run ``rolehop.cli.main`` in process (``tests.support.cli.rolehop_main``: click's
``CliRunner.isolation()``, so stdout and stderr are captured apart and ``main``'s error
translation is exercised), with a fresh ``StubbedState`` per test: a stubbed STS with a
fixed clock (the ``sts`` fixture, over the module's files); its cache is the sandbox's
in-memory keyring. Some run ``python -m rolehop`` for real.
"""

from __future__ import annotations

import json
import re

import pytest

from rolehop import __version__
from rolehop.engine.context import Context
from tests.conftest import RunRolehop, Sandbox
from tests.support.cli import AWS_CONFIG, CONFIG, Outcome, expect_legacy, rolehop_main
from tests.support.stubs import JOE_CREDENTIALS, StubSts

# every test: a fresh state for main (shared fixture); those asking for sts: these files
pytestmark = [
    pytest.mark.usefixtures("restore_logging", "state"),
    pytest.mark.world(aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG, aws_config=AWS_CONFIG),
]


def test_version() -> None:
    assert rolehop_main("--version") == Outcome(0, f"rolehop, version {__version__}\n", "")


def test_version_in_a_subprocess(run_rolehop: RunRolehop) -> None:
    result = run_rolehop("--version")

    assert (result.returncode, result.stdout, result.stderr) == (0, "rolehop, version 0.1.0\n", "")


@pytest.mark.parametrize(
    "args",
    [
        ("env", "nope"),
        ("credential-process", "nope"),
        ("exec", "nope", "true"),
        ("env", "--refresh", "nope"),
    ],
)
def test_unknown_profile_is_one_line_and_exit_3(
    sts: StubSts, sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    outcome = rolehop_main(*args)

    assert outcome == Outcome(
        3,
        "",
        f"rolehop: error: profile 'nope' not found in {sandbox.rolehop_config} or "
        f"{sandbox.aws_config}; `rolehop list` shows the 4 known\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        ("env", "reserch"),
        ("credential-process", "reserch"),
        ("exec", "reserch", "true"),
        ("graph", "reserch"),
        ("explain", "reserch"),
        ("cache", "clear", "reserch"),
    ],
)
def test_a_typo_of_a_profile_suggests_the_close_name(
    sts: StubSts, sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    outcome = rolehop_main(*args)

    assert outcome == Outcome(
        3,
        "",
        f"rolehop: error: profile 'reserch' not found in {sandbox.rolehop_config} or "
        f"{sandbox.aws_config}; did you mean 'research'?\n",
    )


def _json_error(message: str, code: int) -> str:
    return json.dumps({"version": 1, "error": {"message": message, "exit_code": code}}, indent=2)


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "nope", "--json"),
        ("explain", "--json", "nope", "--dry-run"),
        ("graph", "nope", "--json"),
        ("whoami", "nope", "--json"),
    ],
)
def test_with_json_an_error_is_a_json_object_on_stdout(
    sts: StubSts, sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    message = (
        f"profile 'nope' not found in {sandbox.rolehop_config} or {sandbox.aws_config}; "
        "`rolehop list` shows the 4 known"
    )

    outcome = rolehop_main(*args)

    assert outcome == Outcome(3, _json_error(message, 3) + "\n", f"rolehop: error: {message}\n")


def test_with_json_a_config_error_a_keyring_error_and_a_usage_error_are_json(
    sts: StubSts, sandbox: Sandbox
) -> None:
    path = sandbox.write_rolehop("[profiles.a]\nrole_arn = \n")
    invalid = f"{path}:2: invalid TOML: Invalid value (at line 2, column 12)"
    locked = {"PYTHON_KEYRING_BACKEND": "tests.support.failing_keyring.FailingKeyring"}

    listed = rolehop_main("list", "--json")
    sandbox.write_rolehop(CONFIG)
    cached = rolehop_main("cache", "list", "--json", env=locked)
    missing = rolehop_main("explain", "--json")

    assert (listed.code, listed.stdout) == (3, _json_error(invalid, 3) + "\n")
    assert (cached.code, json.loads(cached.stdout)["error"]["exit_code"]) == (8, 8)
    assert (missing.code, missing.stdout) == (
        2,
        _json_error("Missing argument 'PROFILE'.", 2) + "\n",
    )
    assert missing.stderr.endswith("Error: Missing argument 'PROFILE'.\n")


@pytest.mark.parametrize("args", [("list",), ("env", "legacy"), ("credential-process", "legacy")])
def test_a_config_file_given_with_config_must_exist(
    sts: StubSts, sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    missing = sandbox.root / "nonexistent.toml"

    outcome = rolehop_main("--config", str(missing), *args)

    assert outcome == Outcome(
        3, "", f"rolehop: error: {missing}: no such file (named by --config)\n"
    )


def test_a_missing_default_or_rolehop_config_file_is_an_empty_configuration(
    sts: StubSts, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.rolehop_config.unlink()  # ROLEHOP_CONFIG names it, as AWS_CONFIG_FILE may
    expect_legacy(sts)

    assert rolehop_main("credential-process", "legacy").code == 0
    monkeypatch.delenv("ROLEHOP_CONFIG")  # the default path, under XDG_CONFIG_HOME
    assert rolehop_main("credential-process", "legacy").code == 0
    sts.verify()


def test_unknown_profile_in_a_subprocess(sandbox: Sandbox, run_rolehop: RunRolehop) -> None:
    result = run_rolehop("env", "nope")

    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"rolehop: error: profile 'nope' not found in {sandbox.rolehop_config} or "
        f"{sandbox.aws_config}\n"
    )


def test_invalid_toml_is_one_line_with_file_and_line(
    sandbox: Sandbox, run_rolehop: RunRolehop
) -> None:
    path = sandbox.write_rolehop(
        """\
        [profiles.company]
        role_arn = "arn:aws:iam::111111111111:role/company-admin"
        source_profile =
        """
    )

    result = run_rolehop("list")

    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"rolehop: error: {path}:3: invalid TOML: Invalid value (at line 3, column 17)\n"
    )


def test_invalid_value_is_one_line_with_file_line_profile_and_key(
    sandbox: Sandbox, run_rolehop: RunRolehop
) -> None:
    path = sandbox.write_rolehop(
        """\
        [profiles.company]
        role_arn = "arn:aws:iam::111111111111:role/company-admin"
        source_profile = "joe"
        duration_seconds = 100
        """
    )

    result = run_rolehop("env", "company")

    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"rolehop: error: {path}:4: profile 'company', key 'duration_seconds': 100 is outside "
        "900-43200 seconds (STS limits)\n"
    )


def test_debug_error_shows_the_traceback(sandbox: Sandbox, run_rolehop: RunRolehop) -> None:
    result = run_rolehop("--debug", "env", "nope")

    message = f"profile 'nope' not found in {sandbox.rolehop_config} or {sandbox.aws_config}"
    lines = result.stderr.splitlines()
    assert (result.returncode, result.stdout) == (3, "")
    start = lines.index("Traceback (most recent call last):")
    assert lines[start + 1].startswith('  File "')
    assert lines[-2] == f"rolehop.errors.ProfileNotFoundError: {message}"
    assert lines[-1] == f"rolehop: error: {message}"
    log_line = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [\w.]+ [A-Z]+ ")
    assert all(log_line.match(line) for line in lines[:start])  # --debug's log lines only


def test_unexpected_exception_is_an_internal_error_without_traceback(
    sts: StubSts, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: Context, name: str, **options: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr("rolehop.engine.targets.resolve", broken)

    outcome = rolehop_main("env", "company")

    assert outcome == Outcome(
        70,
        "",
        "rolehop: internal error: KeyError: 'boom' (run with --debug for the traceback)\n",
    )


def test_unexpected_exception_with_debug_shows_the_traceback(
    sts: StubSts, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **options: object) -> None:
        raise KeyError("boom")

    # before the config is read, so that the traceback is the first thing on stderr
    monkeypatch.setattr("rolehop.engine.context.build", broken)

    outcome = rolehop_main("--debug", "env", "company")

    lines = outcome.stderr.splitlines()
    assert (outcome.code, outcome.stdout) == (70, "")
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2] == "KeyError: 'boom'"
    assert lines[-1] == (
        "rolehop: internal error: KeyError: 'boom' (run with --debug for the traceback)"
    )


def test_usage_error_exit_2() -> None:
    outcome = rolehop_main("no-such-command")

    assert outcome.code == 2
    assert outcome.stdout == ""
    assert outcome.stderr.endswith("Error: No such command 'no-such-command'.\n")


# ---------------------------------------------------------------------------------------
# interrupted


def test_ctrl_c_during_a_command_exits_130(sts: StubSts, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("rolehop.engine.targets.resolve", interrupted)

    outcome = rolehop_main("credential-process", "company")

    assert (outcome.code, outcome.stdout) == (130, "")
    assert outcome.stderr.endswith("rolehop: interrupted\n")
