"""The index's read path: its prebuilt queries on SQLite and PostgreSQL, and the cache of
unwrapped content keys in :mod:`mesyx.modes.client.index.decrypt` (never outliving the
unlock, never serving a detached keyset)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from mesyx.crypto.envelope import KeyWrap, open_wrap
from mesyx.errors import CryptoError, NotFound
from mesyx.modes.client.index import decrypt
from mesyx.modes.client.index.decrypt import Opened, Unopenable, open_envelopes, openable
from mesyx.store.mailcrypt import unlock
from tests.client_index.conftest import Env, make_env
from tests.client_index.test_schema import db_url  # noqa: F401 - the SQLite/PostgreSQL fixture


def test_reads_on_both_databases(db_url: str, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    env = make_env(db_url, tmp_path / "blobs")
    try:
        ids = env.deliver(3)
        env.syncer.sync()
        r, aid, inbox = env.reader, env.account_id, env.inbox
        top = r.mailbox(aid, inbox, counts=False).highestmodseq
        env.writer.set_flags(ids[:1], ["\\Seen"], True)
        env.writer.expunge(ids[2:], inbox)
        assert r.find(aid, "inbox").mailbox_id == inbox
        assert (r.mailbox(aid, inbox).messages, r.mailbox(aid, inbox).unseen) == (2, 1)
        with pytest.raises(NotFound):
            r.mailbox(aid, "no-such-mailbox")
        assert [m.uid for m in r.messages(aid, inbox, from_uid=2)] == [2]
        delta = r.changes_since(aid, inbox, top, known_uidnext=4)
        assert ([f.uid for f in delta.flags], delta.expunged, delta.added) == ([1], (3,), ())
        assert r.changes_since(aid, inbox, delta.modseq).flags == ()
        assert r.uids(aid, inbox, ids) == {ids[0]: 1, ids[1]: 2}
        assert set(r.cached(aid, ids)) == set(ids[:2])
        assert r.uid_map(aid, inbox) == {ids[0]: 1, ids[1]: 2, ids[2]: 3}
        assert r.version(aid) > 0 and r.cached_count(aid) == 2
        assert "INBOX" in r.subscriptions(aid)
        with env.store.engine.connect() as conn:
            assert openable(conn, aid, env.account.keysets, only=ids[:2]) == set(ids[:2])
            # The expunged third one was deleted, and a delete purges its ciphertext where it is made.
            assert openable(conn, aid, env.account.keysets) >= set(ids[:2])
        assert [type(o) for o in open_envelopes(env.store, env.account, ids[:2])] == [Opened] * 2
    finally:
        env.store.close()


@pytest.fixture
def unwraps(monkeypatch: pytest.MonkeyPatch) -> list[KeyWrap]:
    """Every wrap actually opened (not served from the cache) from now on."""
    opened: list[KeyWrap] = []

    def counting(wrap: KeyWrap, private_key: PrivateKey) -> bytes:
        opened.append(wrap)
        return open_wrap(wrap, private_key)

    monkeypatch.setattr(decrypt, "open_wrap", counting)
    return opened


def raws(env: Env, ids: list[bytes]) -> list[bytes | None]:
    return [o.raw if isinstance(o, Opened) else None for o in open_envelopes(env.store, env.account, ids)]


def test_a_wrap_is_opened_once_per_unlock(env: Env, unwraps: list[KeyWrap]) -> None:
    ids = env.deliver(3)
    first = raws(env, ids)
    assert len(unwraps) == 3 and None not in first
    assert raws(env, ids) == first and len(unwraps) == 3  # served from the cache

    env.relogin()  # a new unlock starts empty
    assert raws(env, ids) == first and len(unwraps) == 6

    other = unlock(env.store, env.record, "pw")
    assert [o.raw for o in open_envelopes(env.store, other, ids) if isinstance(o, Opened)] == first
    held, gone = id(env.account), id(other)
    assert {held, gone} <= set(decrypt._CONTENT_KEYS._by_unlock)
    del other
    gc.collect()
    assert held in decrypt._CONTENT_KEYS._by_unlock and gone not in decrypt._CONTENT_KEYS._by_unlock


def test_a_detached_keyset_is_never_served_from_the_cache(env: Env, unwraps: list[KeyWrap]) -> None:
    ids = env.deliver(2)
    first = raws(env, ids)
    halves = env.detach(ids[:1])
    results = list(open_envelopes(env.store, env.account, ids))
    assert all(isinstance(o, Unopenable) and isinstance(o.error, CryptoError) for o in results)
    env.attach(halves)
    assert raws(env, ids) == first


def test_the_cache_is_bounded(env: Env, monkeypatch: pytest.MonkeyPatch, unwraps: list[KeyWrap]) -> None:
    monkeypatch.setattr(decrypt, "_CONTENT_KEYS", decrypt._ContentKeys(2))
    ids = env.deliver(3)
    raws(env, ids)
    assert len(decrypt._CONTENT_KEYS._by_unlock[id(env.account)]) == 2
    raws(env, ids[2:])  # the newest stayed
    raws(env, ids[:1])  # the oldest went
    assert len(unwraps) == 4
