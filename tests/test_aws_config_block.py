"""rolehop.features.generate.aws_config_block: the rolehop-managed blocks of the AWS config.

A block rewrites its own lines and not one byte besides; broken markers stop it at their
line; a name the user already defines is left out; botocore reads what was written; the
file is replaced atomically, keeps its mode, and is not touched when nothing changes.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rolehop.errors import ConfigError
from rolehop.features.generate.aws_config_block import (
    BEGIN,
    END,
    defined_outside,
    render_block,
    replace_block,
)
from rolehop.features.generate.aws_config_file import (
    Written,
    read_aws_config,
    write_aws_config,
)

CORP = {
    "corp-dev": "rolehop credential-process corp-dev",
    "corp-admin": "rolehop credential-process corp-admin",
}
ORG = {"org-audit": "rolehop credential-process org-audit"}
CORP_BLOCK = (
    "# >>> rolehop generate sso-corp: managed by rolehop, do not edit inside >>>\n"
    "[profile corp-admin]\n"
    "credential_process = rolehop credential-process corp-admin\n"
    "[profile corp-dev]\n"
    "credential_process = rolehop credential-process corp-dev\n"
    "# <<< rolehop generate sso-corp <<<\n"
)
USER = (
    "[default]\nregion = eu-west-1\n\n# my own\n[profile mine]\n"
    "role_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\n"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A directory of this user's alone, as ~/.aws should be (whatever the umask)."""
    made = tmp_path / "aws"
    made.mkdir()
    made.chmod(0o700)
    return made


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away: any mode is rolehop's own doing."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _profiles(path: Path) -> dict[str, dict[str, str]]:
    """What botocore makes of the file at ``path``."""
    session = botocore.session.Session()
    session.set_config_variable("config_file", str(path))
    profiles: dict[str, dict[str, str]] = session.full_config["profiles"]
    return profiles


# ---------------------------------------------------------------------------------------
# the block


def test_the_block_has_its_markers_and_one_section_a_profile_sorted_by_name() -> None:
    assert render_block("sso-corp", CORP) == CORP_BLOCK
    assert BEGIN.format(source="sso-corp") == CORP_BLOCK.splitlines()[0]
    assert END.format(source="sso-corp") == CORP_BLOCK.splitlines()[-1]
    assert render_block("org-mgmt", {}) == (
        "# >>> rolehop generate org-mgmt: managed by rolehop, do not edit inside >>>\n"
        "# <<< rolehop generate org-mgmt <<<\n"
    )


BAD_NAMES = ["a]b", "[a", "a\nb", "a\rb", "a\x00b", "a\x85", " a", "a ", "my name", "it's", 'a"b']


@pytest.mark.parametrize("name", [*BAD_NAMES, "a\\b", ""])
def test_a_name_the_ini_cannot_hold_as_one_profile_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="cannot be written as \\[profile NAME\\]") as caught:
        render_block("sso-corp", {name: "rolehop credential-process x"})
    assert caught.value.profile == name


@pytest.mark.parametrize("command", ["", " rolehop", "rolehop ", "rolehop\n[profile evil]", "a\rb"])
def test_a_command_that_is_not_one_clean_line_is_refused(command: str) -> None:
    with pytest.raises(ConfigError, match="one line") as caught:
        render_block("sso-corp", {"corp-dev": command})
    assert caught.value.key == "credential_process"


@pytest.mark.parametrize("source", ["", "sso corp", "a:b", "x>>>", "a\nb", "é"])
def test_a_source_that_cannot_name_a_marker_is_refused(source: str) -> None:
    with pytest.raises(ConfigError, match="cannot name a block"):
        render_block(source, {})
    with pytest.raises(ConfigError, match="cannot name a block"):
        replace_block("", source, None)


def test_a_block_of_another_source_or_not_a_block_at_all_is_not_written() -> None:
    with pytest.raises(ValueError, match="not a block of 'sso-corp'"):
        replace_block(USER, "sso-corp", render_block("org-mgmt", ORG))
    with pytest.raises(ValueError, match="not a block of 'sso-corp'"):
        replace_block(USER, "sso-corp", "[profile x]\nregion = eu-west-1\n")
    with pytest.raises(ValueError, match="not a block of 'sso-corp'"):
        replace_block(USER, "sso-corp", CORP_BLOCK.rstrip("\n"))


# ---------------------------------------------------------------------------------------
# replacing it in the text


