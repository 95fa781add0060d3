"""Where IAM Identity Center sign-ins are kept: the OS keyring (service ``rolehop-sso``),
and, when asked, the AWS CLI's own token cache (``~/.aws/sso/cache/<sha1>.json``).

In the keyring, per session: ``token:NAME`` (the access token, its expiry, the refresh
token) and ``client:NAME`` (the sso-oidc client registration). The AWS CLI's file holds all
of it in one JSON document, named by the SHA-1 of the session name (or, for a legacy
profile, of the start URL); rolehop reads one the AWS CLI wrote, and writes one only when
the user exports the sign-in (0600, atomically, in a directory of the user's own).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from rolehop.common.sign_in import Registration, SignIn
from rolehop.errors import CacheError
from rolehop.stores.private import UnsafePath, check_directory, open_directory, replace_file

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "rolehop-sso"
FORMAT = 1
log = logging.getLogger(__name__)


class SignIns(Protocol):
    """The sign-ins rolehop holds (the keyring's), by session name."""

    def get(self, session: str) -> SignIn | None: ...

    def put(self, session: str, sign_in: SignIn) -> None: ...

    def delete(self, session: str) -> bool: ...

    def registration(self, session: str) -> Registration | None: ...

    def put_registration(self, session: str, registration: Registration) -> None: ...


class KeyringSignIns:
    """Sign-ins in a keyring backend; a failing keyring is a :class:`CacheError`."""

    def __init__(self, backend: KeyringBackend) -> None:
        self.backend = backend

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            text = self.backend.get_password(SERVICE, name)
        except Exception as error:
            raise _failed("read", error) from None
        if text is None:
            return None
        try:
            document = json.loads(text)
            if not isinstance(document, dict) or document.pop("v", None) != FORMAT:
                raise ValueError("unknown format")
        except ValueError:
            log.debug("sso: the keyring's %s is unreadable: ignored", name.split(":")[0])
            return None
        return document

    def _write(self, name: str, document: Mapping[str, Any]) -> None:
        try:
            self.backend.set_password(SERVICE, name, json.dumps({"v": FORMAT, **document}))
        except Exception as error:
            raise _failed("store", error) from None

    def get(self, session: str) -> SignIn | None:
        """The session's tokens, with the client they were issued to (for a refresh): the
        registration kept, if it is that client (a later sign-in may have registered
        another one and failed)."""
        token = self._read(f"token:{session}")
        if token is None:
            return None
        client = self.registration(session)
        if client is not None and client.client_id == token.get("clientId"):
            token.update(
                clientSecret=client.client_secret,
                registrationExpiresAt=client.to_dict()["expiresAt"],
            )
        else:
            token.pop("clientId", None)
        try:
            return SignIn.from_aws_cli(token)
        except (ValueError, KeyError, TypeError):
            return None

    def put(self, session: str, sign_in: SignIn) -> None:
        document = sign_in.to_aws_cli()
        for key in ("clientSecret", "registrationExpiresAt"):
            document.pop(key, None)  # the registration is kept on its own
        self._write(f"token:{session}", document)

    def delete(self, session: str) -> bool:
        """Forget the session's tokens (its client registration stays, as the AWS CLI's)."""
        import keyring.errors

        if self._read(f"token:{session}") is None:
            return False
        try:
            self.backend.delete_password(SERVICE, f"token:{session}")
        except keyring.errors.PasswordDeleteError:
            return False
        except Exception as error:
            raise _failed("delete", error) from None
        return True

    def registration(self, session: str) -> Registration | None:
        document = self._read(f"client:{session}")
        try:
            return Registration.from_dict(document) if document is not None else None
        except (ValueError, KeyError, TypeError):
            return None

    def put_registration(self, session: str, registration: Registration) -> None:
        self._write(f"client:{session}", registration.to_dict())


def _failed(action: str, error: Exception) -> CacheError:
    return CacheError(
        f"the keyring failed to {action} an IAM Identity Center sign-in: {type(error).__name__}"
    )


# ---------------------------------------------------------------------------------------
# the AWS CLI's token cache


def aws_cli_cache_directory(environ: Mapping[str, str]) -> str:
    """botocore's ``~/.aws/sso/cache``, with ``~`` from ``environ``."""
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".aws", "sso", "cache")


def aws_cli_cache_name(session: str) -> str:
    """The file botocore reads for a session (or a legacy start URL): SHA-1 of the name."""
    return hashlib.sha1(session.encode("utf-8")).hexdigest() + ".json"  # noqa: S324 - botocore's name


def read_aws_cli(environ: Mapping[str, str], session: str) -> SignIn | None:
    """The AWS CLI's sign-in of ``session``, if there is one and it is the user's own (a
    regular file of this uid, in a directory no one else may write); else None."""
    directory = aws_cli_cache_directory(environ)
    path = os.path.join(directory, aws_cli_cache_name(session))
    try:
        check_directory(directory)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except (UnsafePath, OSError) as error:
        log.debug("sso: %s not read: %s", path, error)
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            log.debug("sso: %s is not a file of this user alone: not read", path)
            return None
        try:
            return SignIn.from_aws_cli(json.loads(file.read(1 << 20)))
        except (ValueError, KeyError, TypeError) as error:
            log.debug("sso: %s unreadable (%s): ignored", path, type(error).__name__)
            return None


def write_aws_cli(environ: Mapping[str, str], session: str, sign_in: SignIn) -> str:
    """Export ``sign_in`` as the AWS CLI's file (0600, atomically); its path. Raises
    CacheError when it cannot be written safely."""
    directory = aws_cli_cache_directory(environ)
    name = aws_cli_cache_name(session)
    try:
        fd = open_directory(directory)
    except UnsafePath as error:
        raise CacheError(f"cannot export the sign-in: {error}") from None
    try:
        replace_file(fd, name, json.dumps(sign_in.to_aws_cli()).encode("utf-8"))
    except (OSError, UnsafePath) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise CacheError(f"cannot export the sign-in to {directory}: {reason}") from None
    finally:
        os.close(fd)
    return os.path.join(directory, name)


def remove_aws_cli(environ: Mapping[str, str], session: str) -> bool:
    """Delete the AWS CLI's file of ``session`` (``sso logout``), if it is the user's."""
    directory = aws_cli_cache_directory(environ)
    try:
        check_directory(directory)
        os.unlink(os.path.join(directory, aws_cli_cache_name(session)))
    except (UnsafePath, OSError):
        return False
    return True
