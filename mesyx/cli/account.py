"""Account commands: add, remove, list, passwd, export, import, alias, app-password, enrol, devices."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import Node, open_node, unlock_account
from mesyx.cli.secrets import passphrase_option, read_passphrase
from mesyx.errors import NotFound, UsageError

if TYPE_CHECKING:
    from mesyx.store.records import AccountRecord


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
@passphrase_option
@pass_ctx
def import_(ctx: Context, source: Path, passphrase_file: Path | None) -> None:
    """Import an account: its public parts (from `account export`), or, on a new client
    device, an enrolment file (from `account enrol`, needs the passphrase); '-' reads stdin."""
    from mesyx.accounts import import_public
    from mesyx.enrolment import is_enrolment

    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{source}: no such file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{source}: not a Mesyx account export (not text)") from None
    with open_node(ctx) as node:
        if is_enrolment(text):
            record = _import_enrolment(node, text, passphrase_file)
            click.echo(f"account {record.primary_address} imported (private keys here: this node is its client)")
            return
        record = import_public(node.store, text)
    click.echo(f"account {record.primary_address} imported (public keys only)")


def _import_enrolment(node: Node, text: str, passphrase_file: Path | None) -> AccountRecord:
    from mesyx.config import Mode
    from mesyx.enrolment import import_enrolment, read_enrolment

    if Mode.CLIENT not in node.config.node.modes:
        raise UsageError("an enrolment file is for a client node; this node does not run the client mode")
    enrolment = read_enrolment(node.store, text)
    secret = read_passphrase(passphrase_file, prompt=f"Passphrase for {enrolment.record.primary_address}")
    return import_enrolment(node.store, enrolment, secret)


@account.command("enrol")
@click.argument("address")
@click.option("--device", "node_id", required=True, help="The new client node's id (`mesyx status` there).")
@click.option("--descriptor", "descriptor_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The new node's <home>/descriptor.json.")
@click.option("--from-peer", is_flag=True, help="Take the descriptor pinned by `mesyx peer add` for that node.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the enrolment file here (a new file, mode 0600).")
@passphrase_option
@pass_ctx
def enrol(ctx: Context, address: str, node_id: str, descriptor_file: Path | None, from_peer: bool, out: Path,
          passphrase_file: Path | None) -> None:
    """Sign another node into the account's devices as a client and write its enrolment
    file: the account's private keys sealed to that node, still under the passphrase."""
    from mesyx.accounts import add_device
    from mesyx.enrolment import descriptor_device, write_enrolment
    from mesyx.store.devices import Device, DeviceRole
    from mesyx.store.peers import Peers

    if from_peer == (descriptor_file is not None):
        raise UsageError("say where the new node's descriptor comes from: --descriptor FILE or --from-peer")
    with open_node(ctx) as node:
        descriptor = Peers(node.store).get(node_id).descriptor if from_peer else _read_descriptor(descriptor_file)
        verify_key, box_key, modes = descriptor_device(descriptor, node_id)
        if "client" not in modes:
            raise UsageError(f"node {node_id} does not run the client mode (its descriptor says {','.join(modes)})")
        if out.exists():
            raise UsageError(f"{out} exists already: choose another --out file")
        unlocked = unlock_account(node, node.store.find_account(address), passphrase_file)
        devices = add_device(node.store, unlocked, verify_key=verify_key, box_key=box_key, role=DeviceRole.CLIENT)
        write_enrolment(node.store, node.store.account(devices.account_id),
                        Device(verify_key, box_key, DeviceRole.CLIENT), out)
    click.echo(f"node {node_id} is a client of {unlocked.record.primary_address} (device list version "
               f"{devices.version}); on it run: mesyx account import {out} --passphrase-file F")


def _read_descriptor(path: Path | None) -> dict[str, object]:
    assert path is not None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{path}: not a node descriptor (not JSON)") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a node descriptor")
    return data


@account.command("devices")
@click.argument("address")
@click.option("--revoke", "revoke", metavar="NODE_ID", help="Take this node off the account's devices.")
@passphrase_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def devices(ctx: Context, address: str, revoke: str | None, passphrase_file: Path | None, as_json: bool) -> None:
    """List the nodes on the account's signed device list, or revoke one (its later
    operations are refused by every peer, and nothing new is sealed to it)."""
    from mesyx.accounts import remove_device

    with open_node(ctx) as node:
        record = node.store.find_account(address)
        listed = record.device_list
        if revoke is not None:
            listed = remove_device(node.store, unlock_account(node, record, passphrase_file), revoke)
        me = node.store.node.node_id
    if listed is None:
        raise NotFound(f"{record.primary_address} has no device list on this node")
    rows: list[dict[str, object]] = [
        {"node_id": d.node_id, "role": d.role.value, "this_node": d.node_id == me, "revoked": False}
        for d in sorted(listed.devices, key=lambda d: (d.role.value, d.node_id))
    ]
    rows += [{"node_id": r.node_id, "role": r.role.value, "this_node": r.node_id == me, "revoked": True,
              "last_seq": r.last_seq} for r in sorted(listed.revoked, key=lambda r: r.node_id)]
    if as_json:
        click.echo(json.dumps({"version": listed.version, "devices": rows}, indent=2))
        return
    if revoke is not None:
        click.echo(f"node {revoke} revoked (device list version {listed.version})", err=True)
    for row in rows:
        mark = "  (this node)" if row["this_node"] else ""
        state = f"revoked after op {row['last_seq']}" if row["revoked"] else str(row["role"])
        click.echo(f"{row['node_id']}  {state}{mark}")


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
