"""The start of a chain: credentials of a profile in the AWS shared files.

botocore resolves them (static keys, SSO, credential_process...), exactly as the AWS CLI
would; the only exception is botocore's own rule for a role profile whose source_profile is
itself, whose static keys are read directly.
"""

from __future__ import annotations

import configparser
from typing import TYPE_CHECKING

from rolehop.chain import BaseHop
from rolehop.credentials import Credentials
from rolehop.errors import SourceCredentialsError

if TYPE_CHECKING:
    import botocore.session


class AwsProfileProvider:
    def __init__(self, hop: BaseHop, target: str) -> None:
        self.hop = hop
        self.target = target

    @property
    def key(self) -> str:
        return self.hop.key

    @property
    def name(self) -> str:
        return self.hop.name

    def _fail(self, problem: str) -> SourceCredentialsError:
        return SourceCredentialsError(
            f"profile {self.target!r}: source profile {self.name!r} "
            f"({self.hop.base.path}): {problem}"
        )

    def load(self) -> Credentials:
        if self.hop.static_keys_only:
            return self._static_keys()
        import botocore.exceptions

        session = self._session()
        try:
            found = session.get_credentials()
            frozen = found.get_frozen_credentials() if found is not None else None
        except botocore.exceptions.BotoCoreError as error:
            raise self._fail(str(error)) from None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise self._fail("no credentials found for it")
        return Credentials(
            access_key_id=frozen.access_key,
            secret_access_key=frozen.secret_key,
            session_token=frozen.token,
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
