"""botocore's ``credential_source``: the environment, EC2 instance metadata, or ECS.

These let a process on an EC2 instance, in Lambda or in a Fargate task start a chain with
its own role and hop into another account's role, exactly as botocore would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rolehop.common.creds import Credentials
from rolehop.errors import SourceCredentialsError

METADATA_TIMEOUT, METADATA_ATTEMPTS = 1, 2


class CredentialSourceProvider:
    def __init__(self, source: str, key: str, environ: Mapping[str, str], target: str) -> None:
        self.source = source
        self._key = key
        self.environ = environ
        self.target = target

    @property
    def key(self) -> str:
        return self._key

    @property
    def name(self) -> str:
        return self.source

    def _botocore_provider(self) -> Any:
        from botocore import credentials as providers
        from botocore.utils import InstanceMetadataFetcher

        environ = dict(self.environ)
        if self.source == "Environment":
            return providers.EnvProvider(environ=environ)
        if self.source == "EcsContainer":
            return providers.ContainerProvider(environ=environ)
        config: dict[str, Any] = {}
        if environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT"):
            config["ec2_metadata_service_endpoint"] = environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
        fetcher = InstanceMetadataFetcher(
            timeout=METADATA_TIMEOUT,
            num_attempts=METADATA_ATTEMPTS,
            env=environ,
            config=config,
        )
        return providers.InstanceMetadataProvider(iam_role_fetcher=fetcher)

    def load(self) -> Credentials:
        try:
            found = self._botocore_provider().load()
            frozen = found.get_frozen_credentials() if found is not None else None
        except Exception as error:
            raise SourceCredentialsError(
                f"profile {self.target!r}: credential_source {self.source}: "
                f"{type(error).__name__}: {error}"
            ) from None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise SourceCredentialsError(
                f"profile {self.target!r}: credential_source {self.source} found no credentials"
            )
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)
