"""A fake AWS console federation endpoint (``https://signin.aws.amazon.com/federation``).

:func:`fake_federation` runs a :class:`FakeFederation` on 127.0.0.1 (a free port, threaded)
for as long as its block runs. Like the real one, it wants ``Action=getSigninToken`` and a
``Session`` JSON of exactly ``sessionId``, ``sessionKey`` and ``sessionToken`` (from the
query string or a form body), and an optional ``SessionDuration`` of 900-43200 seconds;
it answers ``{"SigninToken": ...}`` with its ``token``, and HTTP 400 to anything else.
Every request is recorded, parsed. It can be told to fail: :meth:`FakeFederation.fail_next`
queues answers (a status and a body: a 500, garbage...), and ``refuse_session_duration``
plays the real endpoint with role-chained credentials (400 whenever SessionDuration is sent).
It serves https too, with a certificate of its own, where a test needs a custom
``federation_url`` (which is https, or plain http to a loopback host for the fake itself).

Not a test module: shared by tests/test_federation.py and the integration tests.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import ssl
import threading
import urllib.parse
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.local_endpoints import FakeEndpoint, Seen

SESSION_KEYS = {"sessionId", "sessionKey", "sessionToken"}


@dataclass(frozen=True)
class TokenRequest:
    """One request the fake received: query and form parameters, the Session parsed."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}

    @property
    def session(self) -> dict[str, str] | None:
        """The Session JSON, if it is a JSON object."""
        try:
            document = json.loads(self.params.get("Session", ""))
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    @property
    def session_duration(self) -> str | None:
        return self.params.get("SessionDuration")


def _flat(text: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


class FakeFederation:
    """What the fake answers and what it saw; ``url`` is its federation endpoint."""

    def __init__(self) -> None:
        self.token = "FakeSigninToken-" + secrets.token_urlsafe(96)
        self.requests: list[TokenRequest] = []
        self.failures: deque[tuple[int, str]] = deque()
        self.refuse_session_duration = False
        self.endpoint: FakeEndpoint | None = None
        self.scheme = "http"

    @property
    def url(self) -> str:
        assert self.endpoint is not None, "not serving"
        return f"{self.scheme}://127.0.0.1:{self.endpoint.server_port}/federation"

    def fail_next(self, status: int, body: str = "") -> None:
        """Answer the next request with ``status`` and ``body``, whatever it asks."""
        self.failures.append((status, body))

    def respond(self, seen: Seen) -> tuple[int, str]:
        path, _, query = seen.path.partition("?")
        form = _flat(seen.body) if seen.method == "POST" else {}
        request = TokenRequest(seen.method, path, _flat(query), form, seen.headers)
        self.requests.append(request)
        if self.failures:
            return self.failures.popleft()
        problem = self._problem(request)
        if problem is not None:
            return 400, problem
        return 200, json.dumps({"SigninToken": self.token})

    def _problem(self, request: TokenRequest) -> str | None:
        """Why the real endpoint would refuse ``request`` (it answers 400), if it would."""
        if request.path != "/federation":
            return f"no such path {request.path!r}"
        if request.params.get("Action") != "getSigninToken":
            return "Action must be getSigninToken"
        session = request.session
        if session is None or set(session) != SESSION_KEYS:
            return "Session must be JSON with sessionId, sessionKey and sessionToken"
        if not all(isinstance(value, str) and value for value in session.values()):
            return "Session values must be non-empty strings"
        duration = request.session_duration
        if duration is not None:
            if self.refuse_session_duration:
                return "SessionDuration is not allowed for these credentials"
            if not duration.isdigit() or not 900 <= int(duration) <= 43200:
                return "SessionDuration must be 900-43200"
        return None


@contextmanager
def fake_federation(tls: Path | None = None) -> Iterator[FakeFederation]:
    """A :class:`FakeFederation` serving on 127.0.0.1 while the block runs; over https with
    a certificate for 127.0.0.1 written into the folder ``tls`` (as ``cert.pem``, which a
    client must trust: ``SSL_CERT_FILE``), if given."""
    fake = FakeFederation()
    endpoint = fake.endpoint = FakeEndpoint(fake.respond)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_self_signed(tls))
        endpoint.socket = context.wrap_socket(endpoint.socket, server_side=True)
        fake.scheme = "https"
    # a short poll interval: stopping the server takes that long
    thread = threading.Thread(target=endpoint.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        endpoint.shutdown()
        endpoint.server_close()
        thread.join(timeout=5)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rolehop test federation")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
