"""A base's session: GetSessionToken, with an MFA code (asked once per session) when the
base has an MFA device; without one when a base of long-term keys is handed out itself."""

from __future__ import annotations

import logging

from rolehop.aws.sts import StsClientFactory, get_session_token
from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.engine.hops import MfaHop, SessionHop
from rolehop.engine.providers import MfaCodeSource, Provider

log = logging.getLogger(__name__)


class SessionTokenProvider:
    def __init__(
        self,
        hop: MfaHop | SessionHop,
        source: Provider,
        client_factory: StsClientFactory,
        codes: MfaCodeSource,
        target: str,
        busy: Busy = quiet,
    ) -> None:
        self.busy = busy
        self.hop = hop
        self.source = source
        self.client_factory = client_factory
        self.codes = codes
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
        hop, code = self.hop, None
        if isinstance(hop, MfaHop):
            code = self.codes(hop.serial, self.target, hop.mfa_process)
        log.debug(
            "%s: GetSessionToken via %s with %s", self.name, client.meta.endpoint_url, hop.params()
        )
        what = "the MFA session" if code is not None else "a session"
        with self.busy(f"starting {what} of {self.name!r} for profile {self.target!r}"):
            return get_session_token(
                client, hop, source_credentials, target=self.target, token_code=code
            )
