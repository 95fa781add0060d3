"""``rolehop use`` with no profile, on a terminal: a fuzzy picker over every profile, the
ones used last first (fzf, through iterfzf, which ships it).

``use`` runs ``rolehop env`` inside ``$(...)``: stdout is the shell's, so fzf draws on the
terminal itself (/dev/tty), as it always does, and only the choice comes back.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable, Mapping

from rolehop.config import files as configs
from rolehop.config import validate
from rolehop.errors import ConfigError, RolehopError, UsageError
from rolehop.stores import recent

# fzf's options: inline under the prompt (not the whole screen), the list read top-down
# in the order given (the last used first), ties kept in that order
_FZF = ("--height=~40%", "--layout=reverse", "--tiebreak=index", "--no-multi")


class NothingPicked(RolehopError):
    """The picker was left without a choice."""

    exit_code = 2


def ordered(names: Iterable[str], used: list[str]) -> list[str]:
    """``names`` with those in ``used`` first (in its order), then the rest by name; a
    name with control characters is no profile anyone can pick."""
    known = {name for name in names if validate.PROFILE_NAME.fullmatch(name)}
    first = [name for name in dict.fromkeys(used) if name in known]
    return first + sorted(known - set(first))


def pick_profile(environ: Mapping[str, str], override: str | None) -> str:
    """The profile a person picks; :class:`UsageError` when there is none to pick."""
    try:
        names = configs.profile_names(environ, override, bases=True)
    except (OSError, ValueError, configparser.Error) as error:
        path = configs.rolehop_config_path(environ, override)
        raise ConfigError(f"cannot list the profiles to pick from: {error}", path=path) from None
    choices = ordered(names, recent.read(environ))
    if not choices:
        raise UsageError(
            "no profiles to pick from: add one (see `rolehop init` and the README), or "
            "name a role: --role-arn ARN --source PROFILE"
        )
    from iterfzf import iterfzf

    chosen = iterfzf(choices, prompt="profile> ", __extra__=_FZF)
    if not chosen:
        raise NothingPicked("no profile picked")
    assert isinstance(chosen, str)
    return chosen
