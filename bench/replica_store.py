"""The store side of the sync benchmark (issue 6, Measurements), without the network.

Node A holds N envelopes of 10 KiB (default 100,000), node B a copy of A taken when A
held N - M of them (default M = 1,000). Then, in one process: B's version vector
(``Replica.vectors``), what B lacks read and encoded on A (``Replica.missing``), the
bytes decoded (``FrameReader``) and applied on B (``Replica.apply``), all in one
transaction and batch by batch, as the HTTPS push does. Prints each time, the bytes of
the stream and their ratio to the M missing envelopes' bytes. ``bench/sync.py`` measures
the same over HTTPS between two daemons; this one shows what the store costs of it.

    .venv/bin/python bench/replica_store.py                      # 100,000 / 1,000
    .venv/bin/python bench/replica_store.py --envelopes 10000    # quicker to build
    .venv/bin/python bench/replica_store.py --dir /var/tmp/rb    # keep the stores, reuse them

Building A takes most of the time (about 100 s for 100,000 on 2 vCPUs); with ``--dir``
a second run reuses it and B's copy is made afresh from a pristine one each run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from nacl.signing import SigningKey

from mesyx.accounts import create_account
from mesyx.crypto.envelope import InnerRecord
from mesyx.crypto.node import NodeKeys
from mesyx.keyset_policy import load_policy
from mesyx.proto.sync.frames import CommitFrame, Frame, FrameReader, encode
from mesyx.store.mailcrypt import load_sealing_keys
from mesyx.store.replica import Replica
from mesyx.store.store import Store

SIZE = 10 * 1024


def _store(root: Path, node: NodeKeys) -> Store:
    return Store(f"sqlite:///{root / 'mesyx.sqlite3'}", root / "blobs", node)


def build(root: Path, total: int, missing: int) -> None:
    """A with ``total`` envelopes; ``b0``, a copy of A when it held ``total - missing``."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "a").mkdir(parents=True)
    node = NodeKeys.generate()
    a = _store(root / "a", node)
    a.create_schema()
    record = create_account(a, "bench@mesyx.test", "pw", load_policy("weekly"), "interactive")
    keys = load_sealing_keys(a, a.account(record.account_id))
    raw = b"Subject: bench\r\n\r\n" + os.urandom(SIZE - 300)

    def ingest(count: int) -> None:
        for start in range(0, count, 500):
            inner = InnerRecord(time.time(), "smtp", "sender@example.org", ("bench@mesyx.test",), ("inbox",), ())
            a.commit_ingest([keys.seal(inner, raw) for _ in range(min(500, count - start))])

    ingest(total - missing)
    a.close()
    shutil.copytree(root / "a", root / "b0")
    a = _store(root / "a", node)
    ingest(missing)
    a.close()
    (root / "account").write_text(record.account_id.hex())
    (root / "node").write_bytes(bytes(node.signing_key))


def run(root: Path, missing: int) -> None:
    account_id = bytes.fromhex((root / "account").read_text())
    shutil.rmtree(root / "b", ignore_errors=True)
    shutil.copytree(root / "b0", root / "b")
    os.sync()  # the copy's writes would otherwise land in the first fsync measured
    a = Replica(_store(root / "a", NodeKeys(SigningKey((root / "node").read_bytes()))))
    b = Replica(_store(root / "b", NodeKeys.generate()))
    t0 = time.perf_counter()
    theirs = b.vectors([account_id])[account_id]
    t1 = time.perf_counter()
    wire = b"".join(encode(frame) for frame in a.missing(account_id, theirs))
    t2 = time.perf_counter()
    frames = FrameReader().feed(wire)
    t3 = time.perf_counter()
    batches: list[list[Frame]] = [[]]
    for frame in frames:
        batches[-1].append(frame)
        if isinstance(frame, CommitFrame):
            batches.append([])
    applied = b.apply(frames)
    t4 = time.perf_counter()
    print(f"vectors {t1 - t0:.3f} s, missing + encode {t2 - t1:.3f} s, decode {t3 - t2:.3f} s, "
          f"apply (one transaction) {t4 - t3:.3f} s: {applied.envelopes_taken} envelopes, {applied.ops_taken} ops")
    print(f"stream {len(wire):,} bytes, {len(wire) / (missing * SIZE):.3f} x the missing envelopes' "
          f"{missing * SIZE:,} bytes")
    b.store.close()
    shutil.rmtree(root / "b")
    shutil.copytree(root / "b0", root / "b")
    os.sync()
    b = Replica(_store(root / "b", NodeKeys.generate()))
    t5 = time.perf_counter()
    for batch in batches[:-1]:
        b.apply(batch)
    print(f"apply batch by batch ({len(batches) - 1} batches) {time.perf_counter() - t5:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envelopes", type=int, default=100_000)
    parser.add_argument("--missing", type=int, default=1_000)
    parser.add_argument("--dir", type=Path, help="keep the stores here and reuse them")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="mesyx-replica-bench-"))
    try:
        built = root / "built"
        if not built.exists() or built.read_text() != f"{args.envelopes}/{args.missing}":
            started = time.perf_counter()
            build(root, args.envelopes, args.missing)
            built.write_text(f"{args.envelopes}/{args.missing}")
            print(f"built {args.envelopes:,} envelopes in {time.perf_counter() - started:.0f} s")
        run(root, args.missing)
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
