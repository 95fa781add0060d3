"""A moto server over HTTP, shared by the integration tests and reset for each one.

``joe`` seeds it and puts Joe's access key into the sandbox's AWS credentials file.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator

import pytest

from rolehop.features.demo import Emulator
from tests.conftest import Sandbox
from tests.support.local_endpoints import StsRecording, sts_recording


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """A clean emulator; AWS_ENDPOINT_URL points every AWS client of the test at it."""
    reset = f"{moto_url}/moto-api/reset"  # loopback only
    request = urllib.request.Request(reset, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return Emulator(moto_url)


@pytest.fixture
def joe(sandbox: Sandbox, moto: Emulator) -> dict[str, str]:
    """Seed the emulator and write Joe's access key into ``~/.aws/credentials`` as ``joe``.

    Returns the key (``id``, ``secret``), as :meth:`Emulator.seed` does.
    """
    key = moto.seed()
    sandbox.write_aws_credentials(
        f"""\
        [joe]
        aws_access_key_id = {key["id"]}
        aws_secret_access_key = {key["secret"]}
        """
    )
    return key


@pytest.fixture
def recording(
    moto: Emulator, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StsRecording]:
    """moto's recorder for this test: the STS calls rolehop makes, but the emulator's own
    set-up calls (seeding signs with :data:`~tests.support.local_endpoints.SETUP_KEY` and is
    left out, whether it runs before or after this fixture)."""
    with sts_recording(moto.url, tmp_path_factory.mktemp("moto"), monkeypatch) as recorded:
        yield recorded
