"""SIEVE commands: ``sieve check``/``test`` on files, ``sieve put|get|list|activate|delete``.

``check`` and ``test`` work on files alone: no home, no database (DESIGN.md: ``sieve``
commands start fast), so they run anywhere a script is written. A script that does not
compile prints ``SCRIPT:LINE:COLUMN: message``, the form editors jump to, and exits 1.

The others change the account's scripts on this node: they need its home (the store and
the node's box key, which opens the sealed script set), not the passphrase, and only a
client device of the account may change them (:mod:`mesyx.store.sieve_scripts`). They
work while the daemon runs; accept mode picks a change up within seconds
(:class:`mesyx.pipeline.scripts.ActiveScripts`). The store is imported inside the
commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import account_option, open_node, pick_account
from mesyx.errors import NotFound, PermissionDenied, ScriptError, UsageError

if TYPE_CHECKING:
    from mesyx.sieve import CompiledScript
    from mesyx.sieve.message import SieveMessage
    from mesyx.store.sieve_scripts import ScriptSet

_FILE = click.Path(dir_okay=False, path_type=Path)


@cli.group()
def sieve() -> None:
    """SIEVE scripts: check and test files; put, get, list and activate an account's scripts."""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a file") from None
    except PermissionError:
        raise PermissionDenied(f"{path}: permission denied") from None


def _compile(path: Path) -> tuple[str, CompiledScript]:
    """The script's text and compiled form; else ``PATH:LINE:COLUMN: message`` and exit 1."""
    from mesyx.sieve import compile_bytes

    data = _read(path)
    try:
        compiled = compile_bytes(data)
    except ScriptError as exc:
        click.echo(f"{path}:{exc.line}:{exc.column}: {exc.message}", err=True)
        raise click.exceptions.Exit(1) from None
    return data.decode("utf-8"), compiled


@sieve.command("check")
@click.argument("script", type=_FILE)
def check(script: Path) -> None:
    """Compile SCRIPT: print `ok`, or SCRIPT:LINE:COLUMN: message and exit 1."""
    _compile(script)
    click.echo("ok")


def _first_address(message: SieveMessage, *names: str) -> str:
    """The first address of the first of ``names`` the message's header has ("" if none)."""
    for name in names:
        for address in message.addresses(name):
            if address.domain is not None:
                return address.all
    return ""


@sieve.command("test")
@click.argument("script", type=_FILE)
@click.argument("message", type=_FILE)
@click.option("--from", "mail_from", metavar="ADDR",
              help="Envelope sender (default: the message's Return-Path, else its From).")
@click.option("--to", "rcpt_to", metavar="ADDR", help="Envelope recipient (default: the message's first To).")
def test(script: Path, message: Path, mail_from: str | None, rcpt_to: str | None) -> None:
    """Run SCRIPT on MESSAGE: print the actions, one per line, in execution order.

    The implicit keep prints as `keep` when it applies. A runtime problem (a limit, a
    conflict) is reported on stderr; the actions are then the implicit keep alone, as
    delivery would do.
    """
    from mesyx.sieve.environment import Environment, SieveEnvelope
    from mesyx.sieve.interpret import evaluate
    from mesyx.sieve.message import SieveMessage

    _, compiled = _compile(script)
    parsed = SieveMessage.parse(_read(message))
    sender = _first_address(parsed, "Return-Path", "From") if mail_from is None else mail_from
    recipient = _first_address(parsed, "To") if rcpt_to is None else rcpt_to
    environment = Environment(addresses=(recipient,) if recipient else ())
    outcome = evaluate(compiled, parsed, SieveEnvelope(sender, recipient), environment)
    for line in outcome.render():
        click.echo(line)
    if outcome.error is not None:
        click.echo(f"{script}: runtime error, implicit keep: {outcome.error}", err=True)


# -- the account's scripts on this node ---------------------------------------------------


def _change(ctx: Context, address: str | None, done: str, change: Callable[[ScriptSet], ScriptSet]) -> ScriptSet:
    from mesyx.store.sieve_scripts import ScriptSets, edit

    with open_node(ctx) as node:
        record = pick_account(node.store, address)
        after, op = edit(ScriptSets(node.store), record.account_id, change)
    click.echo(done if op is not None else f"{done} (nothing changed)", err=True)
    return after


def _current(ctx: Context, address: str | None) -> ScriptSet:
    from mesyx.store.sieve_scripts import ScriptSets

    with open_node(ctx) as node:
        record = pick_account(node.store, address)
        return ScriptSets(node.store).read(record.account_id)


@sieve.command("put")
@click.argument("name")
@click.argument("file", type=_FILE)
@click.option("--activate", is_flag=True, help="Make it the active script too.")
@account_option
@pass_ctx
def put(ctx: Context, name: str, file: Path, activate: bool, address: str | None) -> None:
    """Store FILE as script NAME (replacing a script of that name), once it compiles."""
    from mesyx.store.sieve_scripts import check_name

    check_name(name)
    text, _ = _compile(file)
    _change(ctx, address, f"stored {name}" + (" (active)" if activate else ""),
            lambda s: s.put(name, text).activate(name) if activate else s.put(name, text))


@sieve.command("get")
@click.argument("name")
@account_option
@pass_ctx
def get(ctx: Context, name: str, address: str | None) -> None:
    """Write script NAME to stdout, as stored."""
    sys.stdout.buffer.write(_current(ctx, address).get(name).encode("utf-8"))
    sys.stdout.flush()


@sieve.command("list")
@account_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def list_scripts(ctx: Context, address: str | None, as_json: bool) -> None:
    """List the account's scripts; the active one is marked `(active)`."""
    scripts = _current(ctx, address)
    if as_json:
        click.echo(json.dumps({"scripts": scripts.names(), "active": scripts.active}, ensure_ascii=False))
        return
    for name in scripts.names():
        click.echo(name + ("  (active)" if name == scripts.active else ""))


@sieve.command("activate")
@click.argument("name", required=False)
@click.option("--none", "deactivate", is_flag=True, help="Deactivate: no script runs (implicit keep).")
@account_option
@pass_ctx
def activate(ctx: Context, name: str | None, deactivate: bool, address: str | None) -> None:
    """Make script NAME the one that runs on delivery, or none with --none."""
    if (name is None) == (not deactivate):
        raise UsageError("give a script NAME or --none")
    _change(ctx, address, f"active: {name}" if name else "no active script", lambda s: s.activate(name))


@sieve.command("delete")
@click.argument("name")
@account_option
@pass_ctx
def delete(ctx: Context, name: str, address: str | None) -> None:
    """Delete script NAME (not the active one: deactivate it first)."""
    _change(ctx, address, f"deleted {name}", lambda s: s.delete(name))
