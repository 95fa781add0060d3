"""``rolehop demo --sso``: the story with IAM Identity Center instead of an IAM user.

Joe signs in to his organisation's IAM Identity Center (the device code, approved in a
"browser" that is the stand-in's own page), gets his permission set's credentials in the
company account, and hops from there into the research role to read its table. Everything
is local and temporary, as in the plain demo: a moto server, the stand-in
(:mod:`.sso_standin`) on a free loopback port, a temporary configuration, in-memory
keyrings.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from rolehop.aws.identity_center import Botocore
from rolehop.engine.context import Context
from rolehop.engine.resolve import resolve
from rolehop.features.demo import (
    COMPANY,
    ITEM_ID,
    PROFILE,
    REGION,
    ROLE_ARN,
    TABLE,
    DemoError,
    Emulator,
    Step,
    demo_context,
    local_aws,
    masked,
    without_user_aws_settings,
)
from rolehop.features.demo.sso_standin import IdentityCenter, identity_center
from rolehop.features.sso import login as flows
from rolehop.features.sso.manage import status
from rolehop.features.sso.sessions import pick
from rolehop.output import environment, render_env
from rolehop.stores.memory_keyring import MemoryKeyring
from rolehop.stores.sign_ins import KeyringSignIns

START_URL = "https://joe-corp.awsapps.com/start"
PERMISSION_SET, BASE = "DataScientist", "company-sso"


def _config(directory: Path) -> dict[str, str]:
    config = directory / "config.toml"
    config.write_text(
        f'[sso.corp]\nsso_start_url = "{START_URL}"\nsso_region = "{REGION}"\n\n'
        f'[profiles.{BASE}]\nsso_session = "corp"\nsso_account_id = "{COMPANY}"\n'
        f'sso_role_name = "{PERMISSION_SET}"\nregion = "{REGION}"\n\n'
        f'[profiles.{PROFILE}]\nrole_arn = "{ROLE_ARN}"\nsource_profile = "{BASE}"\n'
        f'region = "{REGION}"\nrole_session_name = "rolehop-joe"\n'
    )
    (directory / "aws-config").write_text("")
    return {
        "HOME": str(directory),
        "USER": "joe",
        "ROLEHOP_CONFIG": str(config),
        "AWS_CONFIG_FILE": str(directory / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(directory / "aws-credentials"),
    }


def _person(url: str) -> bool:
    """The browser, and Joe at it: the stand-in's page approves the code it shows."""
    with urllib.request.urlopen(url, timeout=10) as page:  # noqa: S310 - the stand-in's http
        return bool(page.status == 200)


def run() -> Iterator[Step]:
    """Play the Identity Center story; raise :class:`DemoError` as soon as a step fails."""
    with (
        local_aws() as emulator,
        tempfile.TemporaryDirectory(prefix="rolehop-demo-") as tmp,
        without_user_aws_settings(),
        identity_center(emulator.url, start_url=START_URL, region=REGION) as center,
    ):
        emulator.seed()
        center.add_account(COMPANY, "Company", "it@example.com", [PERMISSION_SET])
        os.environ["AWS_ENDPOINT_URL_SSO"] = os.environ["AWS_ENDPOINT_URL_SSO_OIDC"] = center.url
        yield Step(
            "A local AWS and its IAM Identity Center",
            f"emulator: {emulator.url}\nIAM Identity Center: {center.url} ({START_URL})\n"
            f"Joe: permission set {PERMISSION_SET} in the company account {COMPANY}",
        )
        environ = _config(Path(tmp))
        yield Step(
            "Joe's rolehop profiles (config.toml)",
            Path(environ["ROLEHOP_CONFIG"]).read_text(),
            "toml",
        )
        ctx = demo_context(
            environ, emulator, sign_ins=KeyringSignIns(MemoryKeyring()), sso_clients=Botocore()
        )
        yield _sign_in(ctx, center)
        yield from _credentials(ctx, emulator)


def _sign_in(ctx: Context, center: IdentityCenter) -> Step:
    told: list[str] = []
    options = flows.Options(
        device_code=True, tell=told.append, browser=_person, sleep=lambda seconds: None
    )
    flows.login(ctx, pick(ctx.config, "corp"), options)
    (row,) = status(ctx)
    if not row.signed_in or center.count("CreateToken") != 1:
        raise DemoError("the sign-in should have made one token")
    return Step(
        "rolehop sso login corp --device-code",
        "\n".join(told) + f"\n(approved in the browser)\nsigned in: the token is in the keyring, "
        f"refreshable: {'yes' if row.refreshable else 'no'}",
    )


def _credentials(ctx: Context, emulator: Emulator) -> Iterator[Step]:
    base = resolve(ctx, BASE)
    keys = base.credentials
    caller = emulator.signed("sts", keys).get_caller_identity()["Arn"]
    if "assumed-role/AWSReservedSSO_" not in caller:
        raise DemoError(f"the permission set's credentials act as {caller}")
    yield Step(f"rolehop env {BASE}: the permission set's credentials", f"caller: {caller}")
    hopped = resolve(ctx, PROFILE)
    script = render_env(environment(hopped), "bash")
    creds = hopped.credentials
    yield Step(
        f"rolehop env {PROFILE}: one AssumeRole from the permission set",
        masked(script, creds.secret_access_key, creds.session_token),
        "bash",
    )
    item = (
        emulator.signed("dynamodb", creds)
        .get_item(TableName=TABLE, Key={"id": {"S": ITEM_ID}})
        .get("Item")
    )
    if not item:
        raise DemoError(f"GetItem found no item {ITEM_ID} in {TABLE}")
    yield Step(f"GetItem on {TABLE} with the hopped credentials", json.dumps(item, sort_keys=True))
