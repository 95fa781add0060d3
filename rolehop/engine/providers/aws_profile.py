"""The start of a chain: credentials of a profile in the AWS shared files.

botocore resolves them (static keys, SSO, credential_process...), exactly as the AWS CLI
would; the only exception is botocore's own rule for a role profile whose source_profile is
itself, whose static keys are read directly.
"""

from __future__ import annotations

import configparser
import contextlib
import logging
import os
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rolehop.common.creds import Credentials
from rolehop.engine.hops import BaseHop
from rolehop.errors import SourceCredentialsError

if TYPE_CHECKING:
    import botocore.session

log = logging.getLogger(__name__)

# Profiles a rolehop process is resolving, passed to the processes botocore starts for a
# base profile's credential_process: a rolehop among them that is asked for one of these
# profiles again is in a loop (the AWS CLI v2 guards itself with _AWS_CLI_PROFILE_CHAIN).
RESOLVING = "ROLEHOP_RESOLVING"


def resolving(environ: Mapping[str, str]) -> list[str]:
    return [name for name in environ.get(RESOLVING, "").split(",") if name]


@contextmanager
def _marked(names: tuple[str, ...]) -> Iterator[None]:
    previous = os.environ.get(RESOLVING)
    os.environ[RESOLVING] = ",".join([*resolving(os.environ), *names])
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RESOLVING, None)
        else:
            os.environ[RESOLVING] = previous


class AwsProfileProvider:
    def __init__(self, hop: BaseHop, target: str, resolving: tuple[str, ...] = ()) -> None:
        self.hop = hop
        self.target = target
        self.resolving = resolving

    @property
    def key(self) -> str:
        return self.hop.key

    @property
    def name(self) -> str:
        return self.hop.name

    def _fail(self, problem: str) -> SourceCredentialsError:
        where = self.hop.aws.path if self.hop.aws else self.hop.aws_config_path
        subject = f"profile {self.target!r}: source profile {self.name!r}"
        if self.target == self.name:  # the base itself was asked for
            subject = f"profile {self.name!r}"
        return SourceCredentialsError(f"{subject} ({where}): {problem}")

    def load(self) -> Credentials:
        from botocore.exceptions import SSOError, TokenRetrievalError

        if self.hop.static_keys_only:
            return self._static_keys()
        session = self._session()
        # only a credential_process can run rolehop again; marking changes os.environ,
        # which threads of the agent share
        runs = self.hop.aws is not None and "credential_process" in dict(self.hop.aws.identity)
        try:
            with _marked(self.resolving) if runs else contextlib.nullcontext():
                found = session.get_credentials()
                frozen = found.get_frozen_credentials() if found is not None else None
        except (SSOError, TokenRetrievalError) as error:
            # no cached token, an expired one botocore could not refresh, or one SSO refused
            log.debug("%s: %s: %s", self.name, type(error).__name__, error)
            raise self._fail(
                "the IAM Identity Center session has expired or is missing: run "
                f"aws sso login --profile {shlex.quote(self.name)}"
            ) from None
        except Exception as error:
            # botocore's own errors, and what a credential_process printing something else
            # than a JSON object makes it raise (ValueError, AttributeError...)
            raise self._fail(f"{type(error).__name__}: {error}") from None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise self._fail("no credentials found for it")
        return Credentials(
            access_key_id=frozen.access_key,
            secret_access_key=frozen.secret_key,
            session_token=frozen.token,
            expiration=_expiration(found),
        )

    def _session(self) -> botocore.session.Session:
        import botocore.session

        session = botocore.session.Session()
        session.set_config_variable("config_file", self.hop.aws_config_path)
        session.set_config_variable("credentials_file", self.hop.aws_credentials_path)
        session.set_config_variable("profile", self.name)
        return session

    def _static_keys(self) -> Credentials:
        values: dict[str, str] = {}
        for path, section in (
            (
                self.hop.aws_config_path,
                f"profile {self.name}" if self.name != "default" else "default",
            ),
            (self.hop.aws_credentials_path, self.name),
        ):
            parser = configparser.RawConfigParser(interpolation=None, strict=False)
            parser.read(path, encoding="utf-8")
            if parser.has_section(section):
                values.update(parser.items(section))
        key_id, secret = values.get("aws_access_key_id"), values.get("aws_secret_access_key")
        if not key_id or not secret:
            raise self._fail("aws_access_key_id and aws_secret_access_key are required")
        return Credentials(key_id, secret, values.get("aws_session_token") or None)


def _expiration(found: object) -> datetime | None:
    """When botocore's temporary credentials (SSO, credential_process...) expire: what
    ``env`` hands out with them, and how long the cache keeps them. botocore keeps it in
    ``_expiry_time`` only (no public accessor); static keys have none."""
    expiry = getattr(found, "_expiry_time", None)
    if isinstance(expiry, datetime) and expiry.tzinfo is not None:
        return expiry.astimezone(UTC)
    return None
