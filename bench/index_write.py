#!/usr/bin/env python3
"""Measure one client write alone: ``IndexWriter.set_flags`` (IMAP STORE) in-process.

Under imaptest's steady load the daemon spends about 3.6 ms of CPU per command and ten
sessions serialise on the account's index syncer (bench/README.md, ``imap.py``). This
script times the same write with nothing around it (no sockets, no threads, no other
session), on an account whose log already holds ``--history`` operations, so the two
figures can be compared: the gap is what concurrency costs, not the write itself.

    .venv/bin/python bench/index_write.py                 # 200 STOREs after 1,500 earlier ones
    .venv/bin/python bench/index_write.py --profile       # and the cProfile of them
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.client_index.conftest import make_env  # noqa: E402 - after the path is set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--history", type=int, default=1500, help="flag changes recorded before measuring")
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mesyx-bench-write-"))
    env = make_env(f"sqlite:///{root / 'mesyx.sqlite3'}", root / "blobs")
    eids = env.deliver(args.messages)
    env.syncer.sync()
    for i in range(args.history):
        env.writer.set_flags([eids[i % len(eids)]], ["$Label1"], i % 2 == 0)
    profile = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    cpu = time.process_time()
    if profile is not None:
        profile.enable()
    for i in range(args.writes):
        env.writer.set_flags([eids[i % len(eids)]], ["\\Flagged"], True)
        env.writer.set_flags([eids[i % len(eids)]], ["\\Flagged"], False)
    if profile is not None:
        profile.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    count = 2 * args.writes
    print(f"{count} STOREs (each changes a flag) after {args.history:,} earlier operations: "
          f"{1000 * wall / count:.2f} ms each, {1000 * cpu / count:.2f} ms CPU")
    if profile is not None:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(20)
    env.store.close()


if __name__ == "__main__":
    main()
