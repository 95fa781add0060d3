"""The agent's parts without processes: argv parsing of the fast path, the protocol, peer
credentials, the service's answers, and refusing peers of another uid."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rolehop import __version__, entry
from rolehop.agent import peer, protocol
from rolehop.agent.listener import Agent
from rolehop.agent.memory import MemoKeyStore, MemoryCache
from rolehop.agent.service import Service
from rolehop.common.creds import Credentials
from rolehop.stores import private
from rolehop.stores.cache import KeyringCache
from rolehop.stores.memory_keyring import MemoryKeyring
from tests.conftest import Sandbox

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["credential-process", "p"], {"command": "credential-process", "profile": "p"}),
        (["env", "p", "--shell", "fish"], {"command": "env", "profile": "p", "shell": "fish"}),
        (["env", "p", "--shell=zsh"], {"command": "env", "profile": "p", "shell": "zsh"}),
        (
            ["--config", "/c.toml", "env", "p"],
            {"command": "env", "profile": "p", "config": "/c.toml"},
        ),
        (["--debug", "credential-process", "p"], {"command": "credential-process", "profile": "p"}),
    ],
)
def test_the_fast_path_takes_simple_calls(argv: list[str], expected: dict[str, str]) -> None:
    assert entry.parse(argv) == {"config": None, "shell": None, **expected}


@pytest.mark.parametrize(
    "argv",
    [
        ["credential-process", "p", "--refresh"],
        ["credential-process", "p", "--mfa-token", "123456"],
        ["env", "p", "--shell", "tcsh"],
        ["exec", "p", "--", "true"],
        ["credential-process", "--help"],
        ["list"],
        [],
        ["--config"],
    ],
)
def test_everything_else_goes_direct(argv: list[str]) -> None:
    assert entry.parse(argv) is None


def test_linux_peer_credentials() -> None:
    assert peer.linux_uid(struct.pack("3i", 4242, 1000, 1000)) == 1000


def test_macos_peer_credentials() -> None:
    raw = peer.XUCRED.pack(0, 501, 1, *([20] + [0] * 15))
    assert peer.xucred_uid(raw) == 501


def test_peer_of_a_socketpair_is_us() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert peer.peer_uid(left) == os.getuid()


def test_the_socket_is_per_user_and_keyring_scope(tmp_path: Path) -> None:
    environ = {"XDG_RUNTIME_DIR": str(tmp_path)}
    path = protocol.socket_path(environ)
    assert path and path.startswith(str(tmp_path / "rolehop" / "agent-"))
    other = protocol.socket_path({**environ, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"})
    assert other != path
    assert protocol.socket_path({}) is None or sys.platform == "darwin"


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no"])
def test_rolehop_agent_0_disables(value: str) -> None:
    assert protocol.disabled_by({"ROLEHOP_AGENT": value})
    assert not protocol.disabled_by({})


def test_private_directory_is_fixed_or_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.close(private.open_directory(str(loose), os.getuid()))
    assert loose.stat().st_mode & 0o777 == 0o700
    with pytest.raises(private.UnsafePath):
        private.open_directory(str(loose), os.getuid() + 1)  # someone else's


def _service(keyring: MemoryKeyring) -> Service:
    cache = MemoryCache(KeyringCache(keyring, pytest.fail, lambda: NOW))
    return Service(cache, MemoKeyStore(keyring, lambda: NOW), idle_timeout=60, clock=lambda: NOW)


def test_other_versions_are_refused_but_may_stop_it() -> None:
    service = _service(MemoryKeyring())
    answer = service.handle({"v": 0, "version": "0.0.1", "op": "status"})
    assert (answer["ok"], answer["error"]) == (False, "version mismatch")
    assert not service.stopping
    assert service.handle({"v": 99, "op": "stop"})["stopping"] is True
    assert service.stopping


def test_memory_reads_the_keyring_once_and_forgets_on_request() -> None:
    keyring = MemoryKeyring()
    cache = MemoryCache(KeyringCache(keyring, pytest.fail, lambda: NOW))
    one = Credentials("ASIAONE", "s1", "t1", NOW + timedelta(hours=1))
    cache.inner.put("k", one, label="p")
    assert cache.get("k") == one
    keyring.items.clear()  # the memory copy answers now
    assert cache.get("k") == one
    cache.forget({"k"})
    assert cache.get("k") is None


def test_a_resolve_miss_and_hit(sandbox: Sandbox) -> None:
    sandbox.write_aws_credentials("[joe]\naws_access_key_id = AKIAJOE\naws_secret_access_key = s\n")
    sandbox.write_rolehop(
        '[profiles.p]\nrole_arn = "arn:aws:iam::111122223333:role/r"\nsource_profile = "joe"\n'
    )
    keyring = MemoryKeyring()
    service = _service(keyring)
    environ = dict(os.environ)
    ask = protocol.request("resolve", environ=environ, profile="p", command="credential-process")

    miss = service.handle(ask)
    assert (miss["ok"], miss["hit"]) == (True, False)

    from rolehop.engine import context
    from rolehop.engine.resolve import chain_of

    app = context.build(environ, cache=service.cache.inner, clock=lambda: NOW)
    key = chain_of(app, "p").keys[-1]
    issued = Credentials("ASIAHIT", "hit-secret", "hit-token", NOW + timedelta(hours=1))
    service.cache.inner.put(key, issued, label="p")  # what the direct path writes

    hit = service.handle(ask)
    assert hit["hit"] is True and '"AccessKeyId": "ASIAHIT"' in hit["stdout"]
    assert service.served == {"hit": 1, "miss": 1, "work": 0}
    assert hit["v"] == protocol.PROTOCOL and hit["version"] == __version__


@contextlib.contextmanager
def running(agent: Agent, service: Service) -> Iterator[None]:
    """``agent`` serving in a thread of this process until the block ends."""
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    _wait_listening(agent.path, thread)
    try:
        yield
    finally:
        service.stopping = True
        thread.join(timeout=10)


def _wait_listening(path: str, thread: threading.Thread) -> None:
    """Until the socket at ``path`` accepts connections (bound is not yet listening)."""
    deadline = time.monotonic() + 10
    while True:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(path)
                return
            except (FileNotFoundError, ConnectionRefusedError):
                pass
        assert time.monotonic() < deadline and thread.is_alive(), "the agent did not start"
        time.sleep(0.01)


def _refuses(peer: Callable[[socket.socket], int | None], tmp_path: Path) -> bytes:
    service = _service(MemoryKeyring())
    agent = Agent(str(tmp_path / "run" / "a.sock"), lambda: service, peer=peer)
    with running(agent, service), socket.socket(socket.AF_UNIX) as client:
        client.connect(agent.path)
        client.settimeout(2)
        try:
            client.sendall(protocol.encode(protocol.request("status")))
        except BrokenPipeError:  # closed on us before we could even ask
            return b""
        return _answer(client)


def _unknown(connection: socket.socket) -> int | None:
    return None


def _failing(connection: socket.socket) -> int | None:
    raise OSError("no peer credentials here")


@pytest.mark.parametrize("peer", [lambda c: 4242, _unknown, _failing])
def test_a_peer_of_another_or_an_unknown_uid_gets_nothing(
    tmp_path: Path, peer: Callable[[socket.socket], int | None]
) -> None:
    assert _refuses(peer, tmp_path) == b""  # closed without a word


def test_a_peer_of_this_uid_is_answered(tmp_path: Path) -> None:
    assert b'"pid"' in _refuses(lambda c: os.getuid(), tmp_path)  # the control


def _answer(connection: socket.socket) -> bytes:
    try:
        return connection.recv(100)
    except ConnectionResetError:  # closed with our request unread: refused all the same
        return b""


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another uid")
def test_a_real_peer_of_another_uid_is_refused() -> None:
    """As root: open the socket to everyone, connect as nobody from a forked child, and be
    refused by the kernel's word on the peer (SO_PEERCRED), the only check left."""
    shared = Path(tempfile.mkdtemp(prefix="rolehop-peer-"))
    path = str(shared / "agent.sock")
    service = _service(MemoryKeyring())
    agent = Agent(path, lambda: service)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        _wait_listening(path, thread)
        shared.chmod(0o755)  # after the agent made it private: open to everyone
        os.chmod(path, 0o777)  # noqa: S103
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe, only
            try:
                os.setgid(65534)
                os.setuid(65534)
                connection = socket.socket(socket.AF_UNIX)
                connection.connect(path)
                connection.settimeout(5)
                try:
                    connection.sendall(protocol.encode(protocol.request("status")))
                    answer = _answer(connection)
                except BrokenPipeError:  # closed on us before we could even ask
                    answer = b""
                os.write(writer, b"answer:" + answer)
            except BaseException as error:
                os.write(writer, f"failed: {error!r}".encode())
            finally:
                os._exit(0)
        os.close(writer)
        os.waitpid(child, 0)
        assert os.read(reader, 1000) == b"answer:"  # nothing after the colon
        os.close(reader)
    finally:
        service.stopping = True
        thread.join(timeout=10)
        shutil.rmtree(shared)


