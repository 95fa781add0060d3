"""The command line: a thin click layer over ``rolehop.engine.core``; the only place that prints.

Errors are turned into one stderr line and an exit code here, in :func:`main`, and nowhere
else.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import click

from rolehop import __version__
from rolehop.common.redact import RedactingFormatter, redact
from rolehop.engine.core import Rolehop
from rolehop.errors import RolehopError

INTERNAL_ERROR = 70  # EX_SOFTWARE
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def duration_text(left: timedelta) -> str:
    """``42m`` or ``2h05m``: how long credentials have left, as every command shows it."""
    minutes = int(left.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def printable(text: str) -> str:
    """Names from config files reach the terminal: their control characters (an escape
    sequence could retitle or rewrite the terminal) are shown escaped, never sent."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def error_line(line: str) -> str:
    """An error as rolehop prints it: one line, whatever the message holds (botocore
    quotes a child's stderr, for one), redacted, with no control character."""
    return printable(redact(" ".join(part.strip() for part in line.splitlines() if part.strip())))


@dataclass
class AppState:
    """What the group options decide, shared by every command through ``ctx.obj``."""

    config_path: str | None = None
    debug: bool = False
    # the command was asked for --json: its errors are JSON on stdout too (see main)
    json_output: bool = False
    _warned: set[str] = field(default_factory=set)

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warn_always(message)

    def warn_always(self, message: str) -> None:
        """A warning every time (a server's refresh failing again is news again)."""
        click.echo(f"rolehop: warning: {printable(redact(message))}", err=True)

    @cached_property
    def app(self) -> Rolehop:
        from rolehop.agent.remote import AgentLink
        from rolehop.cli.terminal import spinner

        return Rolehop(
            os.environ,
            config_path=self.config_path,
            warn=self.warn,
            busy=spinner,
            agent=AgentLink(os.environ),
        )

    def start_agent(self) -> None:
        """After the direct path served a profile: an agent for the next calls, if wanted."""
        from rolehop.agent import client

        settings = self.app.config.settings
        if settings.agent and settings.cache:
            client.start(
                os.environ,
                settings.agent_idle_timeout,
                settings.keyring_backend,
                self.warn,
                self._keyring_usable,
            )

    def _keyring_usable(self) -> bool:
        from rolehop.errors import CacheError
        from rolehop.stores.cache import load_backend

        try:
            load_backend(self.app.config.settings.keyring_backend, os.environ)
        except CacheError:
            return False
        return True


pass_state = click.make_pass_decorator(AppState)


def _json_output(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    state = ctx.find_object(AppState)
    if value and state is not None:
        state.json_output = True
    return value


# --json of every command: eager, so that a later usage error is JSON too
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    is_eager=True,
    callback=_json_output,
    help="Machine-readable output (an error too: a JSON object on stdout).",
)


def json_error(message: str, exit_code: int) -> str:
    """How a command asked for --json fails: the shape of its output, with an error."""
    document = {"version": 1, "error": {"message": message, "exit_code": exit_code}}
    return json.dumps(document, indent=2)


class _StderrHandler(logging.Handler):
    """Log records to the current ``sys.stderr``, redacted; one per process."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


# The AWS SDK logs a warning (with a traceback) before it raises what rolehop reports as
# its one error line: an SSO token refresh that failed, credentials that could not be
# refreshed. As in the AWS CLI, its log is for --debug only.
_SDK_LOGGERS = ("botocore", "boto3", "s3transfer")


def _not_the_sdk(record: logging.LogRecord) -> bool:
    return record.name.split(".", 1)[0] not in _SDK_LOGGERS


_handler = _StderrHandler(logging.WARNING)
_handler.setFormatter(RedactingFormatter("rolehop: %(name)s: %(levelname)s: %(message)s"))


def _configure_logging(debug: bool) -> None:
    """Library warnings (keyring...) always go through redaction, the AWS SDK's only with
    ``--debug``, which adds everything else."""
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    _handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    if debug:
        _handler.removeFilter(_not_the_sdk)
    else:
        _handler.addFilter(_not_the_sdk)
    if debug:
        _handler.setFormatter(RedactingFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        for name in ("rolehop", "botocore", "boto3", "urllib3"):
            logging.getLogger(name).setLevel(logging.DEBUG)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="rolehop's TOML file (default: the user config dir, or $ROLEHOP_CONFIG).",
)
@click.option("--debug", is_flag=True, help="Tracebacks and request logs, secrets redacted.")
@click.version_option(__version__, prog_name="rolehop")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """Become AWS roles, hop after hop, with credentials cached in the OS keyring."""
    state = ctx.ensure_object(AppState)
    state.config_path = config_path
    state.debug = debug
    state.json_output = False  # until the command's --json says otherwise
    _configure_logging(debug)
    from rolehop import entry

    if entry.fallback_warning:
        state.warn(entry.fallback_warning)
    if entry.fallback_reason:
        logging.getLogger("rolehop.agent").debug(
            "agent: not used (%s): the direct path serves this call", entry.fallback_reason
        )


def _register() -> None:
    from rolehop.cli import (
        agent,
        cache,
        credentials,
        demo,
        doctor,
        explain,
        identity,
        keys,
        login,
        profiles,
        serve,
        shell,
    )

    for module in (
        credentials,
        profiles,
        identity,
        explain,
        keys,
        cache,
        agent,
        login,
        serve,
        doctor,
        shell,
        demo,
    ):
        module.register(cli)


_register()


def main(argv: list[str] | None = None, state: AppState | None = None) -> None:
    """Entry point: run the CLI and translate every failure at this one place.

    ``state`` lets a caller (the tests) bring its own :class:`AppState`, e.g. with a
    stubbed STS; otherwise every run gets a fresh one.
    """
    state = state or AppState()
    try:
        result = cli.main(args=argv, prog_name="rolehop", standalone_mode=False, obj=state)
    except RolehopError as error:
        _fail(state, error, "error", str(error), error.exit_code)
    except click.exceptions.Abort as error:
        # click turns Ctrl-C during a command into Abort: keep the shell's convention
        interrupted = isinstance(error.__context__, KeyboardInterrupt)
        click.echo("rolehop: interrupted" if interrupted else "rolehop: aborted", err=True)
        sys.exit(130 if interrupted else 1)
    except click.ClickException as error:
        if state.json_output:
            click.echo(json_error(error_line(error.format_message()), error.exit_code))
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("rolehop: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away; nothing more to say
        sys.exit(1)
    except Exception as error:
        _fail(
            state,
            error,
            "internal error",
            f"{type(error).__name__}: {error} (run with --debug for the traceback)",
            INTERNAL_ERROR,
        )
    # click returns the code of ctx.exit() (and of --help/--version) outside standalone mode
    sys.exit(result if isinstance(result, int) else 0)


def _fail(state: AppState, error: BaseException, kind: str, message: str, code: int) -> None:
    """``rolehop: KIND: MESSAGE`` on stderr (and the JSON error on stdout under --json)."""
    if state.debug:
        import traceback

        click.echo(redact("".join(traceback.format_exception(error))), err=True, nl=False)
    if state.json_output:
        text = message if kind == "error" else f"{kind}: {message}"
        click.echo(json_error(error_line(text), code))
    click.echo(error_line(f"rolehop: {kind}: {message}"), err=True)
    sys.exit(code)
