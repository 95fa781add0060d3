"""The ``rolehop`` entry point: answer a cache hit through the agent, else run the CLI.

``rolehop credential-process P`` runs before every AWS CLI call, so a hit must cost little
more than starting Python: this module imports only the standard library's socket and json
(and the agent protocol) and asks the agent, which holds the cache in memory and builds the
answer. Anything else — another command, ``ROLEHOP_AGENT=0``, no agent, a miss, any
failure — goes to :func:`rolehop.cli.app.main`, the direct path, which gives every answer and
every error exactly as it would without an agent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping


class Fallback:
    """Why the agent did not answer, for the direct path's --debug output; and a warning for
    every run when what is at the agent's place is not this user's."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.warning: str | None = None
        # seconds spent waiting for another process's refresh: the direct path waits
        # only what is left of lock_timeout
        self.waited = 0.0


def parse(argv: list[str]) -> dict[str, str | None] | None:
    """``[--config PATH] [--debug] (credential-process | env) PROFILE [--shell SHELL]``."""
    leading = _global_options(argv)
    if leading is None:
        return None
    config, _, words = leading
    fields: dict[str, str | None] = {"config": config, "shell": None}
    if len(words) < 2 or words[0] not in ("credential-process", "env"):
        return None
    fields["command"], profile, rest = words[0], words[1], words[2:]
    if profile.startswith("-"):
        return None
    fields["profile"] = profile
    if fields["command"] == "env" and rest[:1] == ["--shell"] and len(rest) == 2:
        fields["shell"], rest = rest[1], []
    elif fields["command"] == "env" and len(rest) == 1 and rest[0].startswith("--shell="):
        fields["shell"], rest = rest[0].partition("=")[2], []
    from rolehop.shell import SHELLS

    if rest or (fields["shell"] is not None and fields["shell"] not in SHELLS):
        return None
    return fields


def _global_options(argv: list[str]) -> tuple[str | None, bool, list[str]] | None:
    """``--config PATH`` and ``--debug`` before the command: (the config, whether
    --debug, the words from the command on); None for a --config without its path."""
    config, debug, words = None, False, list(argv)
    while words and (words[0] in ("--config", "--debug") or words[0].startswith("--config=")):
        word = words.pop(0)
        if word == "--config":
            if not words:
                return None
            config = words.pop(0)
        elif word.startswith("--config="):
            config = word.partition("=")[2]
        else:
            debug = True
    return config, debug, words


def _from_agent(fields: dict[str, str | None], fallback: Fallback) -> bool:
    """Print the agent's answer and return True (exit with its code if it failed);
    False means: go direct (``fallback`` says why)."""
    from rolehop.agent.protocol import AgentMismatch, AgentUnavailable, NotOurs, disabled_by

    if disabled_by(os.environ):
        return False
    try:
        answer = _ask(fields, fallback)
    except NotOurs as error:
        fallback.reason = fallback.warning = f"not using the agent: {error}"
        return False
    except AgentMismatch as error:
        fallback.reason = f"{error}: stopping it"
        from rolehop.agent import client

        client.stop(os.environ)  # the direct path starts one of this version
        return False
    except (AgentUnavailable, OSError) as error:
        fallback.reason = str(error)
        return False
    if answer is None or not answer.get("ok") or not answer.get("hit"):
        if answer is not None:
            fallback.reason = "a cache miss" if answer.get("ok") else str(answer.get("error"))
        return False
    sys.stderr.write(str(answer.get("stderr", "")))
    sys.stdout.write(str(answer.get("stdout", "")))
    sys.stdout.flush()
    code = answer.get("code", 0)
    if code:  # the agent's STS calls failed: the direct path's error line and exit code
        sys.exit(code if isinstance(code, int) else 1)
    if fields["command"] == "env" and fields["profile"]:
        from rolehop.stores import recent

        recent.remember(os.environ, fields["profile"])  # as the direct path does
    return True


