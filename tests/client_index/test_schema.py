"""The index schema on SQLite and on a real PostgreSQL server: created only by the index,
every operation works, and two processes syncing at once serialise."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from mesyx.crypto.node import NodeKeys
from mesyx.modes.client.index import IndexSyncer, schema
from mesyx.store import schema as store_schema
from mesyx.store.mailbox_ids import MailboxRole
from mesyx.store.store import Store
from tests.client_index.conftest import make_env

INDEX_TABLES = {t.name for t in schema.index_metadata.sorted_tables}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mesyx.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    yield server.create_database(f"index_{uuid.uuid4().hex[:12]}")


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_schema_smoke(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "blobs", NodeKeys.generate())
    store.create_schema()
    assert tables(db_url) == {t.name for t in store_schema.metadata.sorted_tables}, "the store made index tables"
    store.close()
    env = make_env(db_url, tmp_path / "blobs")
    try:
        assert tables(db_url) >= INDEX_TABLES
        ids = env.deliver(3)
        env.syncer.sync()
        assert env.uids() == {ids[0]: 1, ids[1]: 2, ids[2]: 3}
        w = env.writer
        w.set_flags(ids[:2], ["\\Seen", "$Label1"], True)
        w.move([ids[0]], env.inbox, env.role(MailboxRole.ARCHIVE))
        w.move([ids[0]], env.role(MailboxRole.ARCHIVE), env.inbox)
        lists = w.create_mailbox("Lists/Sub").mailbox_id
        assert lists is not None
        w.copy([ids[1]], lists)
        w.expunge([ids[2]], env.inbox)
        appended = w.append(b"Subject: a\r\n\r\nb\r\n", lists, ["\\Flagged"])
        assert appended.uid == 2
        w.set_subscribed("Lists/Sub", True)
        assert env.uids() == {ids[0]: 4, ids[1]: 2}  # moved out and back: a new UID
        box = env.reader.mailbox(env.account_id, env.inbox)
        assert (box.uidnext, box.messages, box.unseen) == (5, 2, 0)
        vanished = env.reader.changes_since(env.account_id, env.inbox, 1).expunged
        assert vanished == (1, 3)
        before = env.reader.mailboxes(env.account_id)
        env.syncer.rebuild()
        assert [(b.uidvalidity, b.uidnext) for b in env.reader.mailboxes(env.account_id)] == [
            (b.uidvalidity, b.uidnext) for b in before]
        assert not IndexSyncer(env.store, env.account).sync()
        # A second creation (another process starting) is harmless.
        schema._created.clear()
        schema.ensure_index_schema(env.store.engine)
    finally:
        env.store.close()


def test_two_processes_syncing_at_once(db_url: str, tmp_path: Path) -> None:
    env = make_env(db_url, tmp_path / "blobs")
    other = Store(db_url, tmp_path / "blobs", env.store.node)
    try:
        env.deliver(40)
        syncers = [env.syncer, IndexSyncer(other, env.account)]
        errors: list[BaseException] = []
        start = threading.Barrier(len(syncers))

        def run(syncer: IndexSyncer) -> None:
            try:
                start.wait()
                for _ in range(3):
                    syncer.sync()
                    env.deliver(2)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s,)) for s in syncers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        env.syncer.sync()
        assert sorted(env.uids().values()) == list(range(1, 53))
        assert not syncers[1].sync(force=True)
    finally:
        other.close()
        env.store.close()


@pytest.mark.parametrize("old", ["1", None])
def test_an_index_of_another_schema_version_is_built_again(tmp_path: Path, old: str | None) -> None:
    from sqlalchemy import delete, update

    env = make_env(f"sqlite:///{tmp_path / 'db'}", tmp_path / "blobs")
    try:
        env.deliver(2)
        env.syncer.sync()
        with env.store.engine.begin() as conn:
            if old is None:  # the first version had no index_meta table
                schema.index_meta.drop(conn)
            else:
                conn.execute(update(schema.index_meta).values(value=old))
            conn.execute(delete(schema.index_uids))
        schema._created.clear()
        fresh = IndexSyncer(env.store, env.account)
        assert tables(str(env.store.engine.url)) >= INDEX_TABLES
        assert env.reader.mailboxes(env.account_id) == []  # dropped
        fresh.sync()
        assert sorted(env.uids().values()) == [1, 2]
    finally:
        env.store.close()
