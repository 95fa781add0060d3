"""A web identity base: a token (OIDC: EKS/IRSA, GitHub Actions) traded for a role's
credentials with AssumeRoleWithWebIdentity, an unsigned STS call.

The token is read when the call is made, from ``web_identity_token_file`` (as botocore
reads it) or from what ``web_identity_token_process`` prints (as in aws-vault; split into
argv literally, never run by a shell). It is a secret: registered for redaction at once,
never logged, cached or put in an error.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from rolehop.aws.sts import ANONYMOUS, StsClientFactory, assume_role_with_web_identity
from rolehop.common import redact
from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.engine.hops import WebIdentityHop
from rolehop.errors import SourceCredentialsError

log = logging.getLogger(__name__)
PROCESS_TIMEOUT = 120  # seconds: a program may have to reach its identity provider first


def read_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


class WebIdentityProvider:
    def __init__(
        self,
        hop: WebIdentityHop,
        key: str,
        client_factory: StsClientFactory,
        target: str,
        where: str,
        *,
        busy: Busy = quiet,
        read: Callable[[str], str] = read_text,
        run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    ) -> None:
        self.hop = hop
        self._key = key
        self.client_factory = client_factory
        self.target = target
        self.where = where  # the AWS config file (and line) of the profile, for messages
        self.busy = busy
        self.read = read
        self.run = run

    @property
    def key(self) -> str:
        return self._key

    @property
    def name(self) -> str:
        return self.hop.name

    def _fail(self, problem: str) -> SourceCredentialsError:
        subject = f"profile {self.target!r}: source profile {self.name!r}"
        if self.target == self.name:
            subject = f"profile {self.name!r}"
        return SourceCredentialsError(f"{subject} ({self.where}): {problem}")

    def token(self) -> str:
        if self.hop.token_process is not None:
            token = self._from_process(self.hop.token_process)
        else:
            token = self._from_file(self.hop.token_file or "")
        token = token.strip()
        redact.register(token)
        if not token:
            raise self._fail(f"the {self.hop.describe} is empty")
        return token

    def _from_file(self, path: str) -> str:
        try:
            return self.read(path)
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise self._fail(f"web_identity_token_file {path}: cannot read: {reason}") from None

    def _from_process(self, command: str) -> str:
        what = f"web_identity_token_process {command!r}"
        try:
            done = self.run(
                shlex.split(command),
                stdout=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=PROCESS_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise self._fail(f"{what}: command not found") from None
        except subprocess.TimeoutExpired:
            raise self._fail(f"{what}: no answer after {PROCESS_TIMEOUT} s") from None
        except OSError as error:
            raise self._fail(f"{what}: cannot run: {error.strerror}") from None
        if done.returncode != 0:
            raise self._fail(f"{what}: failed with exit status {done.returncode}")
        return done.stdout or ""

    def load(self) -> Credentials:
        token = self.token()
        client = self.client_factory(ANONYMOUS, self.hop.region)
        log.debug(
            "%s: AssumeRoleWithWebIdentity via %s with %s (the %s)",
            self.name,
            client.meta.endpoint_url,
            self.hop.params(),
            self.hop.describe,
        )
        with self.busy(f"assuming {self.hop.role_arn} with the {self.hop.describe}"):
            return assume_role_with_web_identity(client, self.hop, token, target=self.target)