def _ask(fields: dict[str, str | None], fallback: Fallback) -> dict[str, object] | None:
    """The agent's answer to a ``resolve`` (None: no place for an agent), after waiting
    for another process's refresh if one leads (the time it took goes in ``fallback``)."""
    import time

    from rolehop.agent.protocol import call, request, request_environ, socket_path, sts_scope
    from rolehop.config.locations import absolute

    path = socket_path(os.environ)
    if path is None:
        fallback.reason = "no runtime directory for its socket"
        return None
    cwd = os.getcwd()
    if fields["config"]:
        fields["config"] = absolute(fields["config"], os.environ, cwd)
    ask = request(
        "resolve",
        environ=request_environ(os.environ, cwd),
        sts_scope=sts_scope(os.environ, cwd),
        pid=os.getpid(),
        # the agent may make cold credentials itself; not under --debug, which is for the
        # direct path's logs and tracebacks
        work="--debug" not in sys.argv[1:],
        **fields,
    )
    spinner = _Spinner()
    try:
        answer = call(path, ask, working=spinner.start)
        started = time.monotonic()
        while answer.get("ok") and not answer.get("hit") and wait_for_the_lead(answer, path):
            answer = call(path, ask, working=spinner.start)
        fallback.waited = time.monotonic() - started
    finally:
        spinner.stop()
    return answer


class _Spinner:
    """While the agent works (STS calls, maybe retries): rolehop.common.spinner's line, imported
    only then."""

    def __init__(self) -> None:
        self.stop: Callable[[], None] = lambda: None

    def start(self, note: Mapping[str, object]) -> None:
        from rolehop.common import spinner

        self.stop()
        self.stop = spinner.start(str(note.get("working") or "working"))


# Another process leads the refresh of the same credentials: wait for its lock (taken
# once its direct path has started, released when its entry is in the cache), then ask the
# agent again. Sleeping on a lock costs nothing; the agent is asked once more per wait.
POLL = 0.02
ASK_AGAIN = 0.25  # a lock held for less than POLL may go unseen: the agent knows


def wait_for_the_lead(answer: dict[str, object], socket: str) -> bool:
    """Wait while another process refreshes; True: ask the agent again. False: go direct
    (we lead, the lead has gone, or a terminal wants the direct path's spinner)."""
    if answer.get("lead") is not False or sys.stderr.isatty():
        return False
    age, key, timeout = answer.get("lease_age"), answer.get("key"), answer.get("lock_timeout")
    lead = answer.get("lead_pid")
    if not isinstance(age, int | float) or not isinstance(timeout, int | float):
        return False
    if not isinstance(key, str) or not isinstance(lead, int) or age > timeout:
        return False
    if len(key) != 64 or key.strip("0123456789abcdef"):
        return False  # a cache key names the lock: nothing else becomes a file name
    import fcntl
    import time

    from rolehop.stores import private

    start = time.monotonic() - age
    asked = time.monotonic()
    try:  # the locks sit beside the socket, in the directory checked to be ours
        directory = private.open_directory(os.path.join(os.path.dirname(socket), "locks"))
        try:
            fd = private.open_file(directory, f"{key}.lock", os.O_RDONLY | os.O_CREAT)
        finally:
            os.close(directory)
    except private.UnsafePath:
        return False
    try:
        seen = False
        while time.monotonic() - start < timeout:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                seen = True  # the lead is at work
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                if seen:
                    return True  # done: its entry is in the cache (or it failed)
                if not alive(lead):
                    return False  # gone before taking the lock
                if time.monotonic() - asked > ASK_AGAIN:
                    return True
            time.sleep(POLL)
        return False
    finally:
        os.close(fd)


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs: an exited process its parent has not reaped yet (a
    zombie) does not, whatever kill(pid, 0) says."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill said it is there


