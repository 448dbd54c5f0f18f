"""What a pull reads is found by index (issue 6, Measurements: 1,000 missing of 100,000
must not cost a scan of the 100,000): every statement that ``vectors`` and ``missing``
run on SQLite is asked for its plan, and none may scan the log or the envelopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from mesyx.proto.sync.frames import CommitFrame
from mesyx.store import fold
from mesyx.store.store import Store
from tests.replica.conftest import NodeFactory, frames_for, keywords, sync


def assert_searches(store: Store, run: Callable[[], object]) -> None:
    """Run ``run`` and check the plan of every SELECT it sent to ``store``."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        run()
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert statements
    with store.engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        for statement, parameters in statements:
            plan = [row[3] for row in driver.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
            scans = [step for step in plan if step.startswith("SCAN") and ("ops" in step or "envelopes" in step)]
            assert not scans, (statement, plan)


def test_vectors_and_missing_search_by_index(nodes: NodeFactory) -> None:
    a, b, c = nodes("a", client=True), nodes("b"), nodes("c")
    ids = a.deliver(4)
    sync(a, b, a.account_id)
    more = a.deliver(3)
    a.change(*keywords(more, "$seen"), fold.DeleteEnvelope(ids[0]))
    assert_searches(a.store, lambda: frames_for(a, b, a.account_id, batch_bytes=1))
    assert_searches(a.store, lambda: a.replica.vectors([a.account_id]))
    # A node holding a later batch but not the earlier ones: its vector looks for the gap.
    frames = frames_for(a, c, a.account_id, batch_bytes=1)
    last = max(i for i, f in enumerate(frames[:-1]) if isinstance(f, CommitFrame))
    c.replica.apply([frames[0], *frames[last + 1:]], accept_accounts={a.account_id})
    vector: dict[bytes, dict[str, int]] = {}
    assert_searches(c.store, lambda: vector.update(c.replica.vectors([a.account_id])))
    assert vector[a.account_id][a.store.node.node_id] == 0
    assert_searches(c.store, lambda: c.store.operations(a.account_id))
