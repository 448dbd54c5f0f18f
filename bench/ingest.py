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
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "bench@mesyx.test"
PASSPHRASE = "bench-passphrase-not-secret"
#: Every listener offset of DESIGN.md, so that a chosen port base collides with nothing.
PORT_OFFSETS = (25, 80, 143, 443, 465, 587, 667, 993)
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: ``--mesyx-cmd``: how to run mesyx, split on blanks (empty: the venv's mesyx).
MESYX_CMD: list[str] = []
#: What a run measures (``--only``): the daemon, stock aiosmtpd, Mesyx's SMTP layer alone,
#: the in-process ceiling of seal and commit.
PARTS = ("mesyx", "bare", "smtp-layer", "ceiling")


# --------------------------------------------------------------------------- plumbing


def loop_runner() -> tuple[Callable[[Coroutine[Any, Any, Any]], Any], str]:
    """uvloop when installed (the daemon uses it too), so client and servers match."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run, f"asyncio ({platform.python_implementation()})"
    return uvloop.run, f"uvloop {getattr(uvloop, '__version__', '?')}"


def proc_cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds that a process (all its threads) has used, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15 (proc(5)).
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def free_port_base() -> int:
    """A port base whose every listener port is free on loopback."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(30000, 64000 - 1000, 10)
        try:
            for offset in PORT_OFFSETS:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise SystemExit("no free port base found")


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on port {port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fsync_latency(directory: Path, rounds: int = 50) -> float:
    """Median seconds of write(10 KiB) + fdatasync in ``directory``.

    Every 250 waits for at least one such flush (SQLite ``synchronous=FULL``), so on a
    disk shared with other work this, not the CPU, can bound the rate: printed with the
    figures so that they can be read.
    """
    path = directory / "fsync-probe"
    block = os.urandom(10240)
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return sorted(times)[len(times) // 2]


# --------------------------------------------------------------------------- the client


def make_message(index: int, size: int) -> bytes:
    """An RFC 5322 message of ``size`` bytes (at least its headers) with CRLF lines.

    No line starts with ``.``, so it needs no dot-stuffing on the wire. The body is built
    once per size, so the client spends its CPU on SMTP, not on making messages.
    """
    head = (
        f"From: Sender {index} <sender{index % 97}@example.org>\r\nTo: <{ACCOUNT}>\r\n"
        f"Subject: bench message {index}\r\nMessage-ID: <bench-{index}@example.org>\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode("ascii")
    return head + _body(max(0, size - len(head)))


_BODIES: dict[int, bytes] = {}


def _body(size: int) -> bytes:
    if size not in _BODIES:
        line = b"The quick brown fox jumps over the lazy dog; lorem ipsum dolor sit amet.\r\n"
        body = (line * (size // len(line) + 1))[:size]
        _BODIES[size] = body[:-2] + b"\r\n" if size >= 2 else b""  # the data must end in CRLF
    return _BODIES[size]


@dataclass
class LoadResult:
    sent: int
    accepted: int
    wall: float
    client_cpu: float
    failures: list[str]


async def _reply(reader: asyncio.StreamReader) -> bytes:
    """One (possibly multi-line) SMTP reply; returns its last line."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            return line


async def _session(port: int, todo: list[int], size: int, start: asyncio.Event,
                   ready: list[int], result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    await _reply(reader)
    writer.write(b"EHLO bench.example.org\r\n")
    await _reply(reader)
    ready.append(1)
    await start.wait()
    mail = b"MAIL FROM:<sender@example.org>\r\n"
    rcpt = f"RCPT TO:<{ACCOUNT}>\r\n".encode()
    while todo:
        index = todo.pop()
        body = make_message(index, size) + b".\r\n"
        for command in (mail, rcpt, b"DATA\r\n", body):
            writer.write(command)
            line = await _reply(reader)
            if line[:1] not in (b"2", b"3"):
                result.failures.append(line.decode("utf-8", "replace").strip())
                writer.write(b"RSET\r\n")
                await _reply(reader)
                break
        else:
            result.accepted += 1
    writer.write(b"QUIT\r\n")
    await _reply(reader)
    writer.close()


async def _load(port: int, messages: int, size: int, sessions: int) -> LoadResult:
    result = LoadResult(messages, 0, 0.0, 0.0, [])
    todo = list(range(messages))[::-1]
    start, ready = asyncio.Event(), list[int]()
    tasks = [asyncio.create_task(_session(port, todo, size, start, ready, result)) for _ in range(sessions)]
    while len(ready) < sessions:
        await asyncio.sleep(0.01)
        for task in tasks:
            if task.done():
                task.result()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    result.wall = time.perf_counter() - wall0
    result.client_cpu = time.process_time() - cpu0
    return result


def load(port: int, messages: int, size: int, sessions: int) -> LoadResult:
    run, _ = loop_runner()
    result: LoadResult = run(_load(port, messages, size, sessions))
    return result


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


def mesyx_command() -> list[str]:
    """``--mesyx-cmd``, else the ``mesyx`` next to this Python (the venv's), else on PATH."""
    if MESYX_CMD:
        return MESYX_CMD
    beside = Path(sys.executable).with_name("mesyx")
    if beside.exists():
        return [str(beside)]
    return [shutil.which("mesyx") or "mesyx"]


def init_home(work: Path) -> tuple[Path, int]:
    """A fresh node home with the bench account, rate limits off; returns (home, port base)."""
    home = work / "node"
    passfile = work / "passphrase"
    passfile.write_text(PASSPHRASE + "\n", encoding="utf-8")
    base = free_port_base()
    subprocess.run(
        [*mesyx_command(), "--home", str(home), "init", "--account", ACCOUNT, "--passphrase-file",
         str(passfile), "--port-base", str(base)],
        check=True, stdout=subprocess.DEVNULL,
    )
    with open(home / "mesyx.toml", "a", encoding="utf-8") as f:
        f.write(
            "\n[limits]\n# bench/ingest.py: one client IP and one sender send everything.\n"
            "messages_per_sender_per_minute = 0\nmessages_per_client_ip_per_minute = 0\n"
            "connections_per_client_ip_per_minute = 0\n"
        )
    return home, base


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
    work = Path(tempfile.mkdtemp(prefix="mesyx-bench-", dir=args.dir))
    print(f"fsync (write 10 KiB + fdatasync, median) in {work.parent}: {1000 * fsync_latency(work):.2f} ms; "
          f"load average {os.getloadavg()[0]:.2f}\n")
    mesyx = bare = None
    roof: Ceiling | None = None
    try:
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
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
