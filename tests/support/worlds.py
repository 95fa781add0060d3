"""The shared fixtures of the stubbed tests (a pytest plugin, loaded by tests/conftest.py).

``world``
    a :class:`~tests.support.stubs.StubWorld` (stubbed STS, fixed clock, in-memory
    keyring) for tests of the engine: ``resolve(world.app(), ...)``.
``state``
    a fresh :class:`~tests.support.cli.StubbedState` installed for
    :func:`~tests.support.cli.rolehop_main` (rolehop's CLI in process), as the next
    ``rolehop`` process would have it; ``sts`` is its stubbed STS, over the module's files.
``world_files``
    the sandbox with the module's files written (``world`` and ``sts`` ask for it).

A module says what its world holds with the ``world`` marker, not with fixtures of its
own; a test may have its own marker, which wins (``@pytest.mark.world()``: no files)::

    pytestmark = pytest.mark.world(kind=World, aws_credentials=JOE_CREDENTIALS, rolehop=CONFIG)

The marker's arguments are those of :class:`WorldSetup`, by name: ``kind``, the
``StubWorld`` subclass to make (for the module's own helpers and wiring; ``StubWorld``
itself by default), and the files to write, as ``Sandbox.write_*`` take them. (By name: a
mark called with a class alone would decorate the class instead.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.support.cli import StubbedState, fresh_run
from tests.support.stubs import StubSts, StubWorld

if TYPE_CHECKING:
    from tests.conftest import Sandbox


@dataclass(frozen=True, kw_only=True)
class WorldSetup:
    """What the ``world`` marker says: the StubWorld class, and the files to write."""

    kind: type[StubWorld] = StubWorld
    aws_credentials: str | None = None
    aws_config: str | None = None
    rolehop: str | None = None

    def write(self, sandbox: Sandbox) -> None:
        if self.aws_credentials is not None:
            sandbox.write_aws_credentials(self.aws_credentials)
        if self.aws_config is not None:
            sandbox.write_aws_config(self.aws_config)
        if self.rolehop is not None:
            sandbox.write_rolehop(self.rolehop)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "world(*, kind=StubWorld, aws_credentials=None, aws_config=None, rolehop=None): "
        "the StubWorld subclass the world fixture makes, and the sandbox files written for "
        "the world and sts fixtures (tests/support/worlds.py)",
    )


@pytest.fixture
def world_setup(request: pytest.FixtureRequest) -> WorldSetup:
    """The closest ``world`` marker's setup (the test's, else its class's or module's)."""
    marker = request.node.get_closest_marker("world")
    return WorldSetup(**marker.kwargs) if marker else WorldSetup()


@pytest.fixture
def world_files(world_setup: WorldSetup, sandbox: Sandbox) -> Sandbox:
    """The sandbox, with the files the ``world`` marker names written into it."""
    world_setup.write(sandbox)
    return sandbox


@pytest.fixture
def world(world_setup: WorldSetup, world_files: Sandbox) -> StubWorld:
    """A StubWorld (or the marker's subclass of it) over the sandbox and its files."""
    return world_setup.kind(world_files)


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch) -> StubbedState:
    """A fresh state per test, handed to ``main``: it caches the context and the warnings
    seen. No files: a module that wants them asks for ``world_files`` or ``sts``."""
    return fresh_run(monkeypatch)


@pytest.fixture
def sts(world_files: Sandbox, state: StubbedState) -> StubSts:
    """The stubbed STS of ``rolehop_main``'s state, over the ``world`` marker's files."""
    return state.sts
