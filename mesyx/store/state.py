"""An account's current state as a client sees it: its operations, opened and folded."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from mesyx.store.fold import AccountState, Change, Stamp, fold
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.operations import Operation, OpKind
from mesyx.store.payloads import decode_change, encode_change
from mesyx.store.store import Store

__all__ = ["account_state", "record_changes", "record_changes_in"]


def account_state(store: Store, account: UnlockedAccount) -> AccountState:
    """Fold every operation of the account; needs the metadata keyset (client nodes)."""
    meta = account.metadata.private_key
    changes: list[tuple[Stamp, Change]] = []
    for op in store.operations(account.record.account_id):
        change = decode_change(op, meta)
        if change is not None:
            changes.append(((op.hlc, op.origin, op.seq), change))
    return fold(account.record.account_id, changes)


def record_changes(store: Store, account: UnlockedAccount, changes: Sequence[Change]) -> list[Operation]:
    """Sign what a client did (flags, moves, mailboxes, deletes) as this node's operations,
    sealed to the metadata keyset, in one transaction; they replicate like any other."""
    return store.originate(account.record.account_id, _encoded(account, changes))


def record_changes_in(conn: Connection, store: Store, account: UnlockedAccount,
                      changes: Sequence[Change]) -> list[Operation]:
    """:func:`record_changes` in the caller's write transaction."""
    return store.originate_in(conn, account.record.account_id, _encoded(account, changes))


def _encoded(account: UnlockedAccount, changes: Sequence[Change]) -> list[tuple[OpKind, bytes, bytes]]:
    meta = account.metadata.public
    return [encode_change(change, meta.keyset_id, meta.public_key) for change in changes]
