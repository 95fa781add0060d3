"""Who is on the other end of a Unix socket: the agent and its clients deal with their own
user only (the functions live in :mod:`rolehop.agent.protocol`, on the cache-hit path)."""

from __future__ import annotations

import struct

from rolehop.agent.protocol import linux_uid, peer_uid, xucred_uid

# struct xucred { u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16]; }
XUCRED = struct.Struct("=IIh16I")

__all__ = ["XUCRED", "linux_uid", "peer_uid", "xucred_uid"]
