"""Account commands: add, remove, list, passwd, export, import, alias, app-password."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import open_node, unlock_account
from mesyx.cli.secrets import passphrase_option, read_passphrase
from mesyx.errors import NotFound, UsageError


@cli.group()
def account() -> None:
    """Manage the accounts this node serves or accepts mail for."""


@account.command("add")
@click.argument("address")
@passphrase_option
@click.option("--keyset-policy", default="weekly", show_default=True, help="Shipped policy name or TOML file.")
@pass_ctx
def add(ctx: Context, address: str, passphrase_file: Path | None, keyset_policy: str) -> None:
    """Create an account whose keys live on this (client) node."""
    from mesyx.accounts import create_account
    from mesyx.config import Mode
    from mesyx.keyset_policy import load_policy

    with open_node(ctx) as node:
        if Mode.CLIENT not in node.config.node.modes:
            raise UsageError("only a client node can create accounts; import the public parts here instead")
        policy = load_policy(keyset_policy)
        passphrase = read_passphrase(passphrase_file, prompt="New passphrase", confirm=True)
        record = create_account(node.store, address, passphrase, policy, node.config.crypto.passphrase_kdf)
    click.echo(f"account {record.primary_address} created")


@account.command("remove")
@click.argument("address")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def remove(ctx: Context, address: str, yes: bool) -> None:
    """Delete an account and all its mail from this node (purged, not recoverable here)."""
    with open_node(ctx) as node:
        record = node.store.find_account(address)
        if not yes:
            click.confirm(f"Remove {record.primary_address} and all its mail from this node?", abort=True, err=True)
        count = node.store.remove_account(record.account_id)
    click.echo(f"account {record.primary_address} removed ({count} envelopes purged)")


@account.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def list_accounts(ctx: Context, as_json: bool) -> None:
    """List accounts with their addresses and whether this node holds their private keys."""
    from mesyx.crypto.encoding import b32

    with open_node(ctx) as node:
        rows = [
            {"account_id": b32(r.account_id), "addresses": list(r.addresses), "private_keys": r.has_private}
            for r in node.store.accounts()
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        keys = "private keys here" if row["private_keys"] else "public keys only"
        click.echo(f"{', '.join(row['addresses'])}  ({keys}; id {row['account_id']})")  # type: ignore[arg-type]


@account.command("passwd")
@click.argument("address")
@passphrase_option
@click.option("--new-passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the new passphrase from the first line of this file.")
@pass_ctx
def passwd(ctx: Context, address: str, passphrase_file: Path | None, new_passphrase_file: Path | None) -> None:
    """Change the account passphrase (app passwords keep working)."""
    from mesyx.accounts import change_passphrase

    with open_node(ctx) as node:
        unlocked = unlock_account(node, node.store.find_account(address), passphrase_file)
        new = read_passphrase(new_passphrase_file, prompt="New passphrase", confirm=True)
        change_passphrase(node.store, unlocked, new, node.config.crypto.passphrase_kdf)
    click.echo("passphrase changed")


@account.command("export")
@click.argument("address")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout.")
@pass_ctx
def export(ctx: Context, address: str, output: Path | None) -> None:
    """Write the account's public parts (for an accept node): no private key at all."""
    from mesyx.accounts import export_public

    with open_node(ctx) as node:
        text = export_public(node.store, node.store.find_account(address))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@account.command("import")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@pass_ctx
def import_(ctx: Context, source: Path) -> None:
    """Import an account's public parts (from `account export`); '-' reads stdin."""
    from mesyx.accounts import import_public

    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{source}: no such file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{source}: not a Mesyx account export (not text)") from None
    with open_node(ctx) as node:
        record = import_public(node.store, text)
    click.echo(f"account {record.primary_address} imported (public keys only)")


@account.group("alias")
def alias() -> None:
    """Extra addresses that route to an account (`@domain` is a catch-all)."""


@alias.command("add")
@click.argument("address")
@click.argument("alias_address", metavar="ALIAS")
@pass_ctx
def alias_add(ctx: Context, address: str, alias_address: str) -> None:
    """Route ALIAS to the account ADDRESS."""
    from mesyx.accounts import set_routes
    from mesyx.addresses import check_route

    value = check_route(alias_address)
    with open_node(ctx) as node:
        record = node.store.find_account(address)
        if value in record.addresses:
            raise UsageError(f"{value} routes to {record.primary_address} already")
        set_routes(node.store, record, [*record.addresses, value])
    click.echo(f"{value} now routes to {record.primary_address}")


@alias.command("remove")
@click.argument("address")
@click.argument("alias_address", metavar="ALIAS")
@pass_ctx
def alias_remove(ctx: Context, address: str, alias_address: str) -> None:
    """Stop routing ALIAS to the account ADDRESS (the primary address stays)."""
    from mesyx.accounts import set_routes

    with open_node(ctx) as node:
        record = node.store.find_account(address)
        value = alias_address.strip().lower()
        if value == record.primary_address or value not in record.addresses:
            raise UsageError(f"{value} is not an alias of {record.primary_address}")
        set_routes(node.store, record, [a for a in record.addresses if a != value])
    click.echo(f"{value} no longer routes to {record.primary_address}")


@account.group("app-password")
def app_password() -> None:
    """Per-device passwords: fast to check, revocable one by one."""


@app_password.command("add")
@click.argument("address")
@click.option("--label", required=True, help="Which device or app this password is for.")
@passphrase_option
@pass_ctx
def app_password_add(ctx: Context, address: str, label: str, passphrase_file: Path | None) -> None:
    """Create an app password; it is shown once and never stored in the clear."""
    from mesyx.accounts import add_app_password

    with open_node(ctx) as node:
        unlocked = unlock_account(node, node.store.find_account(address), passphrase_file)
        app_id, password = add_app_password(node.store, unlocked, label)
    click.echo(f"app password {app_id} ({label}): {password}")


@app_password.command("list")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def app_password_list(ctx: Context, address: str, as_json: bool) -> None:
    """List the account's app passwords (labels and ids, never the passwords)."""
    import datetime

    with open_node(ctx) as node:
        apps = node.store.app_passwords(node.store.find_account(address).account_id)
    rows = [{"id": a.app_id, "label": a.label, "created_at": a.created_at} for a in apps]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for a in apps:
        when = datetime.datetime.fromtimestamp(a.created_at, datetime.UTC).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{a.app_id:>4}  {a.label}  (created {when} UTC)")


@app_password.command("revoke")
@click.argument("address")
@click.argument("app_id", type=int)
@pass_ctx
def app_password_revoke(ctx: Context, address: str, app_id: int) -> None:
    """Revoke one app password by its id (see `app-password list`)."""
    with open_node(ctx) as node:
        node.store.revoke_app_password(node.store.find_account(address).account_id, app_id)
    click.echo(f"app password {app_id} revoked")