def test_without_an_agent_the_remote_cache_is_the_local_one(tmp_path: Path) -> None:
    from rolehop.agent.remote import AgentLink

    local = KeyringCache(MemoryKeyring(), pytest.fail, lambda: NOW)
    link = AgentLink({"XDG_RUNTIME_DIR": str(tmp_path)})  # no agent listens there
    cache = link.cache(lambda: local, None)
    entry = Credentials("ASIALOCAL", "s", "t", NOW + timedelta(hours=1))

    cache.put("k", entry, label="p")

    assert not link.usable  # one failed try, then the local keyring for good
    assert local.get("k") == entry and cache.get("k") == entry
    assert set(cache.index()) == {"k"}


def test_an_exited_lead_not_yet_reaped_is_not_waited_for() -> None:
    """The 32-process benchmark's hang: a lead that exited but was not reaped by its
    parent (a zombie) still answers kill(pid, 0)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        assert not entry.alive(child.pid)
        assert entry.alive(os.getpid())
    finally:
        child.wait()
    assert not entry.alive(child.pid)


def test_waiting_for_a_lead_that_never_takes_the_lock_ends(tmp_path: Path) -> None:
    answer = {
        "lead": False,
        "lead_pid": 0,  # gone
        "lease_age": 0.0,
        "key": "c" * 64,
        "lock_timeout": 60,
    }
    started = time.monotonic()
    assert entry.wait_for_the_lead(answer, str(tmp_path / "agent.sock")) is False
    assert time.monotonic() - started < 1


# -- found in review: each a way the agent could differ from the direct path, or fall over


class _FlakyKeyring(MemoryKeyring):
    """Fails the next read of ``key:NAME`` entries, ``failing`` times."""

    failing = 0

    def get_password(self, service: str, username: str) -> str | None:
        if self.failing and username.startswith("key:"):
            self.failing -= 1
            raise RuntimeError("a dismissed unlock prompt")
        return super().get_password(service, username)


def test_a_failed_read_of_a_stored_key_id_is_not_remembered_as_none() -> None:
    from rolehop.stores.keys import KeyStore

    keyring = _FlakyKeyring()
    KeyStore(keyring, lambda: NOW).add("base", Credentials("AKIASTORED0000000001", "s"))
    service = _service(keyring)
    keyring.failing = 1
    before = service.keyring_failures()

    assert service.keystore.key_id("base") is None  # this request: goes the direct way
    assert service.keyring_failures() == before + 1
    assert service.keystore.key_id("base") == "AKIASTORED0000000001"  # and the next works


class _PartlyFailingKeyring(MemoryKeyring):
    """Fails every write of an entry, but not of the index."""

    def set_password(self, service: str, username: str, password: str) -> None:
        if username != "index":
            raise RuntimeError("the entry was not stored")
        super().set_password(service, username, password)


def test_memory_keeps_only_what_the_keyring_stored() -> None:
    keyring = _PartlyFailingKeyring()
    cache = MemoryCache(KeyringCache(keyring, lambda m: None, lambda: NOW, sticky=False))
    service = Service(cache, MemoKeyStore(keyring, lambda: NOW), idle_timeout=60)
    entry = Credentials("ASIANOTSTORED", "s", "t", NOW + timedelta(hours=1))

    service.cache.put("k", entry, label="p")

    assert "k" not in service.cache.entries


def test_the_list_rows_are_the_callers(sandbox: Sandbox) -> None:
    """list's rows depend on the caller's variables (its user name is in the cache keys):
    two callers never share them."""
    sandbox.write_aws_credentials("[joe]\naws_access_key_id = AKIAJOE\naws_secret_access_key = s\n")
    sandbox.write_rolehop(
        '[profiles.p]\nrole_arn = "arn:aws:iam::111122223333:role/r"\nsource_profile = "joe"\n'
    )
    keyring = MemoryKeyring()
    service = _service(keyring)
    from rolehop.engine import context
    from rolehop.engine.resolve import chain_of

    alice = {**os.environ, "USER": "alice"}
    ctx = context.build(alice, cache=service.cache.inner, clock=lambda: NOW)
    key = chain_of(ctx, "p").keys[-1]
    service.cache.inner.put(
        key, Credentials("ASIAALICE", "s", "t", NOW + timedelta(hours=1)), label="p"
    )

    def rows(environ: dict[str, str]) -> list[dict[str, object]]:
        answer = service.handle(
            protocol.request("profiles", environ=environ, config=None, backend=None)
        )
        assert answer["ok"], answer
        return list(answer["rows"])

    def p(rows: list[dict[str, object]]) -> dict[str, object]:
        return next(row for row in rows if row["name"] == "p")

    assert p(rows(alice))["cached_until"] is not None
    assert p(rows({**os.environ, "USER": "bob"}))["cached_until"] is None


def test_the_sts_scope_compares_files_not_their_spelling(tmp_path: Path) -> None:
    here = {"AWS_CONFIG_FILE": "aws.conf"}
    assert protocol.sts_scope(here, str(tmp_path)) == protocol.sts_scope(
        {"AWS_CONFIG_FILE": str(tmp_path / "aws.conf")}, "/"
    )
    assert protocol.sts_scope(here, str(tmp_path)) != protocol.sts_scope(here, "/")
    bundle = protocol.sts_scope({"REQUESTS_CA_BUNDLE": "/etc/corp.pem"}, "/")
    assert bundle != protocol.sts_scope({}, "/")
    assert protocol.sts_scope({"AWS_SECRET_ACCESS_KEY": "x", "AWS_PROFILE": "p"}, "/") == (
        protocol.sts_scope({}, "/")
    )


def test_keyring_properties_choose_another_agent(tmp_path: Path) -> None:
    environ = {"XDG_RUNTIME_DIR": str(tmp_path)}
    work = {**environ, "KEYRING_PROPERTY_PREFERRED_COLLECTION": "/org/freedesktop/x/work"}
    assert protocol.socket_name(environ) != protocol.socket_name(work)


def test_the_request_makes_every_directory_absolute(tmp_path: Path) -> None:
    environ = {
        "HOME": "/home/joe",
        "XDG_CACHE_HOME": "cache",
        "XDG_RUNTIME_DIR": "run",
        "TMPDIR": "tmp",
        "LNAME": "joe",
    }
    sent = protocol.request_environ(environ, str(tmp_path))
    for name in ("XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "TMPDIR"):
        assert sent[name] == str(tmp_path / environ[name]), name
    assert sent["AWS_CONFIG_FILE"] == "/home/joe/.aws/config"
    assert sent["LNAME"] == "joe"


def test_a_flood_of_unfinished_requests_never_stops_the_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the cap, the oldest unfinished request is dropped, perhaps while its own bytes
    wait in the same round of events: the agent must not fall over (a KeyError did)."""
    from rolehop.agent import listener as server

    monkeypatch.setattr(server, "MAX_PENDING", 2)
    service = _service(MemoryKeyring())
    agent = Agent(str(tmp_path / "run" / "a.sock"), lambda: service)
    with running(agent, service):
        for _ in range(30):
            batch = []
            for _ in range(3):
                half = socket.socket(socket.AF_UNIX)
                half.connect(agent.path)
                half.sendall(b'{"op": "sta')
                batch.append(half)
            for half in batch:
                half.close()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(agent.path)
            client.settimeout(5)
            client.sendall(protocol.encode(protocol.request("status")))
            assert b'"pid"' in _answer(client)


def test_oversized_requests_leave_no_bytes_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rolehop.agent import listener as server

    monkeypatch.setattr(server, "MAX_REQUEST", 1000)
    service = _service(MemoryKeyring())
    agent = Agent(str(tmp_path / "run" / "a.sock"), lambda: service)
    with running(agent, service):
        for _ in range(3):
            with socket.socket(socket.AF_UNIX) as large:
                large.connect(agent.path)
                with contextlib.suppress(OSError):
                    large.sendall(b"x" * 5000)
                    large.settimeout(5)
                    large.recv(1)  # closed by the agent
        deadline = time.monotonic() + 5
        while agent.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert agent.in_flight == 0
