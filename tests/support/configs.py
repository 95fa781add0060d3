"""The sandbox's configuration loaded as rolehop loads it, for the config tests
(tests/test_config.py, tests/test_config_toml.py, tests/test_config_aws.py)."""

from __future__ import annotations

import os

import pytest

from rolehop.config import files as config
from rolehop.config.files import Config
from rolehop.errors import ConfigError

ARN = "arn:aws:iam::123456789012:role/a"


def load() -> Config:
    return config.load(dict(os.environ))


def load_error() -> ConfigError:
    """The error of a bad configuration: from loading it when it affects every profile,
    else from using the one profile it breaks (which loading keeps aside)."""
    try:
        loaded = load()
    except ConfigError as error:
        return error
    assert len(loaded.broken) == 1, f"loaded, with broken profiles {list(loaded.broken)}"
    [(name, broken)] = loaded.broken.items()
    with pytest.raises(ConfigError) as caught:
        loaded.profile(name)
    assert caught.value is broken
    return broken


# Lines 1-4 hold a valid profile whose keys share names with the broken one below it,
# so a line number taken from the wrong profile shows up.
PREFIX = """\
[profiles.ok]
role_arn = "arn:aws:iam::123456789012:role/ok"
source_profile = "base"

"""
