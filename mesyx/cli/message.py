"""Message commands: ``message list`` and ``message show`` (decrypting, client nodes)."""

from __future__ import annotations

import datetime
import email.parser
import email.policy
import json
import sys
from pathlib import Path
from typing import Any

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import account_option, open_node, pick_account, unlock_account
from mesyx.cli.secrets import passphrase_option
from mesyx.errors import NotFound, UsageError


@cli.group()
def message() -> None:
    """Read stored messages (needs the account's private keys on this node)."""


def _headers(raw: bytes) -> dict[str, str]:
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    fields = {}
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        try:
            value = parsed.get(name)
        except (ValueError, IndexError, TypeError):  # a malformed header must not stop the listing
            value = None
        fields[name.lower()] = str(value) if value is not None else ""
    return fields


@message.command("list")
@account_option
@passphrase_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def list_messages(ctx: Context, address: str | None, passphrase_file: Path | None, as_json: bool) -> None:
    """List the account's messages, decrypted: mailbox, sender, subject, size."""
    from mesyx.store.mailcrypt import read_message
    from mesyx.store.state import account_state

    rows: list[dict[str, Any]] = []
    with open_node(ctx) as node:
        record = pick_account(node.store, address)
        unlocked = unlock_account(node, record, passphrase_file)
        state = account_state(node.store, unlocked)
        emails = sorted(state.emails.values(), key=lambda e: (e.received_at, e.envelope_id))
        with click.progressbar(emails, label="decrypting", file=sys.stderr, show_pos=True,
                               hidden=not sys.stderr.isatty()) as bar:
            for mail in bar:
                inner, raw = read_message(node.store, unlocked, mail.envelope_id)
                rows.append({
                    "id": mail.envelope_id.hex(),
                    "received_at": datetime.datetime.fromtimestamp(inner.received_at, datetime.UTC)
                    .isoformat(timespec="seconds"),
                    "mailboxes": sorted(state.mailboxes[m].name if m in state.mailboxes else m
                                        for m in mail.mailbox_ids),
                    "keywords": sorted(mail.keywords),
                    "mail_from": inner.mail_from,
                    "rcpt_to": list(inner.rcpt_to),
                    "size": len(raw),
                    **_headers(raw),
                })
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['id'][:16]}  {row['received_at']}  {','.join(row['mailboxes']):<8} "
                   f"{row['from'][:30]:<30}  {row['subject'][:50]}")
    click.echo(f"{len(rows)} messages", err=True)


@message.command("show")
@click.argument("message_id")
@account_option
@passphrase_option
@pass_ctx
def show(ctx: Context, message_id: str, address: str | None, passphrase_file: Path | None) -> None:
    """Write one message's original RFC 5322 bytes to stdout (ID or a unique prefix)."""
    from mesyx.store.mailcrypt import read_message

    wanted = message_id.strip().lower()
    if len(wanted) < 8 or any(c not in "0123456789abcdef" for c in wanted):
        raise UsageError("message id: give at least 8 hex digits (see `mesyx message list`)")
    with open_node(ctx) as node:
        record = pick_account(node.store, address)
        matches = [e for e in node.store.envelope_ids(record.account_id) if e.hex().startswith(wanted)]
        if not matches:
            raise NotFound(f"no message {wanted} in {record.primary_address}")
        if len(matches) > 1:
            raise UsageError(f"message id {wanted} is ambiguous: give more digits")
        unlocked = unlock_account(node, record, passphrase_file)
        _, raw = read_message(node.store, unlocked, matches[0])
    sys.stdout.buffer.write(raw)
    sys.stdout.flush()
