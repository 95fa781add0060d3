"""One AssumeRole hop: the source provider's credentials become the role's."""

from __future__ import annotations

import logging
from collections.abc import Callable

from rolehop.chain import RoleHop
from rolehop.credentials import Credentials
from rolehop.providers import Provider
from rolehop.sts import StsClientFactory, assume_role

log = logging.getLogger(__name__)


class AssumeRoleProvider:
    def __init__(
        self,
        hop: RoleHop,
        source: Provider,
        client_factory: StsClientFactory,
        target: str,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.warn = warn
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
        return assume_role(client, self.hop, source_credentials, target=self.target, warn=self.warn)
