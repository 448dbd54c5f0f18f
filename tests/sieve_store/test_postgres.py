"""Script sets on PostgreSQL: edits serialise per account, reads stay incremental."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from mesyx.crypto.node import NodeKeys
from mesyx.store.devices import Device, DeviceList, DeviceRole
from mesyx.store.records import AccountRecord
from mesyx.store.sieve_scripts import ScriptSets, edit
from mesyx.store.store import Store
from tests.fixtures.postgres import PostgresServer

pytestmark = pytest.mark.postgres

ACCOUNT = b"P" * 16


def test_concurrent_edits_lose_nothing(postgres_server: PostgresServer, tmp_path: Path) -> None:
    url = postgres_server.create_database(f"sieve_{secrets.token_hex(4)}")
    store = Store(url, tmp_path / "blobs", NodeKeys.generate())
    try:
        store.create_schema()
        me = Device(store.node.verify_key, bytes(store.node.box_public), DeviceRole.CLIENT)
        devices = DeviceList(ACCOUNT, 1, (me,)).signed(SigningKey.generate())
        store.add_account(AccountRecord(ACCOUNT, b"k" * 32, time.time(), ("p@mesyx.test",), devices, None, None))
        sets = ScriptSets(store)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: edit(sets, ACCOUNT, lambda s: s.put(f"s{i}", "keep;")), range(12)))
        assert ScriptSets(store).read(ACCOUNT).names() == sorted(f"s{i}" for i in range(12))
        edit(sets, ACCOUNT, lambda s: s.activate("s3"))
        assert sets.read(ACCOUNT).active == "s3"
    finally:
        store.close()
