"""Body files left by a crash between the fsynced file and the commit are swept at start."""

from __future__ import annotations

import time
from pathlib import Path

from mesyx.accounts import create_account
from mesyx.crypto.envelope import InnerRecord
from mesyx.crypto.node import NodeKeys
from mesyx.keyset_policy import load_policy
from mesyx.store.mailcrypt import load_sealing_keys
from mesyx.store.store import Store


def test_sweep_removes_only_unreferenced_files(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "blobs", NodeKeys.generate(), blob_threshold=1024)
    store.create_schema()
    record = create_account(store, "f@mesyx.test", "pw", load_policy("weekly"), "interactive")
    keys = load_sealing_keys(store, record)
    inner = InnerRecord(time.time(), "smtp", "a@b.test", ("f@mesyx.test",))
    kept = keys.seal(inner, b"x" * 5000)
    store.commit_ingest([kept])
    orphan = keys.seal(inner, b"y" * 5000)
    store.blobs.write(orphan.envelope.envelope_id, orphan.envelope.body)  # the crash came before the commit
    temp = store.blobs.path(orphan.envelope.envelope_id).parent / ".tmp-0123456789abcdef"
    temp.write_bytes(b"half written")
    stranger = store.blobs.root / "ab" / "not-a-blob.txt"
    stranger.parent.mkdir(exist_ok=True)
    stranger.write_text("leave me")

    assert store.sweep_blobs() == 2
    assert not store.blobs.path(orphan.envelope.envelope_id).exists() and not temp.exists()
    assert stranger.exists()
    assert store.envelope(kept.envelope.envelope_id) == kept.envelope
    assert store.sweep_blobs() == 0
