"""Replica between two stores on a real PostgreSQL server (DESIGN.md, Storage: "tested
against a real server"): BYTEA comes back as memoryview, the ops primary key and
``op_heads`` take concurrent writers, and a refused stream rolls back there too."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesyx.errors import CryptoError, Temporary
from mesyx.proto.sync.frames import EnvelopeFrame
from mesyx.store import fold
from tests.fixtures.postgres import PostgresServer
from tests.replica.conftest import THRESHOLD, NodeFactory, counts, frames_for, keywords, make_factory, snapshot, sync
from tests.replica.test_refusals import flipped_body

pytestmark = pytest.mark.postgres
_numbers = itertools.count(1)


@pytest.fixture
def pg_nodes(tmp_path: Path, postgres_server: PostgresServer) -> Iterator[NodeFactory]:
    prefix = f"replica_{next(_numbers)}_{tmp_path.name.lower().replace('-', '_')[:20]}"
    make, made = make_factory(tmp_path, lambda name: postgres_server.create_database(f"{prefix}_{name}"))
    yield make
    for node in made:
        node.store.close()


def test_replicate_on_postgresql(pg_nodes: NodeFactory) -> None:
    a, b, c = pg_nodes("a", client=True), pg_nodes("b"), pg_nodes("c")
    ids = a.deliver(3) + a.deliver(1, size=THRESHOLD * 2)
    a.change(*keywords(ids, "$seen"))
    sync(a, b, a.account_id, batch_bytes=1000)
    assert snapshot(b.store, a.account_id) == snapshot(a.store, a.account_id)
    assert b.replica.vectors([a.account_id]) == a.replica.vectors([a.account_id])
    a.change(fold.DeleteEnvelope(ids[0]), fold.DeleteEnvelope(ids[-1]))
    more = a.deliver(1)
    frames = frames_for(a, c, a.account_id)
    before = counts(c.store)
    with pytest.raises(CryptoError):
        c.replica.apply(flipped_body(a, list(frames)), accept_accounts={a.account_id})
    assert counts(c.store) == before
    c.replica.apply(frames, accept_accounts={a.account_id})
    sync(a, b, a.account_id)
    assert not any(isinstance(f, EnvelopeFrame) and f.envelope.envelope_id in (ids[0], ids[-1]) for f in frames)
    assert snapshot(a.store, a.account_id) == snapshot(b.store, a.account_id) == snapshot(c.store, a.account_id)
    assert set(more) <= set(b.store.envelope_ids(a.account_id))
    again = b.replica.apply(frames, accept_accounts={a.account_id})
    assert not again.changed


def test_concurrent_applies_of_one_stream(pg_nodes: NodeFactory) -> None:
    """Two connections apply the same stream at once (a pull and a push crossing): each
    takes it or answers Temporary (the other stored those rows first) and is retried;
    the end state is the stream's, with nothing twice."""
    a, b = pg_nodes("a", client=True), pg_nodes("b")
    a.deliver(20)
    frames = frames_for(a, b, a.account_id, batch_bytes=2000)
    outcomes: list[str] = []

    def apply() -> None:
        for _ in range(20):
            try:
                b.replica.apply(frames, accept_accounts={a.account_id})
            except Temporary:
                outcomes.append("temporary")
                continue
            outcomes.append("applied")
            return

    threads = [threading.Thread(target=apply) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("applied") == 3, outcomes
    assert snapshot(b.store, a.account_id) == snapshot(a.store, a.account_id)
