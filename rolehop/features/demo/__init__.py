"""``rolehop demo``: the seed story, against a local AWS emulator, with no AWS account.

Joe has an IAM user in the company account; the research account has a read-only role that
trusts him and a DynamoDB table. rolehop hops Joe into the role, caches the credentials and
hands them out. The steps are produced here as data; the CLI draws them.

Everything is temporary: a moto server on a free loopback port, a temporary directory for
the config files, and an in-memory keyring. The user's files and keyring are never touched.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import urllib.request
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolehop.aws.sts import Boto3StsClientFactory
from rolehop.common.creds import Credentials
from rolehop.engine import context
from rolehop.engine.context import Context, utcnow
from rolehop.engine.resolve import resolve
from rolehop.errors import RolehopError
from rolehop.output import credential_process_json, environment, render_env
from rolehop.stores.cache import KeyringCache
from rolehop.stores.locks import NoLocks
from rolehop.stores.memory_keyring import MemoryKeyring

COMPANY, RESEARCH = "444455556666", "111122223333"
ROLE_NAME, TABLE, ITEM_ID = "DynamoDB-ReadOnly-role", "TestProject", "1234567890"
ROLE_ARN = f"arn:aws:iam::{RESEARCH}:role/{ROLE_NAME}"
JOE_ARN = f"arn:aws:iam::{COMPANY}:user/Joe"
PROFILE, REGION = "research-ro", "us-east-1"


class DemoError(RolehopError):
    """A demo step did not show what it should."""


@dataclass(frozen=True)
class Step:
    title: str
    body: str
    language: str = "text"  # how the CLI highlights the body


def _mask(secret: str) -> str:
    return secret[:4] + "…" if len(secret) > 8 else "****"


def masked(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _mask(secret))
    return text


class Emulator:
    """The story's AWS: two accounts seeded into a moto server at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, service: str, **credentials: str) -> Any:
        import boto3

        session: Any = boto3.session.Session()  # typed overloads want literal names
        return session.client(service, endpoint_url=self.url, region_name=REGION, **credentials)

    def signed(self, service: str, credentials: Credentials) -> Any:
        """A client of ``service`` that signs with ``credentials`` (those rolehop handed out)."""
        return self.client(
            service,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token or "",
        )

    def admin_of(self, account: str) -> dict[str, str]:
        # moto acts in the account of the role a caller has assumed
        sts = self.client("sts", aws_access_key_id="demo", aws_secret_access_key="demo")  # noqa: S106 - moto accepts any key
        issued = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="demo-setup"
        )["Credentials"]
        return {
            "aws_access_key_id": issued["AccessKeyId"],
            "aws_secret_access_key": issued["SecretAccessKey"],
            "aws_session_token": issued["SessionToken"],
        }

    def assume_role_calls(self) -> int:
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=5) as response:  # noqa: S310
            data = json.load(response)
        return len(data.get("sts", {}).get("AssumedRole", []))

    def seed(self) -> dict[str, str]:
        """Create both accounts; return Joe's access key."""
        company = self.admin_of(COMPANY)
        iam = self.client("iam", **company)
        iam.create_user(UserName="Joe")
        iam.put_user_policy(
            UserName="Joe",
            PolicyName="may-assume-research-ro",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}
                    ],
                }
            ),
        )
        key = iam.create_access_key(UserName="Joe")["AccessKey"]
        research = self.admin_of(RESEARCH)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": JOE_ARN}, "Action": "sts:AssumeRole"}
            ],
        }
        iam = self.client("iam", **research)
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName=ROLE_NAME,
            PolicyName="read-test-project",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
                            "Resource": f"arn:aws:dynamodb:{REGION}:{RESEARCH}:table/{TABLE}",
                        }
                    ],
                }
            ),
        )
        dynamodb = self.client("dynamodb", **research)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(
            TableName=TABLE,
            Item={"id": {"S": ITEM_ID}, "project": {"S": "Seed study"}, "owner": {"S": "research"}},
        )
        return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


