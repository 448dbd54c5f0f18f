"""Client changes as operations: sealed to the metadata keyset, folded back exactly."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey

from mesyx.accounts import create_account
from mesyx.crypto.encoding import Reader, Writer
from mesyx.crypto.envelope import InnerRecord
from mesyx.crypto.keysets import KEYSET_ID_BYTES
from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt
from mesyx.keyset_policy import load_policy
from mesyx.store import fold
from mesyx.store.mailbox_ids import MailboxRole, named_mailbox_id, role_mailbox_id
from mesyx.store.mailcrypt import UnlockedAccount, load_sealing_keys, unlock
from mesyx.store.operations import Operation, OpKind
from mesyx.store.payloads import decode_change, open_json, seal_json
from mesyx.store.state import account_state, record_changes
from mesyx.store.store import Store


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, UnlockedAccount, list[bytes]]:
    root: Path = tmp_path_factory.mktemp("client")
    store = Store(f"sqlite:///{root / 'db.sqlite3'}", root / "blobs", NodeKeys.generate())
    store.create_schema()
    record = create_account(store, "erin@mesyx.test", "pw", load_policy("weekly"), "interactive")
    keys = load_sealing_keys(store, record)
    inbox = role_mailbox_id(record.account_id, MailboxRole.INBOX)
    inner = InnerRecord(time.time(), "smtp", "f@x.test", ("erin@mesyx.test",), (inbox,))
    items = [keys.seal(inner, b"Subject: %d\r\n\r\n" % i) for i in range(3)]
    store.commit_ingest(items)
    return store, unlock(store, record, "pw"), [i.envelope.envelope_id for i in items]


def test_flags_moves_and_mailboxes_round_trip(client: tuple[Store, UnlockedAccount, list[bytes]]) -> None:
    store, account, ids = client
    account_id = account.record.account_id
    lists = named_mailbox_id(account_id, "Lists")
    record_changes(store, account, [
        fold.CreateMailbox(lists, "Lists", None),
        fold.SetKeywords(ids[0], frozenset({"\\Seen", "$Forwarded", "$Label1"}), True),
        fold.SetMailboxes(ids[1], frozenset({lists})),
        fold.DeleteEnvelope(ids[2]),
    ])
    record_changes(store, account, [
        fold.SetKeywords(ids[0], frozenset({"$Forwarded"}), False),
        fold.RenameMailbox(lists, "Mailing lists", None),
    ])
    state = account_state(store, account)
    assert state.emails[ids[0]].keywords == {"\\Seen", "$Label1"}
    assert state.emails[ids[1]].mailbox_ids == {lists}
    assert ids[2] not in state.emails
    assert state.mailboxes[lists].name == "Mailing lists"
    blind = b"".join(op.payload + op.target for op in store.operations(account_id))
    for secret in (b"Lists", b"Mailing", b"Seen", b"Forwarded", b"Label1", lists.encode()):
        assert secret not in blind, secret
    kinds = {op.kind for op in store.operations(account_id)}
    assert {OpKind.MAILBOX_CREATE, OpKind.KEYWORDS_SET, OpKind.KEYWORDS_CLEAR, OpKind.MAILBOXES_SET} <= kinds


words = st.frozensets(st.sampled_from(["\\Seen", "\\Flagged", "$Junk", "work"]), min_size=1)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_state_from_the_store_equals_the_fold_of_the_changes(
    client: tuple[Store, UnlockedAccount, list[bytes]], data: st.DataObject
) -> None:
    store, account, ids = client
    account_id = account.record.account_id
    boxes = [named_mailbox_id(account_id, n) for n in ("a", "b")]
    change = st.one_of(
        st.builds(fold.SetKeywords, st.sampled_from(ids[:2]), words, st.booleans()),
        st.builds(fold.SetMailboxes, st.sampled_from(ids[:2]), st.frozensets(st.sampled_from(boxes), min_size=1)),
        st.builds(fold.CreateMailbox, st.sampled_from(boxes), st.sampled_from(["a", "b", "c"]), st.none(),
                  st.sampled_from([None, "sent", "archive"])),
        st.builds(fold.RenameMailbox, st.sampled_from(boxes), st.sampled_from(["x", "y"]), st.none()),
    )
    changes = data.draw(st.lists(change, min_size=1, max_size=8))
    recorded = record_changes(store, account, changes)
    # Every change comes back exactly from its signed, sealed operation, in order.
    assert [decode_change(op, account.metadata.private_key) for op in recorded] == changes
    for op in recorded:
        op.verify(store.node.verify_key)
    assert [op.seq for op in recorded] == list(range(recorded[0].seq, recorded[0].seq + len(changes)))


def test_mailbox_create_role_is_sealed_and_old_payloads_decode(client: tuple[Store, UnlockedAccount, list[bytes]]
                                                              ) -> None:
    """The role rides in the sealed MAILBOX_CREATE payload, only when there is one: a create
    without a role is sealed exactly as before roles could move, and decodes to role None."""
    store, account, _ = client
    key = account.metadata.private_key
    box = named_mailbox_id(account.record.account_id, "Sent Items")
    plain, claim = record_changes(store, account, [fold.CreateMailbox(box, "Sent Items", None),
                                                   fold.CreateMailbox(box, "Sent Items", None, "sent")])
    assert "role" not in _opened(plain, key) and _opened(claim, key)["role"] == "sent"
    assert decode_change(plain, key) == fold.CreateMailbox(box, "Sent Items", None, None)
    assert b"sent" not in claim.payload
    keyset_id, public = claim.payload[:KEYSET_ID_BYTES], bytes(key.public_key)
    for bad in ("inbox", "nonsense", 7):
        forged = {"id": box, "name": "x", "parent": None, "role": bad}
        payload = Writer().fixed(keyset_id, KEYSET_ID_BYTES).var(seal_json(public, forged)).getvalue()
        with pytest.raises(Corrupt):
            decode_change(dataclasses.replace(claim, payload=payload), key)


def _opened(op: Operation, key: PrivateKey) -> dict[str, object]:
    reader = Reader(op.payload, "test")
    reader.fixed(KEYSET_ID_BYTES)
    return open_json(key, reader.var(), "test")
