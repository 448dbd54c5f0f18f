"""Peer commands: ``peer add``, ``peer list``, ``peer remove`` (issue 6 point 1).

Pairing is mutual: each node runs ``peer add`` for the other, with the node id read off
the other's ``mesyx status``. Nothing is trusted on first use:
:mod:`mesyx.modes.exchange.pairing` checks the fetched descriptor against the typed node
id and the certificate against the descriptor's signed pin.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import Node, open_node, unlock_account
from mesyx.cli.secrets import passphrase_option
from mesyx.errors import UsageError

if TYPE_CHECKING:
    from mesyx.modes.exchange.pairing import Pinned
    from mesyx.store.peers import Peer
    from mesyx.store.records import AccountRecord

__all__ = ["peer", "peer_rows", "describe"]

_ROLES = ("accept", "client", "relay")


@cli.group()
def peer() -> None:
    """Pair this node with others for replication (exchange mode)."""


def _accounts(node: Node, names: str) -> list[AccountRecord | bytes]:
    """``--accounts``: addresses of accounts here, or base32 account ids (a relay that holds
    no copy of an account's addresses names it by id)."""
    from mesyx.crypto.encoding import unb32

    chosen: list[AccountRecord | bytes] = []
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        chosen.append(node.store.find_account(name) if "@" in name else unb32(name, 16))
    if not chosen:
        raise UsageError("--accounts names no account (ADDR[,ADDR], or account ids)")
    return chosen


def _sign_in_as_accept(node: Node, records: list[AccountRecord], pinned: Pinned, passphrase_file: Path | None) -> int:
    """``--role accept`` on a client node: sign the peer into each account's device list as
    an accept device (it may then put envelopes); returns how many lists changed."""
    from mesyx.accounts import add_device
    from mesyx.crypto.encoding import unb32
    from mesyx.store.devices import DeviceRole

    descriptor = pinned.descriptor
    verify_key = unb32(str(descriptor["verify_key"]), 32)
    box_key = unb32(str(descriptor["box_key"]), 32)
    changed = 0
    for record in records:
        if not record.has_private:
            continue  # not a client of this account here: its client node signs the peer in
        unlocked = unlock_account(node, record, passphrase_file)
        before = record.device_list
        after = add_device(node.store, unlocked, verify_key=verify_key, box_key=box_key, role=DeviceRole.ACCEPT)
        changed += after != before
    return changed


@peer.command("add")
@click.argument("node_id")
@click.argument("address", required=False)
@click.option("--accounts", "names", required=True, help="Accounts shared with the peer: ADDR[,ADDR] (or account ids).")
@click.option("--role", type=click.Choice(_ROLES), default="relay", show_default=True,
              help="accept: also sign the peer into the accounts' device lists as an accept node; "
                   "relay: carries data, originates nothing.")
@click.option("--descriptor", "descriptor_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A peer reached by sneakernet only: its descriptor file instead of an ADDRESS.")
@passphrase_option
@pass_ctx
def add(ctx: Context, node_id: str, address: str | None, names: str, role: str, descriptor_file: Path | None,
        passphrase_file: Path | None) -> None:
    """Trust NODE_ID at ADDRESS (https://HOST:PORT) and share the given accounts with it.

    The peer's descriptor is fetched from ADDRESS and checked: signed by the key whose
    hash is NODE_ID, and naming the TLS key the connection presented. Run it on both
    nodes; each only talks to peers it added.
    """
    from mesyx.crypto.encoding import b32
    from mesyx.modes.exchange.pairing import fetch_descriptor, read_descriptor_file
    from mesyx.store.peers import PeerRole, Peers, new_peer

    node_id = node_id.strip().lower()
    if (address is None) == (descriptor_file is None):
        raise UsageError("give the peer's ADDRESS (https://HOST:PORT) or, for sneakernet only, --descriptor FILE")
    if address is not None:
        pinned = fetch_descriptor(address, node_id)
    else:
        assert descriptor_file is not None
        pinned = read_descriptor_file(descriptor_file, node_id)
    with open_node(ctx) as node:
        chosen = _accounts(node, names)
        records = [c for c in chosen if not isinstance(c, bytes)]
        account_ids = [c if isinstance(c, bytes) else c.account_id for c in chosen]
        signed = 0
        if role == "accept":
            signed = _sign_in_as_accept(node, records, pinned, passphrase_file)
        stored = Peers(node.store).add(new_peer(
            node_id, address, pinned.descriptor, pinned.certificate, pinned.spki, PeerRole(role), account_ids))
        shown = [r.primary_address if not isinstance(r, bytes) else b32(r) for r in chosen]
    where = address or "sneakernet only"
    click.echo(f"peer {stored.node_id} ({where}) added as {stored.role.value}, sharing {', '.join(shown)}")
    if signed:
        click.echo(f"signed into {signed} device list(s) as an accept node")


def _row(peer: Peer, names: dict[bytes, str]) -> dict[str, object]:
    from mesyx.crypto.encoding import b32

    return {
        "node_id": peer.node_id,
        "address": peer.address,
        "role": peer.role.value,
        "accounts": [names.get(a, b32(a)) for a in peer.accounts],
        "added_at": peer.added_at,
        "last_contact": peer.last_contact,
        "last_error": peer.last_error,
        "errors": peer.errors,
        "backoff_until": peer.backoff_until,
        "refused_until": peer.refused_until,
    }


def peer_rows(node: Node, *, lacks: bool = False) -> list[dict[str, object]]:
    """Every peer as a JSON-ready row (``peer list --json``); with ``lacks`` (``mesyx
    status``) also how many operations it lacks and we lack, from its last known heads."""
    from mesyx.store.peers import Peers

    table = Peers(node.store)
    names = {r.account_id: r.primary_address for r in node.store.accounts()}
    rows = []
    for peer in table.all():
        row = _row(peer, names)
        if lacks:
            row["they_lack"], row["we_lack"] = table.lacks(peer)
        rows.append(row)
    return rows


def _when(moment: object) -> str:
    if not isinstance(moment, float | int):
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))


@peer.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def list_peers(ctx: Context, as_json: bool) -> None:
    """List peers: address, role, shared accounts, last contact and errors."""
    with open_node(ctx) as node:
        rows = peer_rows(node)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no peers (mesyx peer add NODE_ID https://HOST:PORT --accounts ADDR)")
    for row in rows:
        click.echo(describe(row))


def describe(row: dict[str, object]) -> str:
    """One line per peer for people (``peer list``, ``status``)."""
    accounts = row["accounts"]
    assert isinstance(accounts, list)
    text = (f"{row['node_id']}  {row['address'] or '(sneakernet)'}  {row['role']}  {', '.join(accounts)}  "
            f"last contact {_when(row['last_contact'])}")
    if "they_lack" in row:
        text += f"; it lacks {row['they_lack']} ops, we lack {row['we_lack']}"
    if row["errors"]:
        text += f"; {row['errors']} error(s), last: {row['last_error']}"
    return text


@peer.command("remove")
@click.argument("node_id")
@pass_ctx
def remove(ctx: Context, node_id: str) -> None:
    """Stop trusting a peer: its requests are refused from now on (the daemon's tasks for it
    stop within seconds). Device lists are unchanged: revoke with mesyx account devices."""
    from mesyx.store.peers import Peers

    with open_node(ctx) as node:
        Peers(node.store).remove(node_id.strip().lower())
    click.echo(f"peer {node_id} removed")

