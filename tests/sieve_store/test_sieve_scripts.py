"""SIEVE scripts as replicated operations: the set, its quota, who can open it, the winner."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt, Exists, NotFound, PermissionDenied, UsageError
from mesyx.sieve.limits import DEFAULT_LIMITS
from mesyx.store.device_sealed import readers_of
from mesyx.store.devices import Device, DeviceList, DeviceRole
from mesyx.store.operations import Operation, OpKind
from mesyx.store.records import AccountRecord
from mesyx.store.sieve_scripts import (
    MAX_SCRIPTS,
    MAX_TOTAL_BYTES,
    QuotaExceeded,
    ScriptSet,
    ScriptSets,
    check_name,
    edit,
    open_payload,
    republish,
    seal_payload,
)
from mesyx.store.store import Store
from tests.helpers.daemon import scan_bytes

SCRIPT = 'require "fileinto";\nif header :contains "List-Id" "zebra-list" { fileinto "Zebras"; }\n'
NAME = "zebra-sorter"


def _store(root: Path, name: str) -> Store:
    store = Store(f"sqlite:///{root / name}.sqlite3", root / f"{name}-blobs", NodeKeys.generate())
    store.create_schema()
    return store


def _device(store: Store, role: DeviceRole) -> Device:
    return Device(store.node.verify_key, bytes(store.node.box_public), role)


@dataclass
class Cluster:
    """Two clients and an accept node of one account, and an outsider not on its list."""

    client: Store
    client2: Store
    accept: Store
    outsider: Store
    account_id: bytes

    def ship(self, ops: list[Operation], *to: Store) -> None:
        for store in to:
            for op in ops:
                store.apply_remote(op)


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    stores = [_store(tmp_path, n) for n in ("client", "client2", "accept", "outsider")]
    client, client2, accept, outsider = stores
    key = SigningKey.generate()
    account_id = b"A" * 16
    devices = DeviceList(account_id, 1, (
        _device(client, DeviceRole.CLIENT), _device(client2, DeviceRole.CLIENT), _device(accept, DeviceRole.ACCEPT),
    )).signed(key)
    for store in stores:
        store.add_account(AccountRecord(account_id, bytes(key.verify_key), time.time(), ("zed@mesyx.test",),
                                        devices, None, None))
    return Cluster(client, client2, accept, outsider, account_id)


def test_script_set_rules() -> None:
    empty = ScriptSet()
    one = empty.put("a", "keep;")
    assert one.names() == ["a"] and one.active is None and one.active_text is None
    live = one.activate("a")
    assert live.active_text == "keep;"
    with pytest.raises(PermissionDenied):
        live.delete("a")  # RFC 5804 2.10: not the active script
    renamed = live.rename("a", "b")
    assert renamed.active == "b" and renamed.names() == ["b"]  # 2.11.1: the active script follows
    with pytest.raises(Exists):
        renamed.put("c", "stop;").rename("b", "c")
    assert renamed.rename("b", "b") is renamed
    with pytest.raises(NotFound):
        empty.activate("zzz")
    assert live.activate(None).active is None and live.activate("").active is None
    assert one.delete("a") == empty


def test_quota() -> None:
    limit = DEFAULT_LIMITS.script_bytes
    with pytest.raises(QuotaExceeded) as too_big:
        ScriptSet().put("big", "#" * (limit + 1))
    assert too_big.value.code == "QUOTA/MAXSIZE"
    full = ScriptSet()
    for i in range(MAX_SCRIPTS):
        full = full.put(f"s{i}", "keep;")
    with pytest.raises(QuotaExceeded) as too_many:
        full.put("one-more", "keep;")
    assert too_many.value.code == "QUOTA/MAXSCRIPTS"
    full.put("s0", "stop;")  # replacing one is not one more
    heavy = ScriptSet()
    chunk = "#" * limit
    for i in range(MAX_TOTAL_BYTES // limit):
        heavy = heavy.put(f"h{i}", chunk)
    with pytest.raises(QuotaExceeded) as total:
        heavy.put("last", "#")
    assert total.value.code == "QUOTA"
    heavy.check_space("h0", limit)  # the same size in place of h0 fits


@pytest.mark.parametrize("bad", ["", "a\nb", "tab\there", "x\x7f", "\u2028", "é" * 129, "e\u0301"])
def test_names_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        check_name(bad)


def test_corrupt_sets_refused() -> None:
    with pytest.raises(Corrupt):
        ScriptSet.from_json({"scripts": {"a": 1}, "active": None})
    with pytest.raises(Corrupt):
        ScriptSet.from_json({"scripts": {"a": "keep;"}, "active": "b"})


def test_sealed_to_accept_and_clients_only(cluster: Cluster, tmp_path: Path) -> None:
    sets = ScriptSets(cluster.client)
    after, op = edit(sets, cluster.account_id, lambda s: s.put(NAME, SCRIPT).activate(NAME))
    assert op is not None and op.kind is OpKind.SIEVE_SCRIPT
    assert readers_of(op.payload, "x") == {cluster.client.node.node_id, cluster.client2.node.node_id,
                                          cluster.accept.node.node_id}
    assert sets.read(cluster.account_id) == after
    cluster.ship([op], cluster.accept, cluster.outsider)
    assert ScriptSets(cluster.accept).read(cluster.account_id).active_text == SCRIPT
    with pytest.raises(PermissionDenied):
        open_payload(op.payload, cluster.outsider)
    with pytest.raises(PermissionDenied):
        ScriptSets(cluster.outsider).read(cluster.account_id)
    # Nothing of the script, nor its name, is in any database file or blob of any node.
    assert scan_bytes(tmp_path, [SCRIPT, NAME, "zebra", "Zebras"]) == {}


def test_only_a_client_edits(cluster: Cluster) -> None:
    with pytest.raises(PermissionDenied):
        edit(ScriptSets(cluster.accept), cluster.account_id, lambda s: s.put(NAME, SCRIPT))
    with pytest.raises(PermissionDenied):
        republish(ScriptSets(cluster.outsider), cluster.account_id)


def test_no_change_no_operation(cluster: Cluster) -> None:
    sets = ScriptSets(cluster.client)
    assert edit(sets, cluster.account_id, lambda s: s.activate(None)) == (ScriptSet(), None)
    assert cluster.client.operations(cluster.account_id) == []
    assert republish(sets, cluster.account_id) is None


def test_last_writer_wins_in_any_order(cluster: Cluster) -> None:
    sets1, sets2 = ScriptSets(cluster.client), ScriptSets(cluster.client2)
    _, first = edit(sets1, cluster.account_id, lambda s: s.put("one", "keep;"))
    time.sleep(0.002)
    _, second = edit(sets2, cluster.account_id, lambda s: s.put("two", "stop;"))
    assert first is not None and second is not None
    accept = ScriptSets(cluster.accept)
    cluster.ship([second], cluster.accept)
    assert accept.read(cluster.account_id).names() == ["two"]
    cluster.ship([first], cluster.accept)  # older, arrives later: the newer set stays
    assert accept.read(cluster.account_id).names() == ["two"]
    assert ScriptSets(cluster.accept).read(cluster.account_id).names() == ["two"]


def test_incremental_reads_see_new_and_out_of_order_operations(cluster: Cluster) -> None:
    client, accept = ScriptSets(cluster.client), ScriptSets(cluster.accept)
    assert accept.read(cluster.account_id) == ScriptSet()
    ops = [edit(client, cluster.account_id, lambda s, i=i: s.put(f"v{i}", "keep;"))[1] for i in range(3)]
    assert all(op is not None for op in ops)
    # Other kinds in between do not change the winner (a ROUTING op stands in for puts).
    noise = cluster.client.originate(cluster.account_id, [(OpKind.ROUTING, b"", b"")])
    shipped = [op for op in ops if op is not None]
    cluster.ship([shipped[2], *noise], cluster.accept)  # seq 3 and 4 before 1 and 2: a gap
    assert accept.read(cluster.account_id).names() == ["v0", "v1", "v2"]
    cluster.ship(shipped[:2], cluster.accept)
    assert accept.read(cluster.account_id).names() == ["v0", "v1", "v2"]
    _, newest = edit(client, cluster.account_id, lambda s: s.delete("v0"))
    assert newest is not None
    cluster.ship([newest], cluster.accept)
    assert accept.read(cluster.account_id).names() == ["v1", "v2"]


def test_republish_reaches_a_device_added_later(cluster: Cluster, tmp_path: Path) -> None:
    newcomer = _store(tmp_path, "newcomer")
    record = cluster.client.account(cluster.account_id)
    assert record.device_list is not None
    grown = DeviceList(cluster.account_id, 2, (*record.device_list.devices, _device(newcomer, DeviceRole.ACCEPT)))
    cluster.client.remove_account(cluster.account_id)
    cluster.client.add_account(dataclasses.replace(record, device_list=grown.signed(SigningKey.generate())))
    # The set as sealed before the newcomer joined the list.
    before = ScriptSet().put(NAME, SCRIPT).activate(NAME)
    [old] = cluster.client.originate(cluster.account_id, [(OpKind.SIEVE_SCRIPT, b"", seal_payload(record, before))])
    with pytest.raises(PermissionDenied):
        open_payload(old.payload, newcomer)
    op = republish(ScriptSets(cluster.client), cluster.account_id)
    assert op is not None and op.seq == 2
    assert open_payload(op.payload, newcomer) == before


def test_a_removed_and_re_added_account_starts_empty(cluster: Cluster) -> None:
    sets = ScriptSets(cluster.client)
    edit(sets, cluster.account_id, lambda s: s.put("a", "keep;"))
    edit(sets, cluster.account_id, lambda s: s.put("b", "keep;"))
    assert sets.read(cluster.account_id).names() == ["a", "b"]
    record = cluster.client.account(cluster.account_id)
    cluster.client.remove_account(cluster.account_id)
    cluster.client.add_account(record)
    assert sets.read(cluster.account_id) == ScriptSet()
