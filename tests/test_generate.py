"""``rolehop generate``'s pieces without AWS: names from a template (made valid, clashes
named), the generated file (the same bytes every time, read back), and a run over a
listing given here: idempotent, --prune, --dry-run, hand-written profiles left alone, and
the generated profiles read by the configuration after config.toml."""

from __future__ import annotations

import os
import stat

import pytest

from rolehop.config import files as configs
from rolehop.errors import ConfigError, UsageError
from rolehop.features.generate import generated_file, naming, write
from rolehop.features.generate.naming import Target
from rolehop.features.generate.sources import Found
from tests.support.stubs import StubWorld

SESSION = """\
    [sso-session corp]
    sso_start_url = https://corp.awsapps.com/start
    sso_region = us-east-1
    """
pytestmark = pytest.mark.world(aws_config=SESSION)


@pytest.mark.parametrize(
    ("template", "target", "name"),
    [
        (
            naming.DEFAULT_TEMPLATE,
            Target("111122223333", "Data Lake (Prod)", "Admin"),
            "data-lake-prod.admin",
        ),
        (
            "{account_id}-{role_name}",
            Target("011122223333", "x", "ReadOnly"),
            "011122223333-readonly",
        ),
        (
            "{ou}/{account_name}.{role_name}",
            Target("1", "Ünïcode  Team", "R", "Work Loads"),
            "work-loads-n-code-team.r",
        ),
        (naming.DEFAULT_TEMPLATE, Target("111122223333", "", "A"), "111122223333.a"),
        ("{account_name}..{role_name}", Target("1", "--a--", "B"), "a.b"),
    ],
)
def test_names_are_lowercased_and_made_valid(template: str, target: Target, name: str) -> None:
    assert naming.name_of(template, target) == name


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{account_name}", "must name the account"),
        ("{role_name}", "must name the account"),
        ("{account}.{role_name}", "unknown field {account}"),
        ("{account_name.{role_name}", "--name"),
    ],
)
def test_a_template_names_the_account_and_the_role(template: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        naming.check_template(template)


def test_a_clash_names_both_accounts() -> None:
    with pytest.raises(UsageError) as raised:
        naming.names(
            naming.DEFAULT_TEMPLATE, [Target("111", "Dup", "A"), Target("222", "DUP", "A")]
        )
    assert "'dup.a': Dup (111) / A and DUP (222) / A" in str(raised.value)


def test_the_file_is_the_same_bytes_every_time_and_reads_back() -> None:
    profiles = {
        "b.x": {"sso_session": "corp", "sso_account_id": "2"},
        'a."q"': {"region": "eu-west-1"},
    }
    text = generated_file.render("sso-corp", "rolehop generate --sso corp", profiles)
    assert text == generated_file.render(
        "sso-corp", "rolehop generate --sso corp", dict(reversed(profiles.items()))
    )
    assert generated_file.parse(text) == profiles
    assert text.index('"a.\\"q\\""') < text.index('"b.x"')


def found(*accounts: tuple[str, str]) -> Found:
    return Found(
        [Target(account_id, name, role) for account_id, name in accounts for role in ("A", "B")]
    )


def generate(world: StubWorld, listing: Found, **options: object) -> write.Outcome:
    request = write.Request("sso-corp", "rolehop generate --sso corp", **options)  # type: ignore[arg-type]
    return write.generate(world.context(), request, listing, "sso", "corp")


def test_a_run_prunes_only_when_asked_and_writes_only_what_changed(world: StubWorld) -> None:
    first = generate(world, found(("111111111111", "One"), ("222222222222", "Two")))
    assert first.written and first.diff.added == ["one.a", "one.b", "two.a", "two.b"]
    bytes_before = first.path.read_bytes()
    same = generate(world, found(("111111111111", "One"), ("222222222222", "Two")))
    assert not same.written and same.diff.empty and first.path.read_bytes() == bytes_before

    gone = generate(world, found(("111111111111", "One")))
    assert gone.diff.kept == ["two.a", "two.b"] and not gone.diff.removed
    assert "two.a" in generated_file.parse(gone.path.read_text())
    dry = generate(world, found(("111111111111", "One")), prune=True, dry_run=True)
    assert dry.diff.removed == ["two.a", "two.b"] and not dry.written
    assert "two.a" in generated_file.parse(dry.path.read_text())
    pruned = generate(world, found(("111111111111", "One")), prune=True)
    assert pruned.written and set(generated_file.parse(pruned.path.read_text())) == {
        "one.a",
        "one.b",
    }


def test_an_account_not_read_is_not_pruned(world: StubWorld) -> None:
    generate(world, found(("111111111111", "One"), ("222222222222", "Two")))
    partial = Found(found(("111111111111", "One")).targets, ["account Two (222222222222): refused"])
    outcome = generate(world, partial, prune=True)
    assert set(outcome.profiles) == {"one.a", "one.b", "two.a", "two.b"}


def test_generated_profiles_are_read_after_config_toml(world: StubWorld) -> None:
    world.sandbox.write_rolehop(
        '[profiles."one.a"]\nsso_session = "corp"\nsso_account_id = "111111111111"\n'
        'sso_role_name = "Mine"\n'
    )
    outcome = generate(world, found(("111111111111", "One"), ("222222222222", "Two")))
    assert list(outcome.hand_written) == ["one.a"]
    config = world.context().config
    assert config.base_profiles["one.a"].sso is not None
    assert config.base_profiles["one.a"].sso.role_name == "Mine"  # hand-written wins
    assert config.base_profiles["two.b"].path == outcome.path
    assert config.base_profiles["two.b"].sso is not None
    assert configs.generated_files(config.path) == [outcome.path]


def test_written_private_and_read_only_from_a_private_place(world: StubWorld) -> None:
    outcome = generate(world, found(("111111111111", "One")))
    folder = outcome.path.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(outcome.path.stat().st_mode) == 0o600
    assert sorted(os.listdir(folder)) == [outcome.path.name]  # no temporary file left

    # another user's file in it (root in CI), or one others may write: refused, named
    planted = folder / "evil.toml"
    planted.write_text('[profiles.x]\nrole_arn = "arn:aws:iam::111111111111:role/x"\n'
                       'source_profile = "one.a"\nmfa_process = "touch /tmp/pwned"\n')  # fmt: skip
    planted.chmod(0o666)
    with pytest.raises(ConfigError, match="may be written by other users") as caught:
        world.context()
    assert caught.value.path == planted
    planted.unlink()
    planted.symlink_to(outcome.path)
    with pytest.raises(ConfigError, match="is a symbolic link"):
        world.context()
    planted.unlink()
    before = world.context()
    folder.chmod(0o777)
    with pytest.raises(ConfigError, match=r"may be written by other users \(mode 0777\)"):
        world.context()
    request = write.Request("sso-corp", "rolehop generate --sso corp")
    with pytest.raises(ConfigError, match="cannot write the generated profiles"):
        write.generate(before, request, found(("222222222222", "Two")), "sso", "corp")
    folder.chmod(0o700)
    if os.geteuid() == 0:
        os.chown(outcome.path, 65534, 65534)
        with pytest.raises(ConfigError, match="belongs to uid 65534, not to you"):
            world.context()


MIRROR = """\
# >>> rolehop generate sso-corp: managed by rolehop, do not edit inside >>>
[profile one.a]
credential_process = rolehop credential-process one.a
# <<< rolehop generate sso-corp <<<
"""


def test_a_profile_written_by_hand_in_the_aws_config_wins_but_not_a_mirror(
    world: StubWorld,
) -> None:
    generate(world, found(("111111111111", "One")))
    world.sandbox.write_aws_config(SESSION + "\n" + MIRROR)
    config = world.context().config
    assert config.base_profiles["one.a"].sso is not None  # the mirror is not hand-written
    assert config.aws_mirrors == frozenset({"one.a"})
    again = generate(world, found(("111111111111", "One")))
    assert dict(again.hand_written) == {}

    # written by hand later, after the generated one: it wins, and generate says so
    hand = "\n[profile one.b]\nrole_arn = arn:aws:iam::111111111111:role/Hand\n"
    world.sandbox.write_aws_config(SESSION + "\n" + MIRROR + hand + "source_profile = one.a\n")
    config = world.context().config
    assert "one.b" not in config.base_profiles
    assert config.profiles["one.b"].role_arn.endswith(":role/Hand")
    third = generate(world, found(("111111111111", "One")))
    assert dict(third.hand_written) == {"one.b": config.aws_config_path}


def test_a_source_name_any_file_can_hold() -> None:
    assert naming.source_name("org", "team/dev ops") == "org-team-dev-ops"
    assert naming.source_name("sso", "corp") == "sso-corp"
    assert len(naming.source_name("org", "x" * 300)) == 128
