"""rolehop.features.doctor: each check against a healthy and a broken setup."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rolehop.config import files as configs
from rolehop.config.files import Settings
from rolehop.errors import CacheError
from rolehop.features.doctor import aws_cli, checks
from rolehop.stores.memory_keyring import MemoryKeyring
from tests.conftest import Sandbox
from tests.support.failing_keyring import FailingKeyring
from tests.support.local_endpoints import Seen, serving
from tests.support.stubs import COMPANY_ROLE, NOW, RESEARCH_ROLE

HINT = "get a keyring"


# -- config and profiles ------------------------------------------------------------


def test_a_valid_rolehop_file_is_healthy(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f'[profiles.company]\nrole_arn = "{COMPANY_ROLE}"\nsource_profile = "joe"\n'
    )
    check, config = checks.load_config(os.environ, None)
    assert (check.verdict, config is not None) == ("ok", True)
    assert str(sandbox.rolehop_config) in check.summary and "1 profile" in check.summary
    assert config is not None
    # joe's keys are in the keyring: the chain starts there
    assert checks.profile_errors(config, os.environ, lambda: {"joe"}) == [
        checks.Check("profiles", "ok", "all 1 profile(s) resolve")
    ]
    # ... and nowhere else: the error a command would give, with the fix
    [missing] = checks.profile_errors(config, os.environ, set)
    assert missing.verdict == "fail" and "rolehop keys add joe" in missing.summary


def test_invalid_toml_fails_naming_the_file_and_line(sandbox: Sandbox) -> None:
    sandbox.write_rolehop('[profiles.company]\nrole_arn = "not an arn\n')
    check, config = checks.load_config(os.environ, None)
    assert config is None and check.verdict == "fail"
    assert f"{sandbox.rolehop_config}:2: invalid TOML" in check.summary
    assert check.fix


def test_an_invalid_toml_profile_fails_alone(sandbox: Sandbox) -> None:
    sandbox.write_rolehop(
        f'[profiles.company]\nrole_arn = "{COMPANY_ROLE}"\nsource_profile = "joe"\n'
        '[profiles.broken]\nrole_arn = "not an arn"\nsource_profile = "joe"\n'
    )
    check, config = checks.load_config(os.environ, None)
    assert config is not None
    assert (check.verdict, check.summary) == (
        "ok",
        f"{sandbox.rolehop_config}: 1 profile(s), and 1 with errors (below)",
    )
    [problem] = checks.profile_errors(config, os.environ, lambda: {"joe"})
    assert problem.verdict == "fail"
    assert problem.summary.startswith(f"{sandbox.rolehop_config}:5: profile 'broken'")


def test_no_toml_is_fine_when_the_aws_config_has_roles(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(
        f"[profile company]\nrole_arn = {COMPANY_ROLE}\nsource_profile = joe\n"
    )
    check, _ = checks.load_config(os.environ, None)
    assert check.verdict == "ok" and "not present" in check.summary


def test_no_profiles_anywhere_fails_with_a_fix(sandbox: Sandbox) -> None:
    check, _ = checks.load_config(os.environ, None)
    assert check.verdict == "fail" and check.fix and "[profiles.NAME]" in check.fix


def test_each_unusable_profile_is_named_with_its_line(sandbox: Sandbox) -> None:
    sandbox.write_aws_config(
        "[profile good]\nrole_arn = arn:aws:iam::111111111111:role/x\nsource_profile = joe\n"
        "[profile bad]\nrole_arn = nonsense\n"
    )
    sandbox.write_rolehop(
        f'[profiles.lost]\nrole_arn = "{RESEARCH_ROLE}"\nsource_profile = "lost"\n'
    )
    config = configs.load(os.environ)
    problems = checks.profile_errors(config, os.environ, lambda: {"joe"})
    assert [check.verdict for check in problems] == ["fail", "fail"]
    assert f"{sandbox.aws_config}:5" in problems[0].summary and "'bad'" in problems[0].summary
    assert "'lost'" in problems[1].summary


def test_each_fix_line_says_what_to_change(sandbox: Sandbox) -> None:
    sandbox.write_aws_config("[profile bad]\nrole_arn = nonsense\nsource_profile = joe\n")
    sandbox.write_rolehop(
        f'[profiles.typo]\nrole_arn = "{RESEARCH_ROLE}"\nsource_profile = "jeo"\n'
        f'[profiles.lost]\nrole_arn = "{RESEARCH_ROLE}"\nsource_profile = "nowhere"\n'
        f'[profiles.long]\nrole_arn = "{RESEARCH_ROLE}"\nsource_profile = "joe"\n'
        "duration_seconds = 50000\n"
        f'[profiles.odd]\nrole_arn = "{RESEARCH_ROLE}"\nsource_profile = "joe"\n'
        'regoin = "eu-west-1"\n'
        "[profiles.joe]\nsession_duration = 5\n"
    )
    config = configs.load(os.environ)

    fixes = {
        check.summary.split("profile ")[1].split(",")[0]: check.fix
        for check in checks.profile_errors(config, os.environ, lambda: {"joe"})
    }

    assert fixes == {
        "'bad'": "set role_arn to an IAM role ARN: arn:aws:iam::<12 digits>:role/[path/]NAME",
        "'joe'": "set session_duration to a whole number of seconds from 900 to 129600",
        "'long'": "set duration_seconds to a whole number of seconds from 900 to 43200",
        "'lost'": (
            "store keys as 'nowhere': rolehop keys add nowhere (or give "
            f"{sandbox.aws_credentials} a [nowhere] section with them), or set source_profile "
            "to a profile `rolehop list` or your AWS files show"
        ),
        "'odd'": "rename it to 'region'",
        "'typo'": "set source_profile to 'joe', or store keys as 'jeo': rolehop keys add jeo",
    }


# -- keyring --------------------------------------------------------------------------


def test_a_working_keyring_passes_the_probe_and_keeps_nothing() -> None:
    backend = MemoryKeyring()
    check = checks.keyring_probe(Settings(), lambda: backend, HINT)
    assert check.verdict == "ok" and "MemoryKeyring" in check.summary
    assert backend.get_password(checks.PROBE_SERVICE, "anything") is None
    assert not backend.items  # the probe left nothing behind


def test_a_locked_keyring_fails_at_the_write() -> None:
    check = checks.keyring_probe(Settings(), FailingKeyring, HINT)
    assert check.verdict == "fail" and "write failed" in check.summary and check.fix


def test_no_usable_backend_fails_with_the_hint() -> None:
    def load() -> MemoryKeyring:
        raise CacheError("no usable keyring backend (keyring.backends.fail.Keyring ...)")

    check = checks.keyring_probe(Settings(), load, HINT)
    assert (check.verdict, check.fix) == ("fail", HINT) and "no usable" in check.summary


class _Forgetful(MemoryKeyring):
    """Reads back something else than was written."""

    def get_password(self, service: str, username: str) -> str | None:
        return "something else"


class _Sticky(MemoryKeyring):
    """Deleting does nothing."""

    def delete_password(self, service: str, username: str) -> None:
        pass


@pytest.mark.parametrize(("backend", "words"), [(_Forgetful, "something else"), (_Sticky, "still")])
def test_a_keyring_that_loses_or_keeps_secrets_fails(backend: type, words: str) -> None:
    check = checks.keyring_probe(Settings(), backend, HINT)
    assert check.verdict == "fail" and words in check.summary


def test_caching_switched_off_is_a_warning() -> None:
    check = checks.keyring_probe(Settings(cache=False), FailingKeyring, HINT)
    assert check.verdict == "warn" and "cache = false" in check.summary


# -- shell integration ----------------------------------------------------------------


def test_an_active_integration_is_seen_from_its_marker() -> None:
    check = checks.shell_integration({"ROLEHOP_SHELL": "zsh"})
    assert (check.verdict, check.summary) == ("ok", "shell integration is active (zsh)")


def test_an_rc_file_with_the_snippet_means_open_a_new_shell(tmp_path: Path) -> None:
    (tmp_path / ".zshrc").write_text('eval "$(rolehop init zsh)"\n')
    check = checks.shell_integration({"HOME": str(tmp_path), "SHELL": "/usr/bin/zsh"})
    assert check.verdict == "warn" and str(tmp_path / ".zshrc") in check.summary
    assert check.fix and "new shell" in check.fix


@pytest.mark.parametrize(
    ("shell", "line"),
    [("bash", 'eval "$(rolehop init bash)"'), ("fish", "rolehop init fish | source")],
)
def test_no_integration_says_which_line_to_add(tmp_path: Path, shell: str, line: str) -> None:
    (tmp_path / ".bashrc").write_text("alias ll='ls -l'\n")
    check = checks.shell_integration({"HOME": str(tmp_path), "SHELL": f"/bin/{shell}"})
    assert check.verdict == "warn" and check.fix and check.fix.endswith(line)


def test_fish_config_is_found_under_xdg_config_home(tmp_path: Path) -> None:
    config = tmp_path / "xdg" / "fish" / "config.fish"
    config.parent.mkdir(parents=True)
    config.write_text("rolehop init fish | source\n")
    environ = {
        "HOME": str(tmp_path),
        "SHELL": "/usr/bin/fish",
        "XDG_CONFIG_HOME": str(config.parent.parent),
    }
    assert "set up in" in checks.shell_integration(environ).summary


# -- clock ----------------------------------------------------------------------------


def _answer(seen: Seen) -> tuple[int, str]:
    return 403, "<ErrorResponse>unsigned</ErrorResponse>"  # what STS says to a bare GET


@pytest.mark.parametrize(
    ("offset", "verdict"),
    [
        (timedelta(0), "ok"),
        (timedelta(seconds=30), "ok"),
        (timedelta(minutes=2), "warn"),
        (timedelta(minutes=-3), "warn"),
        (timedelta(minutes=10), "fail"),
        (timedelta(hours=-2), "fail"),
    ],
)
def test_clock_skew_against_the_date_header(offset: timedelta, verdict: str) -> None:
    # both clocks frozen: the skew is the offset, however long the request takes
    with serving(_answer, clock=lambda: NOW) as endpoint:
        check = checks.clock_skew(endpoint.url, lambda: NOW + offset, 5)
    assert check.verdict == verdict, check
    if offset:
        assert f" {abs(offset.total_seconds()):.0f} s " in check.summary, check
    assert endpoint.seen and endpoint.seen[0].method == "GET"
    if offset >= timedelta(minutes=1):
        assert "ahead of" in check.summary
    if offset <= timedelta(minutes=-1):
        assert "behind" in check.summary
    if verdict != "ok":
        assert check.fix == checks.NTP_FIX


def test_an_unreachable_sts_fails() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    check = checks.clock_skew(f"http://127.0.0.1:{port}", lambda: datetime.now(UTC), 2)
    assert check.verdict == "fail" and f"127.0.0.1:{port}" in check.summary


def test_no_date_header_is_a_warning_not_a_verdict() -> None:
    check = checks.clock_skew("http://sts.test", lambda: datetime.now(UTC), 2, lambda r, t: {})
    assert check.verdict == "warn" and "Date" in check.summary


def test_only_http_endpoints_are_asked() -> None:
    check = checks.clock_skew("file:///etc/passwd", lambda: datetime.now(UTC), 2)
    assert check.verdict == "fail" and "not an http(s) URL" in check.summary


@pytest.mark.parametrize(
    ("environ", "settings", "url"),
    [
        (
            {"AWS_ENDPOINT_URL_STS": "http://a", "AWS_ENDPOINT_URL": "http://b"},
            Settings(),
            "http://a",
        ),
        ({"AWS_ENDPOINT_URL": "http://b"}, Settings(), "http://b"),
        ({"AWS_REGION": "eu-west-1"}, Settings(), "https://sts.eu-west-1.amazonaws.com"),
        ({}, Settings(default_region="cn-north-1"), "https://sts.cn-north-1.amazonaws.com.cn"),
        ({}, Settings(), "https://sts.amazonaws.com"),
    ],
)
def test_sts_endpoint(environ: dict[str, str], settings: Settings, url: str) -> None:
    assert checks.sts_endpoint(environ, settings) == url


# -- AWS profiles that run rolehop ----------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("rolehop credential-process research", ("rolehop", None, "research")),
        (
            "/opt/bin/rolehop --config /p/r.toml credential-process --refresh research",
            ("/opt/bin/rolehop", "/p/r.toml", "research"),
        ),
        ("rolehop --config=/p/r.toml credential-process x", ("rolehop", "/p/r.toml", "x")),
        ("python3 -m rolehop credential-process x", ("python3", None, "x")),
        ("rolehop credential-process --mfa-token 123456 x", ("rolehop", None, "x")),
        ("rolehop credential-process 'a b'", ("rolehop", None, "a b")),
        ("rolehop credential-process", ("rolehop", None, None)),
    ],
)
def test_parse_invocation(command: str, expected: tuple[str, str | None, str | None]) -> None:
    assert aws_cli.parse_invocation(command) == aws_cli.Invocation(*expected)


@pytest.mark.parametrize(
    "command",
    [
        "aws-vault exec x --json",
        "rolehop env x",
        "rolehop 'unbalanced",
        "",
        "python3 -m other credential-process x",
    ],
)
def test_other_tools_are_not_rolehop_invocations(command: str) -> None:
    assert aws_cli.parse_invocation(command) is None


def _aws_cli_checks(
    sandbox: Sandbox, aws_config: str, path: str | None = None
) -> list[checks.Check]:
    sandbox.write_rolehop(
        f'[profiles.company]\nrole_arn = "{COMPANY_ROLE}"\nsource_profile = "joe"\n'
        f'[profiles.looped]\nrole_arn = "{RESEARCH_ROLE}"\nsource_profile = "looped-cli"\n'
    )
    sandbox.write_aws_config(aws_config)
    bin_dir = sandbox.root / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "rolehop").write_text("#!/bin/sh\n")
    (bin_dir / "rolehop").chmod(0o755)
    environ = {**os.environ, "PATH": path if path is not None else str(bin_dir)}
    config = configs.load(environ)
    return aws_cli.credential_processes(
        config, environ, lambda override: configs.load(environ, override), "/opt/rolehop"
    )


def test_aws_profiles_pointing_at_known_profiles_pass(sandbox: Sandbox) -> None:
    checks = _aws_cli_checks(
        sandbox, "[profile company-cli]\ncredential_process = rolehop credential-process company\n"
    )
    assert [(c.verdict, c.summary) for c in checks] == [
        ("ok", "1 AWS profile(s) use rolehop; all name known profiles")
    ]


def test_an_unknown_profile_is_named_with_file_and_line(sandbox: Sandbox) -> None:
    checks = _aws_cli_checks(
        sandbox,
        "[profile other]\nregion = eu-west-1\n\n"
        "[profile typo-cli]\nregion = eu-west-1\n"
        "credential_process = rolehop credential-process compny\n",
    )
    assert len(checks) == 1 and checks[0].verdict == "fail"
    assert f"{sandbox.aws_config}:6: AWS profile 'typo-cli'" in checks[0].summary
    assert "'compny'" in checks[0].summary
    assert checks[0].fix == "did you mean 'company'? (the profile after credential-process)"


def test_a_program_missing_from_path_is_a_failure_with_the_full_path(sandbox: Sandbox) -> None:
    checks = _aws_cli_checks(
        sandbox,
        "[profile company-cli]\ncredential_process = rolehop credential-process company\n",
        path=str(sandbox.root / "empty"),
    )
    assert [c.verdict for c in checks] == ["fail"] and "not on PATH" in checks[0].summary
    assert checks[0].fix and "/opt/rolehop" in checks[0].fix


def test_a_profile_whose_chain_comes_back_is_a_loop(sandbox: Sandbox) -> None:
    checks = _aws_cli_checks(
        sandbox, "[profile looped-cli]\ncredential_process = rolehop credential-process looped\n"
    )
    assert [c.verdict for c in checks] == ["fail"] and "a loop" in checks[0].summary


def test_config_given_to_the_invocation_is_the_one_read(sandbox: Sandbox) -> None:
    other = sandbox.root / "other.toml"
    other.write_text(
        f'[profiles.elsewhere]\nrole_arn = "{RESEARCH_ROLE}"\nsource_profile = "joe"\n'
    )
    checks = _aws_cli_checks(
        sandbox,
        f"[profile a]\ncredential_process = rolehop --config {other} credential-process elsewhere\n"
        f"[profile b]\ncredential_process = rolehop --config {other} credential-process company\n",
    )
    assert [c.verdict for c in checks] == ["fail"] and "'b'" in checks[0].summary


def test_a_profile_argument_is_required(sandbox: Sandbox) -> None:
    checks = _aws_cli_checks(
        sandbox, "[profile a]\ncredential_process = rolehop credential-process\n"
    )
    assert [c.verdict for c in checks] == ["fail"] and "names no profile" in checks[0].summary
