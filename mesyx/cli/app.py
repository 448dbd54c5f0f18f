"""The root command group and the one place errors are rendered for people."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mesyx import __version__
from mesyx.errors import MesyxError, UsageError

if TYPE_CHECKING:
    from mesyx.home import Home

__all__ = ["main", "cli", "Context", "pass_ctx"]

#: Exit codes: 1 for a refused or failed request, 2 for a usage error (click's), 70 for
#: an internal error (EX_SOFTWARE), 75 for a temporary one (EX_TEMPFAIL).
_EXIT = {"usage": 2, "config": 78, "temporary": 75}


class Context:
    """What every command gets: the node's home and whether to show tracebacks."""

    def __init__(self, home: Path, debug: bool) -> None:
        self.root = home
        self.debug = debug
        self._home: Home | None = None

    @property
    def home(self) -> Home:
        """The node's home, imported on first use: the root group's callback runs before
        a subcommand's ``--help``, which must not load the store (DESIGN.md)."""
        if self._home is None:
            from mesyx.home import Home

            self._home = Home(self.root)
        return self._home


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MESYX_HOME",
    default=Path.home() / ".mesyx",
    show_default="~/.mesyx, or $MESYX_HOME",
    help="The node's home directory (config, keys, data).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="mesyx")
@click.pass_context
def cli(ctx: click.Context, home: Path, debug: bool) -> None:
    """Mesyx: email and chat in one place that no server operator can read.

    One daemon runs any combination of four modes: accept (inbound SMTP, public keys
    only), exchange (blind replication), client (decrypts, serves IMAP and friends) and
    reencrypt (key rotation). Start with `mesyx init`, then `mesyx run`.
    """
    ctx.obj = Context(home, debug)


#: click >= 8.2 raises this for a group called without a command (it shows the help).
_NO_ARGS_IS_HELP: tuple[type[click.ClickException], ...] = tuple(
    getattr(click.exceptions, name) for name in ("NoArgsIsHelpError",) if hasattr(click.exceptions, name)
)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"mesyx: error: {message}", err=True)
    sys.exit(code)


def load_commands() -> None:
    """Register every command group on :data:`cli` (each module adds its own on import)."""
    from mesyx.cli import account, index, keyset, message, node, peer, sieve, sync  # noqa: F401


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: run the CLI, render every failure as one line."""
    load_commands()

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        return cli.main(args=argv, prog_name="mesyx", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except _NO_ARGS_IS_HELP as exc:  # `mesyx account` alone: the group's help, not an error
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # One line (DESIGN.md): click's own rendering adds a usage block and a hint.
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see: {exc.ctx.command_path} --help)"
        _fail(" ".join(exc.format_message().split()) + hint, exc.exit_code)
    except MesyxError as exc:
        if debug:
            raise
        _fail(exc.message, 2 if isinstance(exc, UsageError) else _EXIT.get(exc.kind, 1))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # an edge: a bug shows an id, the trace goes to the log
        if debug:
            raise
        from mesyx.log import get_logger, new_error_id

        error_id = new_error_id()
        get_logger("cli").exception("cli.internal_error", error_id=error_id, error=type(exc).__name__)
        _fail(f"internal error (id {error_id}); rerun with --debug for details", 70)
