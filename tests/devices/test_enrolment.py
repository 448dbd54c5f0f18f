"""A second client device through the CLI, as a person runs it (issue 6, point 2):
`account enrol` on client node C, `account import` on the new node D, `account devices`.

Node homes are real (`mesyx init`), no daemon runs: what sync would carry is copied with
the store's replica API in the one test that needs it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mesyx.crypto.account import secretbox_open
from mesyx.crypto.encoding import b32
from mesyx.crypto.envelope import InnerRecord
from mesyx.errors import PermissionDenied
from mesyx.home import Home
from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id
from mesyx.store.mailcrypt import load_sealing_keys, unlock
from mesyx.store.operations import OpKind
from mesyx.store.store import Store
from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, assert_one_line_error, create_node

ADDRESS = "carol@mesyx.test"


@contextmanager
def _store(node: Node) -> Iterator[Store]:
    home = Home(node.home)
    store = home.open_store(home.config(), home.node_keys())
    try:
        store.create_schema()  # as the CLI does: tables of modules imported since init too
        yield store
    finally:
        store.close()


def _node_id(node: Node) -> str:
    return str(node.status()["node_id"])


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Node, Node]:
    """Client node C with the account, and a fresh client node D."""
    c = create_node(tmp_path / "c", modes=["client", "exchange"], account=ADDRESS)
    d = create_node(tmp_path / "d", modes=["client", "exchange"])
    return c, d


def _enrol(c: Node, d: Node, out: Path) -> None:
    c.cli("account", "enrol", ADDRESS, "--device", _node_id(d), "--descriptor", d.home / "descriptor.json",
          "--out", out, "--passphrase-file", c.passphrase_file, check=True)


def test_enrol_and_import_make_a_second_client(pair: tuple[Node, Node], tmp_path: Path) -> None:
    c, d = pair
    out = tmp_path / "enrol.json"
    _enrol(c, d, out)
    assert out.stat().st_mode & 0o777 == 0o600
    d.cli("account", "import", out, "--passphrase-file", c.passphrase_file, check=True)
    for node in (c, d):
        listed = node.cli_json("account", "devices", ADDRESS, "--json")
        assert listed["version"] == 2
        assert {(row["node_id"], row["role"]) for row in listed["devices"]} == {
            (_node_id(c), "client"), (_node_id(d), "client")}
        assert [row["node_id"] for row in listed["devices"] if row["this_node"]] == [_node_id(node)]
    [row] = d.cli_json("account", "list", "--json")
    assert row["private_keys"] and row["addresses"] == [ADDRESS]
    with _store(c) as store:
        ops = store.operations(store.find_account(ADDRESS).account_id)
        assert ops[-1].kind is OpKind.ROUTING and ops[-2].kind is OpKind.DEVICE_LIST, "originated for the peers"


def test_the_enrolment_file_holds_no_private_key_in_clear(pair: tuple[Node, Node], tmp_path: Path) -> None:
    c, d = pair
    out = tmp_path / "enrol.json"
    _enrol(c, d, out)
    data = out.read_bytes()
    with _store(c) as store:
        record = store.find_account(ADDRESS)
        unlocked = unlock(store, record, DEFAULT_PASSPHRASE)
        secrets = [bytes(unlocked.signing_key), unlocked.master_key,
                   *(bytes(k.private_key) for k in unlocked.keysets.values())]
        sealed = [record.signing_key_sealed, *(k.private_sealed for k in store.keysets(record.account_id))]
    assert len(secrets) >= 3
    for secret in [*secrets, *(s for s in sealed if s is not None)]:
        for form in (secret, secret.hex().encode(), b32(secret).encode(), base64.b64encode(secret),
                     base64.b32encode(secret).rstrip(b"=")):
            assert form not in data
    assert b"carol" not in data.lower(), "not even the address is in the clear"
    assert set(json.loads(data)) == {"format", "node_id", "sealed"}
    # What the new node finds inside: the keys still sealed under the master key.
    with _store(d) as store:
        from mesyx.enrolment import read_enrolment

        enrolment = read_enrolment(store, data.decode())
    assert enrolment.record.signing_key_sealed == record.signing_key_sealed
    assert secretbox_open(unlocked.master_key, enrolment.record.signing_key_sealed, "k") == bytes(unlocked.signing_key)


def test_another_node_cannot_open_the_file(pair: tuple[Node, Node], tmp_path: Path) -> None:
    c, d = pair
    e = create_node(tmp_path / "e", modes=["client"])
    out = tmp_path / "enrol.json"
    _enrol(c, d, out)
    result = e.cli("account", "import", out, "--passphrase-file", c.passphrase_file)
    assert_one_line_error(result, "enrolment file is for node", _node_id(d))
    readdressed = json.loads(out.read_text())
    readdressed["node_id"] = _node_id(e)
    (tmp_path / "readdressed.json").write_text(json.dumps(readdressed))
    result = e.cli("account", "import", tmp_path / "readdressed.json", "--passphrase-file", c.passphrase_file)
    assert_one_line_error(result, "does not open with this node's key")
    assert e.table_counts()["accounts"] == 0


def test_tampered_file_and_wrong_passphrase_are_refused_whole(pair: tuple[Node, Node], tmp_path: Path) -> None:
    c, d = pair
    out = tmp_path / "enrol.json"
    _enrol(c, d, out)
    data = json.loads(out.read_text())
    sealed = data["sealed"]
    data["sealed"] = sealed[:100] + ("a" if sealed[100] != "a" else "b") + sealed[101:]
    (tmp_path / "flipped.json").write_text(json.dumps(data))
    result = d.cli("account", "import", tmp_path / "flipped.json", "--passphrase-file", c.passphrase_file)
    assert_one_line_error(result, "does not open")
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("not the passphrase\n")
    result = d.cli("account", "import", out, "--passphrase-file", wrong)
    assert_one_line_error(result, "wrong passphrase")
    assert d.table_counts()["accounts"] == 0
    d.cli("account", "import", out, "--passphrase-file", c.passphrase_file, check=True)


def test_enrol_checks_the_descriptor(pair: tuple[Node, Node], tmp_path: Path) -> None:
    c, d = pair
    accept = create_node(tmp_path / "a", modes=["accept", "exchange"])
    base = ["account", "enrol", ADDRESS, "--out", tmp_path / "x.json", "--passphrase-file", c.passphrase_file]
    result = c.cli(*base, "--device", _node_id(accept), "--descriptor", d.home / "descriptor.json")
    assert_one_line_error(result, "not", _node_id(accept))
    result = c.cli(*base, "--device", _node_id(accept), "--descriptor", accept.home / "descriptor.json")
    assert_one_line_error(result, "does not run the client mode")
    forged = json.loads((d.home / "descriptor.json").read_text())
    forged["box_key"] = json.loads((accept.home / "descriptor.json").read_text())["box_key"]
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    result = c.cli(*base, "--device", _node_id(d), "--descriptor", tmp_path / "forged.json")
    assert_one_line_error(result, "signature")
    result = c.cli(*base, "--device", _node_id(d))
    assert_one_line_error(result, "--descriptor FILE or --from-peer")
    assert not (tmp_path / "x.json").exists()
    assert c.cli_json("account", "devices", ADDRESS, "--json")["version"] == 1, "nothing signed in"


def test_revoked_device_originates_nothing_new(pair: tuple[Node, Node], tmp_path: Path) -> None:
    c, d = pair
    out = tmp_path / "enrol.json"
    _enrol(c, d, out)
    d.cli("account", "import", out, "--passphrase-file", c.passphrase_file, check=True)
    with _store(d) as store:
        account_id = store.find_account(ADDRESS).account_id
        [before] = store.originate(account_id, [(OpKind.KEYWORDS_SET, b"\x01" * 32, b"")])
    with _store(c) as store:
        assert store.apply_remote(before), "a listed client's operation is taken"
    c.cli("account", "devices", ADDRESS, "--revoke", _node_id(d), "--passphrase-file", c.passphrase_file,
          check=True)
    listed = c.cli_json("account", "devices", ADDRESS, "--json")
    assert listed["version"] == 3
    [gone] = [row for row in listed["devices"] if row["revoked"]]
    assert gone["node_id"] == _node_id(d) and gone["last_seq"] == 1
    with _store(d) as store:
        [after] = store.originate(account_id, [(OpKind.KEYWORDS_SET, b"\x02" * 32, b"")])
    with _store(c) as store:
        devices = store.account(account_id).device_list
        assert devices is not None
        devices.authorise(before)
        with pytest.raises(PermissionDenied, match="revoked"):
            devices.authorise(after)
        with pytest.raises(PermissionDenied, match="revoked"):
            store.apply_remote(after)
    result = c.cli("account", "devices", ADDRESS, "--revoke", _node_id(c), "--passphrase-file", c.passphrase_file)
    assert_one_line_error(result, "cannot revoke itself")


def test_the_new_device_reads_mail_after_sync(pair: tuple[Node, Node], tmp_path: Path) -> None:
    from mesyx.store import replica

    c, d = pair
    out = tmp_path / "enrol.json"
    _enrol(c, d, out)
    d.cli("account", "import", out, "--passphrase-file", c.passphrase_file, check=True)
    with _store(c) as store:
        record = store.find_account(ADDRESS)
        inner = InnerRecord(time.time(), "smtp", "dave@ext.test", (ADDRESS,),
                            (role_mailbox_id(record.account_id, MailboxRole.INBOX),))
        store.commit_ingest([load_sealing_keys(store, record).seal(
            inner, b"From: dave@ext.test\r\nSubject: to both devices\r\n\r\nhello\r\n")])
        with _store(d) as other:
            theirs = replica.Replica(other).vectors([record.account_id])[record.account_id]
            frames = list(replica.Replica(store).missing(record.account_id, theirs))
            replica.Replica(other).apply(frames)
    [mail] = d.cli_json("message", "list", "--passphrase-file", c.passphrase_file, "--json")
    assert mail["subject"] == "to both devices" and mail["mailboxes"] == ["INBOX"]


def test_enrol_from_a_paired_peer_and_import_once(pair: tuple[Node, Node], tmp_path: Path) -> None:
    from mesyx.store.peers import PeerRole, Peers, new_peer

    c, d = pair
    descriptor = json.loads((d.home / "descriptor.json").read_text())
    with _store(c) as store:
        account_id = store.find_account(ADDRESS).account_id
        Peers(store).add(new_peer(_node_id(d), None, descriptor, (d.home / "tls" / "cert.pem").read_text(),
                                  bytes.fromhex(descriptor["tls_spki_sha256"]), PeerRole.RELAY, [account_id]))
    out = tmp_path / "enrol.json"
    c.cli("account", "enrol", ADDRESS, "--device", _node_id(d), "--from-peer", "--out", out,
          "--passphrase-file", c.passphrase_file, check=True)
    d.cli("account", "import", out, "--passphrase-file", c.passphrase_file, check=True)
    result = d.cli("account", "import", out, "--passphrase-file", c.passphrase_file)
    assert_one_line_error(result, "on this node already")
    result = c.cli("account", "enrol", ADDRESS, "--device", _node_id(d), "--from-peer", "--out", out,
                   "--passphrase-file", c.passphrase_file)
    assert_one_line_error(result, "exists already")


def test_an_account_replicated_first_takes_its_enrolment_in_place(pair: tuple[Node, Node], tmp_path: Path) -> None:
    """D paired and synced before the enrolment file was imported: the account is there with
    public parts only (no private key); the import adds the private ones, nothing is lost."""
    from mesyx.store import replica

    c, d = pair
    out = tmp_path / "enrol.json"
    _enrol(c, d, out)
    with _store(c) as store:
        record = store.find_account(ADDRESS)
        inner = InnerRecord(time.time(), "smtp", "dave@ext.test", (ADDRESS,),
                            (role_mailbox_id(record.account_id, MailboxRole.INBOX),))
        store.commit_ingest([load_sealing_keys(store, record).seal(
            inner, b"From: dave@ext.test\r\nSubject: synced before import\r\n\r\nhello\r\n")])
        with _store(d) as other:
            frames = list(replica.Replica(store).missing(record.account_id, {}))
            replica.Replica(other).apply(frames, accept_accounts={record.account_id})
            taken = other.account(record.account_id)
            assert not taken.has_private  # its addresses came too: the routing op is sealed to D
    d.cli("account", "import", out, "--passphrase-file", c.passphrase_file, check=True)
    [row] = d.cli_json("account", "list", "--json")
    assert row["private_keys"] and row["addresses"] == [ADDRESS]
    [mail] = d.cli_json("message", "list", "--passphrase-file", c.passphrase_file, "--json")
    assert mail["subject"] == "synced before import"
    assert_one_line_error(d.cli("account", "import", out, "--passphrase-file", c.passphrase_file),
                          "on this node already")
