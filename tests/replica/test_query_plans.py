"""What a pull reads is found by index (issue 6, Measurements: 1,000 missing of 100,000
must not cost a scan of the 100,000): every statement that ``vectors`` and ``missing``
run on SQLite is asked for its plan, and none may scan the log or the envelopes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from mesyx.store import fold
from tests.replica.conftest import NodeFactory, frames_for, keywords, sync


def test_vectors_and_missing_search_by_index(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    ids = a.deliver(4)
    sync(a, b, a.account_id)
    more = a.deliver(3)
    a.change(*keywords(more, "$seen"), fold.DeleteEnvelope(ids[0]))
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(a.store.engine, "before_cursor_execute", seen)
    try:
        frames = frames_for(a, b, a.account_id, batch_bytes=1)
        a.replica.vectors([a.account_id])
    finally:
        event.remove(a.store.engine, "before_cursor_execute", seen)
    assert len(frames) > 10 and statements
    with a.store.engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        for statement, parameters in statements:
            plan = [row[3] for row in driver.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
            scans = [step for step in plan if step.startswith("SCAN") and ("ops" in step or "envelopes" in step)]
            assert not scans, (statement, plan)
