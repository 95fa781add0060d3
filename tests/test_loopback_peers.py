"""rolehop.loopback.peers: who holds the client end of a loopback connection, read from
canned /proc/net/tcp and tcp6 texts (addresses in little-endian host byte order, as on
x86 and ARM) and, on Linux, from the real tables."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from rolehop.loopback import peers, sockdiag
from rolehop.loopback.peers import FromTables, Row, SameUser, connection_uid, parse_row

HEADING = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
)
TAIL = "00000000:00000000 00:00000000 00000000"
P, C = 0x9C40, 0xD431  # the server's port, a client's port
SERVER = ("127.0.0.1", P)
VICTIM, ATTACKER = 1000, 1001


def table(*rows: str) -> str:
    """A table from ``local remote state uid`` rows."""
    lines = []
    for number, row in enumerate(rows):
        local, remote, state, uid = row.split()
        lines.append(f"{number:4}: {local} {remote} {state} {TAIL} {uid:>5} 0 {number + 10} 1")
    return HEADING + "\n".join(lines) + "\n"


LISTENING = f"0100007F:{P:04X} 00000000:0000 0A {VICTIM}"

# another user bound 127.0.0.5:P and connected to 127.0.0.1:P: the server's row of that
# connection has the same ports as the attacker's, and the victim's uid
PORT_PAIR = table(
    LISTENING,
    f"0100007F:{P:04X} 0500007F:{P:04X} 01 {VICTIM}",  # the server's end
    f"0500007F:{P:04X} 0100007F:{P:04X} 01 {ATTACKER}",  # the client's end
)

# root's closed connection from 127.0.0.1:C (TIME_WAIT rows show uid 0), and another user
# connecting from 127.0.0.5:C
TIME_WAIT = table(
    LISTENING,
    f"0100007F:{C:04X} 0100007F:{P:04X} 06 0",
    f"0100007F:{P:04X} 0500007F:{C:04X} 01 {VICTIM}",
    f"0500007F:{C:04X} 0100007F:{P:04X} 01 {ATTACKER}",
)

MAPPED = "0000000000000000FFFF00000100007F"  # ::ffff:127.0.0.1
TCP6 = table(
    f"{MAPPED}:{C:04X} {MAPPED}:{P:04X} 01 {VICTIM}",  # a dual-stack client's socket
    f"{'0' * 24}01000000:{C + 1:04X} {'0' * 24}01000000:{P:04X} 01 {ATTACKER}",  # ::1
)


def test_a_row_is_read_with_its_addresses_in_host_byte_order() -> None:
    line = f"   2: 0500007F:{P:04X} 0100007F:{P:04X} 01 {TAIL}  1001        0 13 1"
    assert parse_row(line, "little") == Row(
        (IPv4Address("127.0.0.5"), P), (IPv4Address("127.0.0.1"), P), 0x01, 1001
    )
    big_endian = line.replace("0500007F", "7F000005").replace("0100007F", "7F000001")
    assert parse_row(big_endian, "big") == parse_row(line, "little")


def test_v4_mapped_and_ipv6_addresses_are_read() -> None:
    mapped, ipv6 = (parse_row(line, "little") for line in TCP6.splitlines()[1:])
    assert mapped is not None and ipv6 is not None
    assert mapped.local == (IPv4Address("127.0.0.1"), C)  # given as the IPv4 address
    assert ipv6.remote == (IPv6Address("::1"), P)


@pytest.mark.parametrize(
    "line",
    [
        HEADING,
        "",
        "   3: garbage",
        f"   0: 0100007F {TAIL} 01 x y z 1000 0",
        f"   0: 0100007:9C40 0100007F:9C40 01 {TAIL} 1000",  # 7 hex digits
        f"   0: 0100007F:9C40 0100007F:9C4 01 {TAIL} 1000",
        f"   0: 0100007F:9C40 0100007F:9C40 01 {TAIL} uid",
    ],
)
def test_lines_that_are_no_rows_are_skipped(line: str) -> None:
    assert parse_row(line, "little") is None


def test_the_port_pair_trick_finds_the_attackers_own_row() -> None:
    assert connection_uid(("127.0.0.5", P), SERVER, [PORT_PAIR], "little") == ATTACKER


def test_the_servers_own_row_never_counts_as_the_client() -> None:
    """Without the client's row (say, a table read too late) the owner is unknown, not the
    server's own uid: the server's row matches the ports but not the addresses."""
    without_client = "\n".join(PORT_PAIR.splitlines()[:-1]) + "\n"
    assert connection_uid(("127.0.0.5", P), SERVER, [without_client], "little") is None


def test_time_wait_rows_do_not_count() -> None:
    assert connection_uid(("127.0.0.5", C), SERVER, [TIME_WAIT], "little") == ATTACKER
    # the TIME_WAIT row alone says uid 0, which is nobody's live connection
    assert connection_uid(("127.0.0.1", C), SERVER, [TIME_WAIT], "little") is None


def test_a_dual_stack_client_is_found_in_tcp6() -> None:
    tables = [TIME_WAIT, TCP6]
    assert connection_uid(("127.0.0.1", C), SERVER, tables, "little") == VICTIM
    assert connection_uid(("::ffff:127.0.0.1", C), SERVER, tables, "little") == VICTIM
    assert connection_uid(("::1", C + 1), ("::1", P), tables, "little") == ATTACKER


def test_rows_that_disagree_leave_the_owner_unknown() -> None:
    twice = table(
        f"0500007F:{C:04X} 0100007F:{P:04X} 01 {VICTIM}",
        f"0500007F:{C:04X} 0100007F:{P:04X} 01 {ATTACKER}",
    )
    assert connection_uid(("127.0.0.5", C), SERVER, [twice], "little") is None


def test_a_long_table_yields_only_the_rows_to_the_port() -> None:
    noise = [f"0100007F:{port:04X} 0100007F:{port + 1:04X} 01 {ATTACKER}" for port in range(5000)]
    long = table(*noise, f"0500007F:{C:04X} 0100007F:{P:04X} 01 {VICTIM}", *noise)
    assert connection_uid(("127.0.0.5", C), SERVER, [long], "little") == VICTIM


def links(*peers: tuple[str, int]) -> list[tuple[tuple[str, int], tuple[str, int]]]:
    return [(peer, SERVER) for peer in peers]


def test_same_user_admits_only_its_own_users_connections() -> None:
    tables = FromTables(lambda: [TIME_WAIT], "little")
    asked = links(("127.0.0.5", C), ("127.0.0.1", C))
    assert SameUser(tables, uid=VICTIM)(asked) == [False, False]
    assert SameUser(tables, uid=ATTACKER)(asked) == [True, False]
    assert SameUser(tables, uid=0)(asked) == [False, False]


def test_same_user_fails_closed_when_the_owner_is_unknown() -> None:
    """No table could be read, or the connection is not in it: refused (on Linux)."""
    for tables in ([], [HEADING], [PORT_PAIR]):
        same = SameUser(FromTables(lambda: tables, "little"), uid=VICTIM)  # noqa: B023
        assert same(links(("127.0.0.9", C))) == [False]


def test_same_user_admits_everything_where_there_is_no_table() -> None:
    """macOS: nothing to check against, so the behaviour of old stays."""
    same = SameUser(lambda links: None, uid=VICTIM)
    assert same(links(("127.0.0.5", P), ("127.0.0.1", C))) == [True, True]


def test_tcp6_is_read_only_for_connections_tcp_does_not_list() -> None:
    read: list[str] = []

    def tables() -> Iterator[str]:
        for name, text in (("tcp", TIME_WAIT), ("tcp6", TCP6)):
            read.append(name)
            yield text

    same = SameUser(FromTables(tables, "little"), uid=ATTACKER)
    assert same(links(("127.0.0.5", C))) == [True] and read == ["tcp"]
    read.clear()
    assert same(links(("127.0.0.5", C), ("127.0.0.1", C))) == [True, False]
    assert read == ["tcp", "tcp6"]


linux_only = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="Linux only")


@linux_only
def test_a_connection_of_this_user_is_recognised_in_the_tables() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as client,
    ):
        accepted, peer = server.accept()
        with accepted:
            tables = [Path("/proc/net/tcp").read_text(), Path("/proc/net/tcp6").read_text()]
            assert connection_uid(peer, server.getsockname(), tables) == os.getuid()
            assert peer == client.getsockname()
            assert FromTables()([(peer, server.getsockname())]) == [os.getuid()]


@linux_only
def test_sock_diag_finds_the_client_end_and_nothing_else() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as client,
        socket.socket(socket.AF_INET6) as dual_stack,
    ):
        local = server.getsockname()
        accepted, peer = server.accept()
        dual_stack.connect(("::ffff:127.0.0.1", local[1]))
        accepted_v6, peer_v6 = server.accept()
        # nothing at 127.0.0.7:PORT, but a listener there, which the kernel may offer instead
        with socket.create_server(("127.0.0.7", 0)) as decoy:
            missing = decoy.getsockname()
            assert sockdiag.owners(
                [(peer, local), (peer_v6, local), (missing, local), (local, ("127.0.0.1", 9))]
            ) == [os.getuid(), os.getuid(), None, None]
        client.close()
        accepted.close()  # the client closed first: its end is in TIME_WAIT (shown as uid 0)
        accepted_v6.close()
        assert sockdiag.owners([(peer, local)]) == [None]


@linux_only
def test_without_sock_diag_the_tables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(links: object) -> list[int | None]:
        raise PermissionError("no netlink here")

    monkeypatch.setattr(sockdiag, "owners", unavailable)
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()),
    ):
        accepted, peer = server.accept()
        with accepted:
            assert peers.from_kernel([(peer, server.getsockname())]) == [os.getuid()]
            assert SameUser()([(peer, server.getsockname())]) == [True]
