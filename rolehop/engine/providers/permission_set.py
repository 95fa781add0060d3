"""An IAM Identity Center permission set: the session's access token becomes the role's
credentials in one account (GetRoleCredentials), where a chain starts."""

from __future__ import annotations

import logging
from collections.abc import Callable

from rolehop.aws import identity_center as portal
from rolehop.common.creds import Credentials
from rolehop.common.progress import Busy, quiet
from rolehop.engine.hops import SsoHop
from rolehop.errors import SsoError

log = logging.getLogger(__name__)

# (the token the portal refused, if any) -> a valid access token of the hop's session
TokenSource = Callable[["str | None"], str]


class SsoProvider:
    def __init__(
        self,
        hop: SsoHop,
        key: str,
        token: TokenSource,
        clients: portal.SsoClients,
        target: str,
        busy: Busy = quiet,
    ) -> None:
        self.hop = hop
        self._key = key
        self.token = token
        self.clients = clients
        self.target = target
        self.busy = busy

    @property
    def key(self) -> str:
        return self._key

    @property
    def name(self) -> str:
        return self.hop.name

    def load(self) -> Credentials:
        role = self.hop.role
        token = self.token(None)  # first: without one there is nothing to ask
        client = self.clients("sso", role.session.region)
        log.debug("%s: GetRoleCredentials via %s", self.name, client.meta.endpoint_url)
        try:
            return self._call(client, token)
        except portal.PortalUnauthorized:
            # refused before its time (logged out elsewhere, revoked): once more with a
            # token refreshed or signed in anew, else the one line that says how
            log.debug("%s: the portal refused the access token", self.name)
            renewed = self.token(token)
            try:
                return self._call(client, renewed)
            except portal.PortalUnauthorized:
                raise SsoError(
                    f"profile {self.target!r}: IAM Identity Center refused a new access token "
                    f"of session {self.hop.session!r}: run rolehop sso login "
                    f"{self.hop.session}"
                ) from None

    def _call(self, client: object, token: str) -> Credentials:
        role = self.hop.role
        what = f"getting {role.role_name} in {role.account_id} for profile {self.target!r}"
        try:
            with self.busy(what):
                return portal.role_credentials(client, token, role.account_id, role.role_name)
        except portal.PortalUnauthorized:
            raise
        except SsoError as error:
            raise SsoError(f"profile {self.target!r}: {error}") from None