def test_appended_after_one_blank_line_ending_the_last_line_first() -> None:
    assert replace_block("", "sso-corp", CORP_BLOCK) == CORP_BLOCK
    assert replace_block(USER, "sso-corp", CORP_BLOCK) == USER + "\n" + CORP_BLOCK
    assert replace_block("[a]\nx = 1", "sso-corp", CORP_BLOCK) == "[a]\nx = 1\n\n" + CORP_BLOCK
    assert replace_block("[a]\n\n", "sso-corp", CORP_BLOCK) == "[a]\n\n" + CORP_BLOCK


def test_the_block_takes_the_line_breaks_of_the_file() -> None:
    user = "[default]\r\nregion = eu-west-1"
    assert replace_block(user, "sso-corp", CORP_BLOCK) == (
        user + "\r\n\r\n" + CORP_BLOCK.replace("\n", "\r\n")
    )


def test_replaced_in_the_middle_with_not_a_byte_changed_around_it() -> None:
    before = "# top\r\n[default]\r\nregion = eu-west-1  \r\n\r\n"
    after = "\n[profile later]\nregion = us-east-1\n# the end, without a line break"
    old = render_block("sso-corp", {"corp-old": "rolehop credential-process corp-old"})
    text = before + old.replace("\n", "\r\n") + after
    new = replace_block(text, "sso-corp", CORP_BLOCK)
    assert new == before + CORP_BLOCK.replace("\n", "\r\n") + after
    assert replace_block(new, "sso-corp", None) == before + after


def test_two_sources_side_by_side_each_rewrites_its_own() -> None:
    org_block = render_block("org-mgmt", ORG)
    both = replace_block(replace_block(USER, "sso-corp", CORP_BLOCK), "org-mgmt", org_block)
    assert both == USER + "\n" + CORP_BLOCK + "\n" + org_block
    fewer = render_block("sso-corp", {"corp-dev": CORP["corp-dev"]})
    assert replace_block(both, "sso-corp", fewer) == USER + "\n" + fewer + "\n" + org_block
    assert replace_block(both, "org-mgmt", None) == USER + "\n" + CORP_BLOCK + "\n"
    assert replace_block(both, "sso-corp", None) == USER + "\n" + "\n" + org_block


def test_removing_a_block_that_is_not_there_changes_nothing() -> None:
    assert replace_block(USER, "sso-corp", None) == USER
    assert replace_block("", "sso-corp", None) == ""


_OPEN = BEGIN.format(source="sso-corp")
_CLOSE = END.format(source="sso-corp")
_ORG_OPEN = BEGIN.format(source="org-mgmt")
_ORG_CLOSE = END.format(source="org-mgmt")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (f"[a]\n{_OPEN}\n[profile x]\n", 2, "'sso-corp' begun here has no end marker"),
        (f"[a]\n\n{_CLOSE}\n", 3, "end marker of 'sso-corp' has no begin marker"),
        (f"{_OPEN}\n{_CLOSE}\n{_OPEN}\n{_CLOSE}\n", 3, "a second block of 'sso-corp'"),
        (f"{_ORG_OPEN}\n{_OPEN}\n{_CLOSE}\n{_ORG_CLOSE}\n", 2, "inside the block of 'org-mgmt'"),
        (f"{_OPEN}\n{_ORG_OPEN}\n{_ORG_CLOSE}\n{_CLOSE}\n", 2, "inside the block of 'sso-corp'"),
        (f"{_ORG_OPEN}\n{_CLOSE}\n", 2, "end marker of 'sso-corp' inside the block of 'org-mgmt'"),
        (f"[a]\n{_OPEN}\n# <<< rolehop generate sso-corp\n", 3, "looks like a rolehop marker"),
        (f"{_OPEN}\n{_CLOSE}\nregion = x\n", 3, "outside any [section]"),
        (f"{_OPEN}\n{_CLOSE}\n\n# c\n  continued\n[b]\n", 5, "outside any [section]"),
    ],
)
def test_broken_markers_stop_it_at_their_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        replace_block(text, "sso-corp", CORP_BLOCK)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    assert problem in str(caught.value)


def test_a_block_followed_by_comments_and_a_section_is_fine() -> None:
    text = f"{_OPEN}\n{_CLOSE}\n\n  # indented comment\n; other\n[b]\nx = 1\n"
    assert replace_block(text, "sso-corp", CORP_BLOCK) == CORP_BLOCK + text.split(f"{_CLOSE}\n")[1]


