"""Index commands: ``index rebuild`` and ``index status`` (client nodes).

The index (mesyx/modes/client/index/) holds IMAP's numbers and a plaintext header cache
and exists only on client nodes, so both commands refuse other nodes. They work while
the daemon runs: they sync through the same lock row as the daemon, and the daemon's
sessions notice on their next SELECT / NOOP (mesyx/modes/client/index/feed.py). The
store and the index are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import Node, account_option, open_node, pick_account, unlock_account
from mesyx.cli.secrets import passphrase_option
from mesyx.errors import PermissionDenied

if TYPE_CHECKING:
    from mesyx.modes.client.index import MailboxInfo


@cli.group()
def index() -> None:
    """The client node's local index: IMAP UIDs, MODSEQs and a header cache."""


def _require_client(node: Node) -> None:
    from mesyx.config import Mode

    if Mode.CLIENT not in node.config.node.modes:
        raise PermissionDenied("the index lives only on client nodes, and this node is not one (see mesyx.toml)")


class _Bar:
    """A click progress bar created on the first report, hidden unless stderr is a tty."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=max(total, 1), label="decrypting", file=sys.stderr,
                                          show_pos=True, hidden=not sys.stderr.isatty())
            self._bar.__enter__()
        self._bar.update(done - self._shown)
        self._shown = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@index.command("rebuild")
@account_option
@passphrase_option
@pass_ctx
def rebuild(ctx: Context, address: str | None, passphrase_file: Path | None) -> None:
    """Decrypt every message again and rewrite the account's index.

    UIDVALIDITY and every UID are kept, so IMAP clients do not download their mail again.
    """
    from mesyx.modes.client.index import IndexReader, IndexSyncer

    with open_node(ctx) as node:
        _require_client(node)
        record = pick_account(node.store, address)
        unlocked = unlock_account(node, record, passphrase_file)
        bar = _Bar()
        try:
            IndexSyncer(node.store, unlocked).rebuild(progress=bar)
        finally:
            bar.close()
        boxes = IndexReader(node.store).mailboxes(record.account_id)
    total = sum(b.messages for b in boxes)
    click.echo(f"rebuilt the index of {record.primary_address}: {total} messages in {len(boxes)} mailboxes")


def _row(box: MailboxInfo) -> dict[str, Any]:
    return {
        "name": box.path,
        "id": box.mailbox_id,
        "role": box.role,
        "subscribed": box.subscribed,
        "messages": box.messages,
        "unseen": box.unseen,
        "deleted": box.deleted,
        "size": box.size,
        "uidvalidity": box.uidvalidity,
        "uidnext": box.uidnext,
        "highestmodseq": box.highestmodseq,
    }


@index.command("status")
@account_option
@passphrase_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def status(ctx: Context, address: str | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Sync the account's index, then show its mailboxes: counts, UIDVALIDITY, UIDNEXT,
    HIGHESTMODSEQ."""
    from mesyx.modes.client.index import IndexReader, IndexSyncer

    with open_node(ctx) as node:
        _require_client(node)
        record = pick_account(node.store, address)
        unlocked = unlock_account(node, record, passphrase_file)
        IndexSyncer(node.store, unlocked).sync()
        reader = IndexReader(node.store)
        rows = [_row(b) for b in reader.mailboxes(record.account_id)]
        cached = reader.cached_count(record.account_id)
    if as_json:
        click.echo(json.dumps({"account": record.primary_address, "cached": cached, "mailboxes": rows}, indent=2,
                              ensure_ascii=False))
        return
    click.echo(f"index of {record.primary_address}: {cached} messages cached")
    click.echo(f"  {'mailbox':<24} {'messages':>8} {'unseen':>7} {'uidvalidity':>11} {'uidnext':>8} "
               f"{'highestmodseq':>13}")
    for r in rows:
        click.echo(f"  {r['name']:<24} {r['messages']:>8} {r['unseen']:>7} {r['uidvalidity']:>11} "
                   f"{r['uidnext']:>8} {r['highestmodseq']:>13}")
