"""Keyset commands: ``keyset list``."""

from __future__ import annotations

import datetime
import json

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import account_option, open_node, pick_account


@cli.group()
def keyset() -> None:
    """Inspect the keysets that messages are encrypted to."""


def _day(ts: int) -> str:
    if ts >= 2**61:
        return "forever"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d")


@keyset.command("list")
@account_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def list_keysets(ctx: Context, address: str | None, as_json: bool) -> None:
    """List an account's keysets: role, window, status, and whether the private half is here."""
    with open_node(ctx) as node:
        record = pick_account(node.store, address)
        rows = [
            {
                "keyset_id": k.public.name,
                "role": k.public.role.value,
                "window": k.public.window.label,
                "from": _day(k.public.window.start),
                "until": _day(k.public.window.end),
                "status": k.status.value,
                "private_here": k.private_sealed is not None,
            }
            for k in node.store.keysets(record.account_id)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"keysets of {record.primary_address}:")
    for r in rows:
        where = "private here" if r["private_here"] else "public only"
        span = f"{r['from']} .. {r['until']}"
        click.echo(f"  {r['role']:<10} {r['window']:<9} {span}  {r['status']:<8} {where}  {r['keyset_id']}")
