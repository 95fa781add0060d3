"""The command line's entry: the group, its options, and the one place that turns every
failure into one stderr line and an exit code (:func:`main`)."""

from __future__ import annotations

import logging
import sys

import click

from rolehop.cli.render import json_error
from rolehop.cli.state import AppState
from rolehop.common.redact import RedactingFormatter, redact
from rolehop.common.text import error_line
from rolehop.errors import RolehopError
from rolehop.version import __version__

INTERNAL_ERROR = 70  # EX_SOFTWARE


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
    if state.agent_warning:
        state.warn(state.agent_warning)
    if state.agent_reason:
        logging.getLogger("rolehop.agent").debug(
            "agent: not used (%s): the direct path serves this call", state.agent_reason
        )


def _register() -> None:
    from rolehop.cli import (
        agent,
        cache,
        credentials,
        demo,
        doctor,
        explain,
        generate,
        identity,
        keys,
        login,
        profiles,
        serve,
        shell,
        sso,
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
        sso,
        generate,
        serve,
        doctor,
        shell,
        demo,
    ):
        module.register(cli)


_register()


def main(
    argv: list[str] | None = None,
    state: AppState | None = None,
    *,
    agent_reason: str | None = None,
    agent_warning: str | None = None,
    lock_waited: float = 0.0,
) -> None:
    """Entry point: run the CLI and translate every failure at this one place.

    ``state`` lets a caller (the tests) bring its own :class:`AppState`, e.g. with a
    stubbed STS; otherwise every run gets a fresh one. ``rolehop.entry`` says why the agent
    did not answer (for --debug), what to warn about (an agent's place not this user's), and
    how long it waited for another process's refresh (taken from lock_timeout).
    """
    state = state or AppState()
    state.agent_reason = state.agent_reason or agent_reason
    state.agent_warning = state.agent_warning or agent_warning
    state.lock_waited = state.lock_waited or lock_waited
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