def test_a_broken_file_is_named_with_its_line_and_left_as_it_was(folder: Path) -> None:
    path = folder / "config"
    text = f"[default]\nregion = eu-west-1\n{_OPEN}\n[profile corp-dev]\n"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        write_aws_config(path, "sso-corp", CORP)
    where = os.path.realpath(path)
    assert str(caught.value) == f"{where}:3: the block of 'sso-corp' begun here has no end marker"
    assert path.read_text() == text
    assert sorted(os.listdir(folder)) == ["config"]


# ---------------------------------------------------------------------------------------
# hand-written profiles win


def test_a_name_defined_outside_the_block_is_reported_and_left_out(folder: Path) -> None:
    path = folder / "config"
    text = USER + "[profile corp-dev]\nregion = ap-south-1\n"
    path.write_text(text)
    assert defined_outside(text, "sso-corp", CORP) == ("corp-dev",)
    assert write_aws_config(path, "sso-corp", CORP) == Written(True, ("corp-dev",))
    written = path.read_text()
    assert written == text + "\n" + render_block("sso-corp", {"corp-admin": CORP["corp-admin"]})
    profiles = _profiles(path)
    assert profiles["corp-dev"] == {"region": "ap-south-1"}
    assert profiles["corp-admin"] == {"credential_process": CORP["corp-admin"]}


def test_botocore_spellings_and_other_blocks_count_as_defined_outside() -> None:
    text = (
        "[default]\nregion = x\n[profile  spaced]\n[profile 'quoted']\n[profileX odd]\n"
        "[sso-session corp]\n[services corp]\n[profile two words here]\n"
        + render_block("org-mgmt", {"org-audit": ORG["org-audit"]})
        + render_block("sso-corp", {"mine": "rolehop credential-process mine"})
    )
    names = ["default", "spaced", "quoted", "odd", "corp", "two", "org-audit", "mine", "new"]
    assert defined_outside(text, "sso-corp", names) == (
        "default",
        "odd",
        "org-audit",
        "quoted",
        "spaced",
    )


def test_a_block_written_before_its_hand_written_twin_loses_its_copy(folder: Path) -> None:
    """The user wrote [profile corp-dev] after rolehop did: the next write drops rolehop's,
    and botocore, which refuses a duplicated section for the whole file, reads it again."""
    path = folder / "config"
    path.write_text(CORP_BLOCK + "\n[profile corp-dev]\nregion = ap-south-1\n")
    assert write_aws_config(path, "sso-corp", CORP).changed
    assert _profiles(path)["corp-dev"] == {"region": "ap-south-1"}
    assert not write_aws_config(path, "sso-corp", CORP).changed


# ---------------------------------------------------------------------------------------
# what botocore reads


def test_botocore_reads_each_profile_and_the_users_own_unchanged(folder: Path) -> None:
    path = folder / "config"
    user = USER + "[profile later]\nregion = us-east-1\ns3 =\n  addressing_style = path\n"
    path.write_text(user)
    before = _profiles(path)
    odd = {
        name: f"rolehop credential-process {name}"
        for name in ["team/dev", "a.b@c+d=e,f:g", "x#y;z", "%(interp)s", "profile", "p=q"]
    }
    assert write_aws_config(path, "sso-corp", {**CORP, **odd}).changed
    assert write_aws_config(path, "org-mgmt", ORG).changed
    after = _profiles(path)
    generated = {**CORP, **odd, **ORG}
    assert {name: after[name] for name in generated} == {
        name: {"credential_process": command} for name, command in generated.items()
    }
    assert {name: after[name] for name in before} == before
    assert set(after) == set(before) | set(generated)
    session = botocore.session.Session(profile="corp-dev")
    session.set_config_variable("config_file", str(path))
    assert session.get_scoped_config()["credential_process"] == CORP["corp-dev"]


# ---------------------------------------------------------------------------------------
# the file


def test_a_missing_file_and_directory_are_made_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "home" / ".aws-new" / "config"
    assert read_aws_config(path) == ""
    assert write_aws_config(path, "sso-corp", CORP).changed
    assert path.read_text() == CORP_BLOCK
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert os.listdir(path.parent) == ["config"]


def test_an_empty_file_gets_the_block_alone(folder: Path) -> None:
    path = folder / "config"
    path.write_text("")
    assert write_aws_config(path, "sso-corp", CORP).changed
    assert path.read_bytes() == CORP_BLOCK.encode()


