"""An account's current state as a client sees it: its operations, opened and folded."""

from __future__ import annotations

from mesyx.store.fold import AccountState, Change, Stamp, fold
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.payloads import decode_change
from mesyx.store.store import Store

__all__ = ["account_state"]


def account_state(store: Store, account: UnlockedAccount) -> AccountState:
    """Fold every operation of the account; needs the metadata keyset (client nodes)."""
    meta = account.metadata.private_key
    changes: list[tuple[Stamp, Change]] = []
    for op in store.operations(account.record.account_id):
        change = decode_change(op, meta)
        if change is not None:
            changes.append(((op.hlc, op.origin, op.seq), change))
    return fold(account.record.account_id, changes)
