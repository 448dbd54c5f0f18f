"""Replica.apply is indifferent to order and duplication (issue 6: "idempotent under
duplication and reordering"): any sequence of a stream's batches, repeated and shuffled,
followed by the whole stream, ends in the state the stream gives in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesyx.crypto.node import NodeKeys
from mesyx.proto.sync.frames import CommitFrame, Frame
from mesyx.store import fold
from mesyx.store.store import Store
from tests.replica.conftest import THRESHOLD, Node, NodeFactory, frames_for, keywords, snapshot


def _batches(frames: list[Frame]) -> list[list[Frame]]:
    """Each batch with the stream's ACCOUNT frame in front (a receiver may start anywhere)."""
    account, batches, current = frames[0], [], [frames[0]]
    for frame in frames[1:]:
        current.append(frame)
        if isinstance(frame, CommitFrame):
            batches.append(current)
            current = [account]
    return batches


@pytest.fixture
def source(nodes: NodeFactory) -> Iterator[tuple[Node, list[Frame]]]:
    a = nodes("a", client=True)
    ids = a.deliver(4) + a.deliver(1, size=THRESHOLD * 2)
    a.change(*keywords(ids[:3], "$seen"))
    a.change(fold.DeleteEnvelope(ids[1]), fold.DeleteEnvelope(ids[-1]))
    a.change(*keywords(ids[2:], "$flagged"))
    yield a, frames_for(a, nodes("probe"), a.account_id, batch_bytes=1)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_order_and_repetition_converges(source: tuple[Node, list[Frame]], tmp_path_factory: pytest.TempPathFactory,
                                            data: st.DataObject) -> None:
    a, frames = source
    batches = _batches(frames)
    order = data.draw(st.lists(st.integers(0, len(batches) - 1), max_size=2 * len(batches)))
    root: Path = tmp_path_factory.mktemp("receiver")
    store = Store(f"sqlite:///{root / 'db'}", root / "blobs", NodeKeys.generate(), blob_threshold=THRESHOLD)
    store.create_schema()
    receiver = Node("r", root, store)
    try:
        for i in order:
            # Every batch stands alone: an envelope travels with its put, and a purged
            # envelope's put with the operation that purged it.
            receiver.replica.apply(batches[i], accept_accounts={a.account_id})
        receiver.replica.apply(frames, accept_accounts={a.account_id})
        assert snapshot(store, a.account_id) == snapshot(a.store, a.account_id)
        assert receiver.replica.vectors([a.account_id]) == a.replica.vectors([a.account_id])
    finally:
        store.close()
