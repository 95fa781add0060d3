"""``keys add|list|remove``: long-term access keys in the OS keyring, never in argv."""

from __future__ import annotations

import getpass
import os
import re
import warnings

import click

from rolehop.cli.options import json_option
from rolehop.cli.render import json_document
from rolehop.cli.state import AppState, pass_state
from rolehop.common.creds import Credentials, format_expiration
from rolehop.common.text import printable
from rolehop.engine import admin
from rolehop.errors import UsageError
from rolehop.stores.keys import check_name

KEY_ID = re.compile(r"AKIA[A-Z0-9]{12,124}")


def _check_key_id(key_id: str) -> str:
    key_id = key_id.strip()
    if key_id.startswith("ASIA"):
        raise UsageError(
            "ASIA… keys are temporary (they need a session token): store long-term AKIA… keys"
        )
    if not KEY_ID.fullmatch(key_id):
        raise UsageError("an Access Key ID looks like AKIA followed by 16 letters and digits")
    return key_id


def _read_keys(from_env: bool) -> Credentials:
    if from_env:
        key_id = os.environ.get("AWS_ACCESS_KEY_ID", "")
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        if not key_id or not secret:
            raise UsageError("--from-env needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    else:
        key_id = click.prompt("Access Key ID", err=True)
        with warnings.catch_warnings():
            # piped input has no echo to turn off: getpass's warning would only add noise
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            secret = click.prompt("Secret Access Key", hide_input=True, err=True)
    secret = secret.strip()
    if not secret or any(char.isspace() for char in secret):
        raise UsageError("the Secret Access Key is empty or holds spaces")
    return Credentials(_check_key_id(key_id), secret)


@click.group("keys")
def keys_group() -> None:
    """Long-term access keys kept in the OS keyring instead of ~/.aws/credentials."""


@keys_group.command("add")
@click.argument("name")
@click.option("--from-env", is_flag=True, help="Take AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.")
@click.option("--no-verify", is_flag=True, help="Store without asking STS who the keys are.")
@pass_state
def add(state: AppState, name: str, from_env: bool, no_verify: bool) -> None:
    """Store keys as NAME; a profile's source_profile = "NAME" then uses them.

    The keys are asked for on the terminal (the secret is not echoed), or taken from the
    environment with --from-env; never from the command line.
    """
    check_name(name)  # before anything is typed or sent
    state.context.keys.names()  # no usable keyring: say so before asking for the keys
    credentials = _read_keys(from_env)
    identity = None if no_verify else admin.check_keys(state.context, credentials)
    stored = admin.add_keys(state.context, name, credentials)
    click.echo(f"stored keys {name!r} (…{stored.key_id_suffix}) in the keyring", err=True)
    if identity:
        click.echo(f"they act as {identity}", err=True)


@keys_group.command("list")
@json_option
@pass_state
def list_(state: AppState, as_json: bool) -> None:
    """List stored keys: names, the key id's last 4 characters, when added. No secret."""
    stored = admin.list_keys(state.context)
    rows = [
        {
            "name": key.name,
            "key_id": f"…{key.key_id_suffix}",
            "added": format_expiration(key.added) if key.added else None,
        }
        for key in stored
    ]
    if as_json:
        click.echo(json_document({"keys": rows}))
        return
    if not rows:
        click.echo("no keys stored: rolehop keys add NAME", err=True)
        return
    width = max(len("NAME"), *(len(row["name"] or "") for row in rows))
    click.echo(f"{'NAME'.ljust(width)}  KEY ID    ADDED")
    for row in rows:
        line = f"{str(row['name']).ljust(width)}  {row['key_id']:<8}  {row['added'] or '-'}"
        click.echo(printable(line))


@keys_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def remove(state: AppState, name: str, yes: bool) -> None:
    """Delete the keys stored as NAME (and credentials cached from them)."""
    if not yes:
        click.confirm(f"Delete the keys stored as {name!r}?", abort=True, err=True)
    if admin.remove_keys(state.context, name):
        click.echo(f"removed keys {name!r}", err=True)
    else:
        raise UsageError(f"no keys are stored as {name!r}")


def register(group: click.Group) -> None:
    group.add_command(keys_group)
