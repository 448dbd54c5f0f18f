"""The accept side's active scripts: compiled, cached, refreshed, and keep when unusable."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from mesyx.crypto.node import NodeKeys
from mesyx.pipeline.scripts import ActiveScripts
from mesyx.sieve import CompiledScript
from mesyx.store.devices import Device, DeviceList, DeviceRole
from mesyx.store.operations import OpKind
from mesyx.store.records import AccountRecord
from mesyx.store.sieve_scripts import ScriptSet, ScriptSets, edit, seal_payload
from mesyx.store.store import Store

ACCOUNT = b"B" * 16
GOOD = 'require "fileinto";\nfileinto "Lists";\n'


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path}/n.sqlite3", tmp_path / "blobs", NodeKeys.generate())
    store.create_schema()
    me = Device(store.node.verify_key, bytes(store.node.box_public), DeviceRole.CLIENT)
    devices = DeviceList(ACCOUNT, 1, (me,)).signed(SigningKey.generate())
    store.add_account(AccountRecord(ACCOUNT, b"k" * 32, time.time(), ("b@mesyx.test",), devices, None, None))
    return store


def _active(scripts: ActiveScripts) -> CompiledScript | None:
    return asyncio.run(scripts.active(ACCOUNT))


def test_none_then_the_active_script_then_none(store: Store) -> None:
    scripts = ActiveScripts(store, ttl=0)
    assert _active(scripts) is None
    sets = ScriptSets(store)
    edit(sets, ACCOUNT, lambda s: s.put("lists", GOOD))
    assert _active(scripts) is None, "a script that is not active is not run"
    edit(sets, ACCOUNT, lambda s: s.activate("lists"))
    compiled = _active(scripts)
    assert compiled is not None and "fileinto" in compiled.requires
    assert _active(scripts) is compiled, "the same operation is not compiled again"
    edit(sets, ACCOUNT, lambda s: s.activate(None))
    assert _active(scripts) is None


def test_answers_from_memory_until_the_ttl(store: Store) -> None:
    scripts = ActiveScripts(store, ttl=3600)
    assert _active(scripts) is None
    edit(ScriptSets(store), ACCOUNT, lambda s: s.put("lists", GOOD).activate("lists"))
    assert _active(scripts) is None, "cached"
    scripts.ttl = 0
    assert _active(scripts) is not None


def _originate_raw(store: Store, record: AccountRecord, scripts: ScriptSet) -> None:
    store.originate(ACCOUNT, [(OpKind.SIEVE_SCRIPT, b"", seal_payload(record, scripts))])


def test_a_script_that_does_not_compile_is_keep_logged_once(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    bad = ScriptSet().put("future", 'require "x-newer-extension";\nkeep;\n').activate("future")
    _originate_raw(store, store.account(ACCOUNT), bad)  # as a newer Mesyx would have stored it
    scripts = ActiveScripts(store, ttl=0)
    with caplog.at_level(logging.WARNING):
        assert _active(scripts) is None
        assert _active(scripts) is None
    refused = [r for r in caplog.records if "active_script_refused" in r.getMessage()]
    assert len(refused) == 1, caplog.text


def test_a_payload_not_sealed_to_this_node_is_keep(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    other = NodeKeys.generate()
    stranger = Device(other.verify_key, bytes(other.box_public), DeviceRole.ACCEPT)
    record = store.account(ACCOUNT)
    elsewhere = AccountRecord(ACCOUNT, record.verify_key, record.created_at, record.addresses,
                              DeviceList(ACCOUNT, 1, (stranger,)), None, None)
    _originate_raw(store, elsewhere, ScriptSet().put("a", "discard;").activate("a"))
    with caplog.at_level(logging.WARNING):
        assert _active(ActiveScripts(store, ttl=0)) is None
    assert "active_script_unreadable" in caplog.text