def test_the_same_profiles_again_leave_the_file_untouched(folder: Path) -> None:
    path = folder / "config"
    path.write_text(USER)
    assert write_aws_config(path, "sso-corp", CORP).changed
    known = 1_000_000_000_123_456_789
    os.utime(path, ns=(known, known))
    inode, content = path.stat().st_ino, path.read_bytes()
    assert not write_aws_config(path, "sso-corp", dict(reversed(CORP.items()))).changed
    assert path.stat().st_mtime_ns == known
    assert path.stat().st_ino == inode
    assert path.read_bytes() == content
    assert write_aws_config(path, "sso-corp", {})  # changed: written anew
    assert path.stat().st_ino != inode
    assert sorted(os.listdir(folder)) == ["config"]


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o400])
def test_the_file_keeps_its_mode(folder: Path, open_umask: None, mode: int) -> None:
    path = folder / "config"
    path.write_text(USER)
    path.chmod(mode)
    assert write_aws_config(path, "sso-corp", CORP).changed
    assert _mode(path) == mode
    assert path.read_text() == USER + "\n" + CORP_BLOCK


def test_bytes_that_are_not_utf8_stay_as_they_were(folder: Path) -> None:
    path = folder / "config"
    user = b"# caf\xe9 in latin-1\r\n[default]\r\nregion = eu-west-1"
    path.write_bytes(user)
    assert write_aws_config(path, "sso-corp", CORP).changed
    expected = user + b"\r\n\r\n" + CORP_BLOCK.replace("\n", "\r\n").encode()
    assert path.read_bytes() == expected
    assert read_aws_config(path).encode("utf-8", "surrogateescape") == expected


def test_a_symlinked_file_is_followed_and_its_target_replaced_beside_it(
    folder: Path, tmp_path: Path
) -> None:
    """~/.aws/config -> a dotfiles repository's file: the link stays, the file changes."""
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir(mode=0o700)
    target = dotfiles / "aws-config"
    target.write_text(USER)
    target.chmod(0o644)
    link = folder / "config"
    link.symlink_to(target)
    assert write_aws_config(link, "sso-corp", CORP).changed
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert target.read_text() == USER + "\n" + CORP_BLOCK
    assert _mode(target) == 0o644
    assert sorted(os.listdir(folder)) == ["config"]
    assert sorted(os.listdir(dotfiles)) == ["aws-config"]
    assert read_aws_config(link) == USER + "\n" + CORP_BLOCK
    assert not write_aws_config(link, "sso-corp", CORP).changed


def test_a_directory_others_may_write_is_refused(folder: Path) -> None:
    path = folder / "config"
    path.write_text(USER)
    folder.chmod(0o775)
    with pytest.raises(ConfigError, match=r"others may write to .* \(mode 0775\)") as caught:
        write_aws_config(path, "sso-corp", CORP)
    assert caught.value.fix == f"chmod go-w {folder}"
    assert path.read_text() == USER


def test_a_file_others_may_write_is_refused(folder: Path) -> None:
    path = folder / "config"
    path.write_text(USER)
    path.chmod(0o620)
    with pytest.raises(ConfigError, match=r"others may write to it \(mode 0620\)"):
        write_aws_config(path, "sso-corp", CORP)
    assert path.read_text() == USER


def test_a_place_of_another_user_is_refused(folder: Path) -> None:
    """Played by an injected uid: the directory (or, as root, whose directories are
    trusted, the file) belongs to someone else. tests/security plays it with a real user."""
    path = folder / "config"
    path.write_text(USER)
    with pytest.raises(ConfigError, match=r"belongs to uid \d+"):
        write_aws_config(path, "sso-corp", CORP, uid=os.geteuid() + 4242)
    assert path.read_text() == USER


def test_something_else_than_a_file_is_refused(folder: Path) -> None:
    (folder / "config").mkdir()
    with pytest.raises(ConfigError, match="is not a regular file"):
        write_aws_config(folder / "config", "sso-corp", CORP)


def test_bad_names_are_refused_before_the_file_is_read(folder: Path) -> None:
    path = folder / "config"
    path.write_text(f"{_OPEN}\n")  # broken, but the name is the first problem
    with pytest.raises(ConfigError, match="cannot be written as"):
        write_aws_config(path, "sso-corp", {"a]b": "rolehop credential-process x"})


# ---------------------------------------------------------------------------------------
# properties: the round trip


LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # not line breaks to configparser
FREE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n<>")
    | st.sampled_from(LINE_BREAKS),
    max_size=20,
)
NAMES = st.from_regex(r"[a-z][a-z0-9./-]{0,8}", fullmatch=True)
USER_LINE = st.one_of(
    NAMES.map(lambda name: f"[profile {name}]"),
    st.tuples(NAMES, FREE).map(lambda pair: f"{pair[0]} = {pair[1]}"),
    FREE.map(lambda text: f"# {text}"),
    st.sampled_from(["", "   ", "\t", "[default]", "  continued"]),
    FREE,
)
OTHER_BLOCK = st.dictionaries(NAMES, NAMES.map(lambda n: f"rolehop credential-process {n}")).map(
    lambda profiles: render_block("org-mgmt", profiles)
)
ENDING = st.sampled_from(["\n", "\r\n"])


@st.composite
def user_text(draw: st.DrawFn, *, terminated: bool = False) -> str:
    """Lines of all kinds (another source's block among them), each with its own line
    break, the last one perhaps without."""
    pieces = draw(st.lists(st.one_of(USER_LINE, OTHER_BLOCK), max_size=8))
    text = ""
    for piece in pieces:
        text += "".join(line + draw(ENDING) for line in piece.split("\n")[:-1] or [piece])
    if not terminated and pieces and draw(st.booleans()):
        text = text.removesuffix("\r\n").removesuffix("\n")
    return text


def _first_break(text: str) -> str:
    found = re.search(r"\r\n|\r|\n", text)
    return found.group() if found else "\n"


def left_after_removal(text: str) -> str:
    """What appending a block and removing it again leaves of ``text``: the line break
    that ends an unterminated last line, and one blank line unless the text ends with one
    already (or is empty), each the file's first line break ("\\n" if it has none)."""
    if not text:
        return text
    newline = _first_break(text)
    if not text.endswith(("\n", "\r")):
        text += newline
    last = re.split(r"\r\n|\r|\n", text)[-2]
    return text if not last.strip() else text + newline


PROFILES = st.dictionaries(NAMES, NAMES.map(lambda n: f"rolehop credential-process {n}"))
PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(user_text(), PROFILES, PROFILES)
@example("[a]\nx = 1", {"a": "rolehop credential-process a"}, {})
@example("[a]\r\n\r\n", {}, {})
def test_appended_then_removed_leaves_the_text_and_its_separator(
    text: str, first: dict[str, str], second: dict[str, str]
) -> None:
    block, other = render_block("sso-corp", first), render_block("sso-corp", second)
    appended = replace_block(text, "sso-corp", block)
    assert appended.startswith(text)
    assert replace_block(appended, "sso-corp", None) == left_after_removal(text)
    assert replace_block(appended, "sso-corp", block) == appended
    assert replace_block(replace_block(appended, "sso-corp", other), "sso-corp", block) == appended
    newline = _first_break(text)
    assert appended.endswith(block.replace("\n", newline))


@PROPERTY
@given(user_text(terminated=True), NAMES, user_text(), PROFILES, PROFILES)
def test_replaced_in_the_middle_leaves_every_byte_around_it(
    before: str, name: str, after: str, first: dict[str, str], second: dict[str, str]
) -> None:
    after = f"[profile {name}]\n{after}"  # a key right after the block would join its last profile
    block, other = render_block("sso-corp", first), render_block("sso-corp", second)
    newline = _first_break(before + after)
    text = before + block.replace("\n", newline) + after
    replaced = replace_block(text, "sso-corp", other)
    assert replaced == before + other.replace("\n", newline) + after
    assert replace_block(replaced, "sso-corp", other) == replaced
    assert replace_block(text, "sso-corp", None) == before + after


def test_a_dry_run_compares_and_writes_nothing(folder: Path) -> None:
    path = folder / "config"
    path.write_text(USER)
    before = os.stat(path)
    assert write_aws_config(path, "sso-corp", CORP, dry_run=True) == Written(True, ())
    assert path.read_text() == USER
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert sorted(os.listdir(folder)) == ["config"]
    assert write_aws_config(path, "sso-corp", CORP).changed
    assert write_aws_config(path, "sso-corp", CORP, dry_run=True) == Written(False, ())


def test_a_dry_run_makes_no_directory(folder: Path) -> None:
    path = folder / "new" / "config"
    assert write_aws_config(path, "sso-corp", CORP, dry_run=True) == Written(True, ())
    assert not path.parent.exists()
