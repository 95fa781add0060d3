"""``rolehop doctor``: every check in order, over the environment as it is."""

from __future__ import annotations

from collections.abc import Mapping

from rolehop.config import files as configs
from rolehop.config.files import Config
from rolehop.engine import context
from rolehop.engine.context import Agent, Clock
from rolehop.engine.resolve import stored_names
from rolehop.features.doctor import aws_cli, checks
from rolehop.features.doctor import sign_in_checks as sso
from rolehop.features.doctor.checks import Check
from rolehop.stores.cache import HOW_TO_GET_A_KEYRING, load_backend


def run(
    environ: Mapping[str, str],
    config_path: str | None,
    program_path: str,
    *,
    clock: Clock = context.utcnow,
    agent: Agent | None = None,
) -> list[Check]:
    """Check this setup: files, profiles, keyring, shell, clock, AWS CLI profiles.

    ``program_path`` is how the AWS CLI could run this rolehop (for the fix of a
    credential_process whose program is not on PATH). A config that cannot be read is the
    first check's failure, and the checks that need no config still run.
    """
    found, config = checks.load_config(environ, config_path)
    results = [found]
    settings = config.settings if config is not None else configs.Settings()
    if config is not None:
        ctx = context.build(
            environ, config_path=config_path, config=config, agent=agent, clock=clock
        )
        results += checks.aws_files(config)
        results += checks.profile_errors(config, environ, lambda: stored_names(ctx))
        results += checks.web_identities(config, environ)
    results.append(
        checks.keyring_probe(
            settings,
            lambda: load_backend(settings.keyring_backend, environ),
            HOW_TO_GET_A_KEYRING,
        )
    )
    results.append(checks.shell_integration(environ))
    endpoint = checks.sts_endpoint(environ, settings)
    timeout = settings.sts_connect_timeout + settings.sts_read_timeout
    results.append(checks.clock_skew(endpoint, clock, timeout))
    if config is not None:
        results += sso.sessions(ctx)
        # many AWS profiles name the same rolehop config: each file is read once
        loaded: dict[str | None, Config] = {config_path: config}

        def load(override: str | None) -> Config:
            path = override or config_path
            if path not in loaded:
                loaded[path] = configs.load(environ, path)
            return loaded[path]

        results += aws_cli.credential_processes(config, environ, load, program_path)
    return results
