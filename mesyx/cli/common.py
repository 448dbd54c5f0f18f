"""Helpers shared by the CLI commands: open the node, pick and unlock an account."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mesyx.cli.app import Context
from mesyx.cli.secrets import read_passphrase
from mesyx.config import Config
from mesyx.errors import NotFound, UsageError

if TYPE_CHECKING:  # the store pulls in SQLAlchemy and PyNaCl: not for `mesyx --help`
    from mesyx.store.mailcrypt import UnlockedAccount
    from mesyx.store.records import AccountRecord
    from mesyx.store.store import Store

__all__ = ["Node", "open_node", "pick_account", "unlock_account", "account_option"]

account_option = click.option(
    "--account", "address", help="The account's address (may be left out when the node has one account)."
)


@dataclass(frozen=True)
class Node:
    config: Config
    store: Store


@contextmanager
def open_node(ctx: Context) -> Iterator[Node]:
    config = ctx.home.config()
    store = ctx.home.open_store(config, ctx.home.node_keys())
    try:
        store.create_schema()
        yield Node(config, store)
    finally:
        store.close()


def pick_account(store: Store, address: str | None) -> AccountRecord:
    if address is not None:
        return store.find_account(address)
    records = store.accounts()
    if not records:
        raise NotFound("this node has no account yet: mesyx account add ADDR (or account import)")
    if len(records) > 1:
        raise UsageError("this node has several accounts: say which with --account ADDR")
    return records[0]


def unlock_account(node: Node, record: AccountRecord, passphrase_file: Path | None) -> UnlockedAccount:
    """Ask for the secret only after checking the node can use it at all."""
    from mesyx.store.mailcrypt import unlock

    if not record.has_private:
        unlock(node.store, record, "")  # raises the one-line explanation
    secret = read_passphrase(passphrase_file, prompt=f"Passphrase for {record.primary_address}")
    return unlock(node.store, record, secret)
