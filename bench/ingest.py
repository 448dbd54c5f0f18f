#!/usr/bin/env python3
"""Measure SMTP ingest: how many messages per second a Mesyx node stores durably.

A script, not a test: it prints figures and never asserts on them (speed depends on the
machine). Issue 2's target, on 2 cores: at least 1,500 messages/s and at most 0.7 ms of
server CPU per message. One run measures, so that the figures compare:

1. **Mesyx**: a fresh node home in a temp dir (``mesyx init --account bench@mesyx.test``,
   rate limits off), ``mesyx --home H run`` as a subprocess, N concurrent SMTP sessions
   sending M messages of S bytes. A ``250`` means the envelope is durably committed
   (group commit, SQLite ``synchronous=FULL``), so 250s per wall second *is* the durable
   ingest rate. Server CPU: utime + stime of all the daemon's threads from
   ``/proc/PID/stat`` around the load; batches: the daemon's ``stopped committed=N
   batches=M`` line; stored envelopes: ``mesyx status --json``.
2. **Bare aiosmtpd**: stock ``aiosmtpd.smtp.SMTP`` whose handler answers ``250 OK`` to
   DATA and does nothing, on the daemon's event loop (uvloop when installed), same load:
   what the SMTP protocol alone costs in Python. **SMTP layer**: Mesyx's ``MesyxSMTP``
   with that same empty handler.
3. **Ceiling** of the crypto and store steps alone, in this process, one core:
   ``SealingKeys.seal`` per message, then that plus ``Store.commit_ingest`` in batches of
   the size the daemon's group committer formed.

The client speaks minimal SMTP by hand on asyncio (EHLO once per session, then MAIL /
RCPT / DATA / body and ``.`` per message, waiting for each reply) and prints its own CPU,
so that one can check it is not the bottleneck.

    .venv/bin/python bench/ingest.py              # 5,000 x 10 KiB from 8 sessions
    .venv/bin/python bench/ingest.py --quick      # 500 messages
    .venv/bin/python bench/ingest.py --only mesyx --sessions 16

bench/README.md has the figures measured so far.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    ACCOUNT,
    CLK_TCK,
    MESYX_CMD,
    LoadResult,
    free_port_base,
    fsync_latency,
    init_home,
    load,
    loop_runner,
    make_message,
    mesyx_command,
    proc_cpu,
    stop,
    wait_port,
    workdir,
)

#: What a run measures (``--only``): the daemon, stock aiosmtpd, Mesyx's SMTP layer alone,
#: the in-process ceiling of seal and commit.
PARTS = ("mesyx", "bare", "smtp-layer", "ceiling")


# --------------------------------------------------------------------------- servers


@dataclass
class ServerRun:
    load: LoadResult
    server_user: float
    server_system: float
    extra: dict[str, Any]

    @property
    def server_cpu(self) -> float:
        return self.server_user + self.server_system


def measure(proc: subprocess.Popen[bytes], port: int, args: argparse.Namespace) -> tuple[LoadResult, float, float]:
    """Run the load against ``proc``; returns it with the (user, system) CPU it cost."""
    user0, system0 = proc_cpu(proc.pid)
    result = load(port, args.messages, args.size, args.sessions)
    user1, system1 = proc_cpu(proc.pid)
    return result, user1 - user0, system1 - system0


def run_mesyx(args: argparse.Namespace, work: Path, home: Path, base: int) -> ServerRun:
    mesyx = mesyx_command()
    log_path = work / "daemon.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*mesyx, "--home", str(home), "run"], stdout=log, stderr=log)
    try:
        port = base + 25
        wait_port(port, proc, "mesyx run")
        result, user, system = measure(proc, port, args)
    finally:
        stop(proc)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    extra: dict[str, Any] = {"log": log_path, "returncode": proc.returncode}
    found = re.search(r"\bstopped committed=(\d+) batches=(\d+)", text)
    if found:
        extra["committed"], extra["batches"] = int(found[1]), int(found[2])
    status = subprocess.run([*mesyx, "--home", str(home), "status", "--json"], capture_output=True, check=False)
    try:
        extra["stored"] = int(json.loads(status.stdout)["store"]["envelopes"])
    except (ValueError, KeyError, TypeError):
        extra["stored"] = None
    return ServerRun(result, user, system, extra)


def run_bare(args: argparse.Namespace, work: Path, kind: str) -> ServerRun:
    port = free_port_base() + 25
    log_path = work / f"bare-{kind}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, __file__, "--serve-bare", f"{kind}:{port}"], stdout=log, stderr=log)
    try:
        wait_port(port, proc, f"bare {kind}")
        result, user, system = measure(proc, port, args)
    finally:
        stop(proc)
    return ServerRun(result, user, system, {"log": log_path})


def serve_bare(spec: str) -> None:
    """An SMTP server whose handler answers 250 to DATA and does nothing (``--serve-bare``).

    ``aiosmtpd:PORT`` is stock ``aiosmtpd.smtp.SMTP``: what the protocol alone costs in
    Python. ``mesyx:PORT`` is Mesyx's subclass (its DATA reader and address fast path)
    with the same empty handler: Mesyx's protocol layer without the pipeline behind it.
    """
    from aiosmtpd.smtp import SMTP

    kind, _, port = spec.partition(":")

    class Nothing:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    def protocol() -> SMTP:
        if kind == "mesyx":
            from mesyx.modes.accept.smtp import MesyxSMTP

            return MesyxSMTP(Nothing(), connection_gate=lambda ip: True,  # type: ignore[arg-type]
                             enable_SMTPUTF8=True, data_size_limit=26214400)
        return SMTP(Nothing(), enable_SMTPUTF8=True, data_size_limit=26214400)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stopped.set)
        server = await loop.create_server(protocol, host="127.0.0.1", port=int(port), reuse_address=True)
        await stopped.wait()
        server.close()

    run, _ = loop_runner()
    run(main())


# --------------------------------------------------------------------------- ceiling


@dataclass
class Ceiling:
    batch: int
    seal_wall: float
    seal_cpu: float
    both_wall: float
    both_cpu: float


def ceiling(home: Path, messages: int, size: int, batch: int) -> Ceiling:
    """Seal and commit in this process, one core: the crypto + store steps alone."""
    from mesyx.crypto.envelope import InnerRecord
    from mesyx.home import Home
    from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id
    from mesyx.store.mailcrypt import load_sealing_keys

    node = Home(home)
    store = node.open_store(node.config(), node.node_keys())
    try:
        keys = load_sealing_keys(store, store.find_account(ACCOUNT))
        inbox = (role_mailbox_id(keys.account_id, MailboxRole.INBOX),)
        raws = [make_message(i, size) for i in range(messages)]

        def inner() -> InnerRecord:
            return InnerRecord(time.time(), "smtp", "sender@example.org", (ACCOUNT,), inbox)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        for raw in raws:
            keys.seal(inner(), raw)
        seal_cpu, seal_wall = time.process_time() - cpu0, time.perf_counter() - wall0

        cpu0, wall0 = time.process_time(), time.perf_counter()
        for first in range(0, messages, batch):
            store.commit_ingest([keys.seal(inner(), raw) for raw in raws[first:first + batch]])
        both_cpu, both_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        store.close()
    return Ceiling(batch, seal_wall, seal_cpu, both_wall, both_cpu)


# --------------------------------------------------------------------------- report


def per_msg_ms(seconds: float, count: int) -> float:
    return 1000.0 * seconds / count if count else float("nan")


def report_server(name: str, run: ServerRun) -> None:
    r = run.load
    print(name)
    print(f"  accepted          {r.accepted} of {r.sent} in {r.wall:.2f} s")
    print(f"  messages/s        {r.accepted / r.wall if r.wall else 0.0:,.0f}")
    print(f"  server CPU        {per_msg_ms(run.server_cpu, r.accepted):.3f} ms/message "
          f"(user {per_msg_ms(run.server_user, r.accepted):.3f} + system "
          f"{per_msg_ms(run.server_system, r.accepted):.3f}; {100 * run.server_cpu / r.wall:.0f}% of one core)")
    print(f"  client CPU        {per_msg_ms(r.client_cpu, r.sent):.3f} ms/message "
          f"({100 * r.client_cpu / r.wall:.0f}% of one core)")
    if run.server_cpu < 100 / CLK_TCK:
        print(f"  (server CPU counts in ticks of {1000 / CLK_TCK:.0f} ms: imprecise this short; send more messages)")
    if r.failures:
        print(f"  failures          {len(r.failures)}, e.g. {r.failures[0]!r}")
    x = run.extra
    if "stored" in x:  # the daemon
        if x.get("batches"):
            print(f"  group commit      {x['committed']} envelopes in {x['batches']} batches "
                  f"(mean {x['committed'] / x['batches']:.1f} per fsync)")
        else:
            print(f"  group commit      no 'stopped' line in {x['log']} (exit {x['returncode']})")
        verdict = "matches" if x["stored"] == r.accepted else "MISMATCH with"
        print(f"  stored            {x['stored']} envelopes ({verdict} the 250s)")
    print()


def report_ceiling(roof: Ceiling, n: int) -> None:
    print("Ceiling (this process, one core: SealingKeys.seal, then + Store.commit_ingest)")
    print(f"  seal              {n / roof.seal_wall:,.0f} messages/s, "
          f"{per_msg_ms(roof.seal_cpu, n):.3f} ms CPU/message")
    print(f"  seal + commit     {n / roof.both_wall:,.0f} messages/s, {per_msg_ms(roof.both_cpu, n):.3f} ms "
          f"CPU/message (batches of {roof.batch})")
    print()


def summarise(mesyx: ServerRun | None, bare: ServerRun | None, roof: Ceiling | None, n: int) -> None:
    if mesyx is None:
        return
    m_rate = mesyx.load.accepted / mesyx.load.wall
    m_cpu = per_msg_ms(mesyx.server_cpu, mesyx.load.accepted)
    print("Ratios")
    if bare is not None and bare.load.accepted:
        b_rate = bare.load.accepted / bare.load.wall
        b_cpu = per_msg_ms(bare.server_cpu, bare.load.accepted)
        print(f"  Mesyx / bare aiosmtpd   throughput {m_rate / b_rate:.2f}x, CPU per message {m_cpu / b_cpu:.2f}x")
    if roof is not None:
        print(f"  Mesyx / ceiling         throughput {m_rate / (n / roof.both_wall):.2f}x, "
              f"CPU per message {m_cpu / per_msg_ms(roof.both_cpu, n):.2f}x")
    verdict = "meets" if m_rate >= 1500 and m_cpu <= 0.7 else "misses"
    print(f"  target (2 cores)        >= 1,500 messages/s and <= 0.7 ms CPU/message: {verdict} "
          f"({m_rate:,.0f}/s, {m_cpu:.3f} ms)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--messages", type=int, default=5000, help="messages to send (default 5000)")
    add("--size", type=int, default=10240, help="bytes per message (default 10240)")
    add("--sessions", type=int, default=8, help="concurrent SMTP sessions (default 8)")
    add("--quick", action="store_true", help="a small run: 500 messages")
    add("--only", choices=PARTS, action="append", help="run only these parts (repeatable; default all)")
    add("--dir", type=Path, help="make the temp dir under DIR (default $TMPDIR or /tmp); a tmpfs such as "
        "/dev/shm takes fsync out of the figures, for profiling CPU only: its 250s are not durable")
    add("--keep", action="store_true", help="keep the temp dir (node home, logs)")
    add("--mesyx-cmd", default="", help="command that runs mesyx, split on blanks (default: the venv's), "
        "e.g. another checkout's .venv/bin/mesyx to compare two versions")
    add("--serve-bare", metavar="KIND:PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.messages = 500
    MESYX_CMD[:] = args.mesyx_cmd.split()
    return args


def main() -> None:
    args = parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    parts = set(args.only or PARTS)
    print(f"bench/ingest.py: {args.messages} messages of {args.size} bytes from {args.sessions} sessions")
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {loop_runner()[1]}, SQLite {sqlite3.sqlite_version}")
    with workdir("mesyx-bench-", keep=args.keep, parent=args.dir) as work:
        print(f"fsync (write 10 KiB + fdatasync, median) in {work.parent}: {1000 * fsync_latency(work):.2f} ms; "
              f"load average {os.getloadavg()[0]:.2f}\n")
        mesyx = bare = None
        roof: Ceiling | None = None
        home, base = init_home(work)
        if "mesyx" in parts:
            mesyx = run_mesyx(args, work, home, base)
            report_server("Mesyx (mesyx run: SMTP -> route -> encrypt -> group commit, SQLite FULL)", mesyx)
        if "bare" in parts:
            bare = run_bare(args, work, "aiosmtpd")
            report_server("Bare aiosmtpd (stock SMTP class, handle_DATA returns 250, stores nothing)", bare)
        if "smtp-layer" in parts:
            report_server("Mesyx's SMTP layer alone (MesyxSMTP, the same do-nothing handler)",
                          run_bare(args, work, "mesyx"))
        if "ceiling" in parts:
            batch = args.sessions
            if mesyx is not None and mesyx.extra.get("batches"):
                batch = max(1, round(mesyx.extra["committed"] / mesyx.extra["batches"]))
            roof = ceiling(home, args.messages, args.size, batch)
            report_ceiling(roof, args.messages)
        summarise(mesyx, bare, roof, args.messages)
        print(f"fsync at the end: {1000 * fsync_latency(work):.2f} ms; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