def _complete_from_agent() -> bool:
    """``rolehop CMD <Tab>``: the profile names from the agent, which keeps them while the
    files stay as they are; False: click answers (no agent, anything else on the line), in
    silence: a warning would land in the middle of the command line."""
    from rolehop.shell import completion

    asked = completion.request(os.environ)
    if asked is None:
        return False
    answer = _call_agent("names", Fallback())
    names = answer.get("names") if answer is not None else None
    if answer is None or not answer.get("ok") or not isinstance(names, list):
        return False
    protocol, _, incomplete = asked
    values = completion.matching(map(str, names), incomplete, protocol)
    sys.stdout.write(completion.answer(values, protocol))
    sys.stdout.flush()
    return True


def _list_request(argv: list[str]) -> dict[str, object] | None:
    """``[--config PATH] list [--json]`` to a pipe (the terminal's table is rich's, drawn
    by the direct path): the fields of the agent's ``list``; None for anything else."""
    leading = _global_options(argv)
    if leading is None or leading[1]:  # --debug: the direct path's logs
        return None
    config, _, words = leading
    if words not in (["list"], ["list", "--json"]):
        return None
    as_json = words[-1] == "--json"
    if sys.stdout is None or (not as_json and os.isatty(sys.stdout.fileno())):
        return None  # no stdout at all: the direct path says so
    return {"config": config, "json": as_json}


def _list_from_agent(fields: dict[str, object], fallback: Fallback) -> bool:
    """``list`` as the agent has it (the files parsed, the rows and their text made once
    while nothing changes); False: the direct path lists (``fallback`` says why)."""
    answer = _call_agent("list", fallback, config=fields["config"], json=fields["json"])
    if answer is None:
        return False
    stdout, stderr = answer.get("stdout"), answer.get("stderr")
    if not answer.get("ok") or not isinstance(stdout, str) or not isinstance(stderr, str):
        return False
    sys.stdout.write(stdout)
    sys.stdout.flush()
    sys.stderr.write(stderr)
    return True


def _call_agent(op: str, fallback: Fallback, **fields: object) -> dict[str, object] | None:
    """The agent's answer to ``op`` with the caller's environment (``config``, if given,
    made absolute), or None (no agent, none of ours: ``fallback`` says)."""
    from rolehop.agent.protocol import (
        AgentUnavailable,
        NotOurs,
        call,
        disabled_by,
        request,
        request_environ,
        socket_path,
    )
    from rolehop.config.locations import absolute

    if disabled_by(os.environ):
        return None
    try:
        path = socket_path(os.environ)
        if path is None:
            return None
        cwd = os.getcwd()
        config = fields.get("config")
        if isinstance(config, str):
            fields["config"] = absolute(config, os.environ, cwd)
        return call(path, request(op, environ=request_environ(os.environ, cwd), **fields))
    except NotOurs as error:
        fallback.reason = fallback.warning = f"not using the agent: {error}"
    except (AgentUnavailable, OSError) as error:
        fallback.reason = str(error)
    return None


def _served(fallback: Fallback) -> bool:
    """Whether the agent answered (the output is written): a pipe's ``list``, a profile's
    completion, a cache hit; False: the direct path answers."""
    listing = _list_request(sys.argv[1:])
    if listing is not None:
        return _list_from_agent(listing, fallback)
    if "_ROLEHOP_COMPLETE" in os.environ:
        return _complete_from_agent()
    fields = parse(sys.argv[1:])
    return fields is not None and _from_agent(fields, fallback)


def main() -> None:
    fallback = Fallback()
    try:
        served = _served(fallback)
    except KeyboardInterrupt:  # as the direct path ends a Ctrl-C
        sys.stderr.write("rolehop: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:  # the reader went away: as the direct path, nothing more to say
        # what is left in stdout's buffer goes nowhere (flushed at exit, it would fail again)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.close()
        sys.exit(1)
    if served:
        if "--debug" in sys.argv[1:]:
            sys.stderr.write("rolehop: debug: served from the agent's cache\n")
        sys.exit(0)
    from rolehop.cli.app import main as direct

    direct(
        agent_reason=fallback.reason,
        agent_warning=fallback.warning,
        lock_waited=fallback.waited,
    )
