"""One AssumeRole hop: the source provider's credentials become the role's."""

from __future__ import annotations

import logging
from collections.abc import Callable

from rolehop.aws.sts import StsClientFactory, assume_role
from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.engine.hops import RoleHop
from rolehop.engine.providers import MfaCodeSource, Provider
from rolehop.errors import MfaError

log = logging.getLogger(__name__)


class AssumeRoleProvider:
    def __init__(
        self,
        hop: RoleHop,
        source: Provider,
        client_factory: StsClientFactory,
        target: str,
        warn: Callable[[str], None] = lambda message: None,
        codes: MfaCodeSource | None = None,
        busy: Busy = quiet,
    ) -> None:
        self.warn = warn
        self.busy = busy
        self.codes = codes
        self.hop = hop
        self.source = source
        self.client_factory = client_factory
        self.target = target

    @property
    def key(self) -> str:
        return self.hop.key

    @property
    def name(self) -> str:
        return self.hop.name

    def load(self) -> Credentials:
        source_credentials = self.source.load()
        client = self.client_factory(source_credentials, self.hop.region)
        log.debug(
            "%s: AssumeRole via %s as %s with %s",
            self.name,
            client.meta.endpoint_url,
            source_credentials.arn or source_credentials.access_key_id,
            self.hop.assume_role_params(),
        )
        code = None
        if self.hop.mfa_serial is not None:
            if self.codes is None:
                raise MfaError(f"profile {self.target!r}: no way to ask for an MFA code")
            code = self.codes(self.hop.mfa_serial, self.target, self.hop.profile.mfa_process)
        # after the MFA prompt, never over it: only the call (and its retries) spins
        with self.busy(f"assuming {self.hop.role_arn} for profile {self.target!r}"):
            return assume_role(
                client,
                self.hop,
                source_credentials,
                target=self.target,
                token_code=code,
                warn=self.warn,
            )
