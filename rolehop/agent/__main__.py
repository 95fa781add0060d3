"""``python -m rolehop.agent --socket PATH``: the agent process, started on demand."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from rolehop.agent.listener import Agent, harden
from rolehop.agent.memory import MemoKeyStore, MemoryCache
from rolehop.agent.service import Service
from rolehop.engine.context import utcnow
from rolehop.stores.cache import KeyringCache, load_backend
from rolehop.stores.changes import Watcher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rolehop-agent")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--idle-timeout", type=float, default=3600.0)
    parser.add_argument("--keyring-backend")
    parser.add_argument("--debug", action="store_true")
    options = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if options.debug else logging.WARNING,
        format="rolehop-agent: %(levelname)s: %(message)s",
    )
    harden()

    def service() -> Service:
        backend = load_backend(options.keyring_backend, os.environ)
        warn = logging.getLogger("rolehop.agent").warning
        cache = MemoryCache(KeyringCache(backend, warn, utcnow, sticky=False))
        return Service(
            cache,
            MemoKeyStore(backend, utcnow),
            idle_timeout=options.idle_timeout,
            watcher=Watcher(os.path.dirname(options.socket)),
            keyring_backend=options.keyring_backend,
        )

    return Agent(options.socket, service).run()


if __name__ == "__main__":
    sys.exit(main())