@contextmanager
def local_aws() -> Iterator[Emulator]:
    """A moto server on a free port of 127.0.0.1, for as long as the block runs."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise DemoError("rolehop demo needs its emulator: pip install 'rolehop[demo]'") from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield Emulator(f"http://{host}:{port}")
    finally:
        server.stop()


def _write_files(directory: Path, key: dict[str, str]) -> dict[str, str]:
    credentials = directory / "aws-credentials"
    credentials.write_text(
        f"[joe]\naws_access_key_id = {key['id']}\naws_secret_access_key = {key['secret']}\n"
    )
    credentials.chmod(0o600)
    (directory / "aws-config").write_text("")
    config = directory / "config.toml"
    config.write_text(
        f'[profiles.{PROFILE}]\nrole_arn = "{ROLE_ARN}"\nsource_profile = "joe"\n'
        f'region = "{REGION}"\nrole_session_name = "rolehop-joe"\n'
    )
    return {
        "HOME": str(directory),
        "USER": "joe",
        "ROLEHOP_CONFIG": str(config),
        "AWS_CONFIG_FILE": str(directory / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
    }


@contextmanager
def without_user_aws_settings() -> Iterator[None]:
    """boto3 reads the process environment: hide the user's AWS_* (a profile, keys,
    an endpoint...) and ~/.aws files from the demo, and give them back afterwards."""
    from unittest import mock

    with mock.patch.dict(os.environ):
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            del os.environ[name]
        os.environ["AWS_CONFIG_FILE"] = os.devnull
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        yield


def demo_context(environ: dict[str, str], emulator: Emulator, **parts: Any) -> Context:
    """The engine's context of a story: STS at the emulator, an in-memory keyring, no
    locks (one process: nothing to share); ``parts`` for more (the stories' own)."""
    return context.build(
        environ,
        sts=Boto3StsClientFactory(endpoint_url=emulator.url),
        cache=KeyringCache(MemoryKeyring(), warn=lambda message: None, clock=utcnow),
        locks=NoLocks(),
        **parts,
    )


def run() -> Iterator[Step]:
    """Play the story; raise :class:`DemoError` as soon as a step does not hold."""
    with (
        local_aws() as emulator,
        tempfile.TemporaryDirectory(prefix="rolehop-demo-") as tmp,
        without_user_aws_settings(),
    ):
        key = emulator.seed()
        yield Step(
            "A local AWS with two accounts",
            f"emulator: {emulator.url}\n"
            f"company  {COMPANY}: IAM user Joe, access key {key['id']}\n"
            f"research {RESEARCH}: role {ROLE_NAME} trusting {JOE_ARN},\n"
            f"                      DynamoDB table {TABLE} with item {ITEM_ID}",
        )
        environ = _write_files(Path(tmp), key)
        yield Step(
            "Joe's rolehop profile (config.toml)",
            Path(environ["ROLEHOP_CONFIG"]).read_text(),
            "toml",
        )
        ctx = demo_context(environ, emulator)
        credentials = yield from _twice(ctx, emulator)
        yield _hopped(emulator, credentials)


def _twice(ctx: Context, emulator: Emulator) -> Generator[Step, None, Credentials]:
    """``env`` twice (the role assumed once, then a cache hit) and ``credential-process``;
    the credentials handed out."""
    first = resolve(ctx, PROFILE)
    credentials = first.credentials
    if first.from_cache or emulator.assume_role_calls() != 3:  # 2 set-up calls + Joe's
        raise DemoError("the first call should have assumed the role exactly once")
    script = render_env(environment(first), "bash")
    yield Step(
        f"rolehop env {PROFILE}   (AssumeRole called: {first.sts_calls})",
        masked(script, credentials.secret_access_key, credentials.session_token),
        "bash",
    )
    second = resolve(ctx, PROFILE)
    if not second.from_cache or emulator.assume_role_calls() != 3:
        raise DemoError("the second call should have been a cache hit")
    if second.credentials.access_key_id != credentials.access_key_id:
        raise DemoError("the cache returned other credentials")
    yield Step(
        f"rolehop env {PROFILE} again: cache hit",
        f"same AccessKeyId {credentials.access_key_id}, no AssumeRole call; "
        f"valid until {credentials.expiration:%H:%M:%S} UTC",
    )
    document = credential_process_json(second.credentials)
    yield Step(
        f"rolehop credential-process {PROFILE}",
        masked(document, credentials.secret_access_key, credentials.session_token),
        "json",
    )
    return credentials


def _hopped(emulator: Emulator, credentials: Credentials) -> Step:
    """The credentials at work: who STS says they are, and the research table's item."""
    caller = emulator.signed("sts", credentials).get_caller_identity()["Arn"]
    expected = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-joe"
    if caller != expected:
        raise DemoError(f"the hopped credentials act as {caller}, not {expected}")
    item = (
        emulator.signed("dynamodb", credentials)
        .get_item(TableName=TABLE, Key={"id": {"S": ITEM_ID}})
        .get("Item")
    )
    if not item:
        raise DemoError(f"GetItem found no item {ITEM_ID} in {TABLE}")
    return Step(
        f"GetItem on {TABLE} with the hopped credentials",
        f"caller: {caller}\nitem:   {json.dumps(item, sort_keys=True)}",
    )
