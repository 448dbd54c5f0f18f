"""How many statements a client write's reconcile runs: the write side of every IMAP
STORE, EXPUNGE and APPEND, serialised per account, so each statement is CPU that caps a
busy account's commands/s (bench/index_write.py). A change that adds one should mean to.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from tests.client_index.conftest import Env


@contextmanager
def reconcile_statements(engine: Engine) -> Iterator[list[str]]:
    """The first words of the statements from reconcile's first (locking the account's
    index row) to its last (writing the basis), whatever runs around them."""
    seen: list[str] = []
    inside = False

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal inside
        inside = inside or statement.startswith("SELECT index_accounts.basis")
        if inside:
            seen.append(" ".join(statement.split()[:3]))
        inside = inside and not statement.startswith("UPDATE index_accounts SET")

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_flag_change_reconciles_in_seven_statements(env: Env) -> None:
    ids = env.deliver(3)
    env.syncer.sync()
    with reconcile_statements(env.store.engine) as seen:
        result = env.writer.set_flags([ids[1]], ["\\Flagged"], True)
    assert result.changes.delta(env.inbox).flags[0].keywords == ("$flagged",)
    # Lock, read the mailboxes, the scope's cache sizes and rows; update the row, the
    # mailbox's counters, the basis. Not: insert the account row (it exists), re-read
    # the scope's rows to find which cache rows to drop (the rows just written say).
    assert [s.split()[0] for s in seen] == ["SELECT"] * 4 + ["UPDATE"] * 3, seen
    assert not any("index_accounts" in s for s in seen[1:-1])


def test_the_first_sync_creates_the_account_row(env: Env) -> None:
    env.deliver(1)
    with reconcile_statements(env.store.engine) as seen:
        env.syncer.sync()
    assert seen[:3] == ["SELECT index_accounts.basis FROM", "INSERT INTO index_accounts",
                        "SELECT index_accounts.basis FROM"]
