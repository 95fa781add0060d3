"""Who is on the other end of a Unix socket: the agent serves its own user only."""

from __future__ import annotations

import socket
import struct
import sys

# <sys/un.h> on macOS and the BSDs: getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED) -> xucred
SOL_LOCAL = 0
LOCAL_PEERCRED = 0x001
# struct xucred { u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16]; }
XUCRED = struct.Struct("=IIh16I")


def peer_uid(connection: socket.socket) -> int | None:
    """The uid of the process at the other end, or None where the OS cannot say."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred { pid_t; uid_t; gid_t; }
        raw = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return linux_uid(raw)
    if sys.platform == "darwin" or "bsd" in sys.platform:
        raw = connection.getsockopt(SOL_LOCAL, LOCAL_PEERCRED, XUCRED.size)
        return xucred_uid(raw)
    return None


def linux_uid(raw: bytes) -> int:
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def xucred_uid(raw: bytes) -> int:
    return int(XUCRED.unpack(raw[: XUCRED.size].ljust(XUCRED.size, b"\0"))[1])
