"""Keep the credentials a long-lived rolehop process holds out of core dumps and ptrace."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable

# RLIMIT_CORE as (soft, hard)
CoreLimit = tuple[int, int]


def harden(*, keep_hard_limit: bool = False) -> CoreLimit | None:
    """No core dumps (RLIMIT_CORE 0) and, on Linux, not dumpable (no core either, and no
    ptrace or /proc/PID/mem by other processes of the user).

    Returns the core limit it replaced (None where it could not be read). With
    ``keep_hard_limit`` only the soft limit drops to 0, so that a command this process
    starts can have the old one back (:func:`restore_core_limit`): an unprivileged process
    cannot raise a hard limit again.
    """
    import resource

    previous: CoreLimit | None = None
    with contextlib.suppress(ValueError, OSError):
        previous = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, previous[1] if keep_hard_limit else 0))
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    return previous


def restore_core_limit(previous: CoreLimit | None) -> Callable[[], None] | None:
    """A ``Popen(preexec_fn=...)`` giving the child back the core limit :func:`harden`
    replaced (the kernel makes it dumpable again at exec); None when there is nothing to
    restore, which lets subprocess skip the preexec step altogether."""
    if previous is None or previous[0] == 0:
        return None
    import resource

    # A C function with its arguments bound now: between fork and exec the child runs no
    # Python code that could wait for a lock another thread (the server's) held at the fork.
    return functools.partial(resource.setrlimit, resource.RLIMIT_CORE, previous)
