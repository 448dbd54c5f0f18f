#!/usr/bin/env python3
"""Measure exchange mode: catch-up over HTTPS, bytes on the wire, confirmation, SMTP to IDLE.

Issue 6's measurements: node A holds N envelopes of 10 KiB and node B N - 1,000 of them;
the time until they converge over HTTPS on loopback, the bytes on the wire and their
ratio to the bytes of the 1,000 missing envelopes, what an already-converged pair spends
to confirm it (one ``heads`` round trip per account), and the delay from SMTP ``250`` on
one node to IMAP IDLE ``EXISTS`` on the other. Targets: converge in under 5 s, wire bytes
at most 1.1 x the missing payload, a converged pair confirms in one round trip of under
1 KiB per account, SMTP-to-IDLE across nodes under 1 s. One run:

1. **build**: ``mesyx init`` A (client + exchange, the bench account) and B (accept +
   exchange); in this process, through the store API (no daemon, no SMTP, so 100,000
   envelopes take minutes, not an hour): B is signed into the account's device list as
   an accept node (``mesyx.accounts.add_device``, what ``peer add --role accept`` does),
   N - 1,000 messages are sealed to the account's keyset and stored in A with
   ``Store.commit_ingest`` (as accept's group commit stores them, batches of 500), and
   copied to B with ``Replica.missing`` -> ``Replica.apply``, B taking the account in
   from its ACCOUNT frame.
2. **pair**: both daemons run; ``mesyx peer add`` on each side, each naming the other
   through a counting TCP proxy on loopback (so every byte between them, TLS records
   and handshakes included, passes a counter); both stop again, and the last 1,000
   messages are stored in A only (store API again).
3. **converge**: A starts, then B (whose peer task asks A's heads, then pulls); the clock
   stops when B's store holds every operation of A's (B's SQLite file read, read-only,
   every 10 ms). The figure is measured from B's ``peer_started`` log line (its peer
   task's first moment), and printed also from B's exchange port listening and from its
   launch (Python start-up included). Wire bytes are the proxies' counts in both
   directions; ``/proc/net/dev`` of ``lo`` is printed beside them as a cross-check (it
   sees each byte twice, client to proxy and proxy to server, plus TCP/IP headers).
4. **confirm**: with both converged, one ``POST /sync/v1/heads`` to B with A's vectors,
   over A's client certificate (what A's peer task sends), on a fresh connection and on
   a kept-alive one: bytes each way (proxy counts) and time.
5. **idle**: an IMAP session on A in IDLE on INBOX; R messages sent over SMTP to B; the
   delay from each ``250`` to the ``* n EXISTS`` on A.

    .venv/bin/python bench/sync.py --envelopes 10000     # first, a smaller run
    .venv/bin/python bench/sync.py                       # 100,000 x 10 KiB
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from benchlib import (
    ACCOUNT,
    PASSPHRASE,
    free_port_base,
    fsync_latency,
    idle_delays,
    make_message,
    mesyx_command,
    stop,
    workdir,
)

from mesyx.accounts import add_device
from mesyx.crypto.encoding import b32
from mesyx.crypto.envelope import InnerRecord
from mesyx.home import Home
from mesyx.proto.sync.frames import CommitFrame, Frame
from mesyx.store.devices import DeviceRole
from mesyx.store.mailcrypt import SealingKeys, load_sealing_keys, unlock
from mesyx.store.replica import Replica
from mesyx.store.store import Store

MISSING = 1_000
BATCH = 500
EXCHANGE_OFFSET = 443


# --------------------------------------------------------------------------- the wire


class CountingProxy:
    """A TCP relay on loopback that counts the bytes it carries each way.

    It sits between two nodes' TLS endpoints and sees only ciphertext, so its counts are
    the bytes on the wire above TCP: TLS handshakes, records, HTTP and frames.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = 0  # towards the target
        self.down = 0  # back to the caller
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, "127.0.0.1", 0), self._loop).result()
        self.port: int = self._server.sockets[0].getsockname()[1]

    @property
    def total(self) -> int:
        return self.up + self.down

    def reset(self) -> None:
        self.up = self.down = self.connections = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upward: bool) -> None:
        try:
            while data := await reader.read(1 << 16):
                if upward:
                    self.up += len(data)
                else:
                    self.down += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, target_writer, True), self._pipe(target_reader, writer, False))

    def close(self) -> None:
        self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def lo_bytes() -> int:
    """Bytes received on the loopback interface so far (``/proc/net/dev``)."""
    for line in Path("/proc/net/dev").read_text(encoding="ascii").splitlines():
        name, _, fields = line.partition(":")
        if name.strip() == "lo":
            return int(fields.split()[0])
    return 0


# --------------------------------------------------------------------------- nodes


@dataclass
class BenchNode:
    name: str
    home: Path
    base: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def exchange_port(self) -> int:
        return self.base + EXCHANGE_OFFSET

    def cli(self, *args: object) -> str:
        result = subprocess.run([*mesyx_command(), "--home", str(self.home), *(str(a) for a in args)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"mesyx {' '.join(map(str, args))} on {self.name} failed: {result.stderr.strip()}")
        return result.stdout

    def node_id(self) -> str:
        return str(json.loads(self.cli("status", "--json"))["node_id"])

    def start(self, work: Path) -> float:
        """Launch ``mesyx run``; returns the launch time (perf_counter)."""
        log = open(work / f"{self.name}.log", "ab")  # noqa: SIM115 (the daemon keeps writing)
        started = time.perf_counter()
        self.proc = subprocess.Popen([*mesyx_command(), "--home", str(self.home), "run"], stdout=log, stderr=log)
        log.close()
        return started

    def wait_listening(self, port: int, timeout: float = 60.0) -> float:
        """Wait until ``port`` accepts a connection; returns that moment (perf_counter)."""
        assert self.proc is not None
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see {self.name}.log")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return time.perf_counter()
            except OSError:
                time.sleep(0.005)
        raise SystemExit(f"{self.name} did not listen on {port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def init(work: Path, name: str, modes: str, *, account: bool) -> BenchNode:
    home, base = work / name, free_port_base()
    args = ["init", "--modes", modes, "--port-base", str(base)]
    if account:
        (work / "passphrase").write_text(PASSPHRASE + "\n", encoding="utf-8")
        args += ["--account", ACCOUNT, "--passphrase-file", str(work / "passphrase")]
    subprocess.run([*mesyx_command(), "--home", str(home), *args], check=True, stdout=subprocess.DEVNULL)
    with open(home / "mesyx.toml", "a", encoding="utf-8") as f:
        f.write("\n[limits]\nmessages_per_sender_per_minute = 0\nmessages_per_client_ip_per_minute = 0\n"
                "connections_per_client_ip_per_minute = 0\n")
    return BenchNode(name, home, base)


@contextmanager
def open_store(node: BenchNode) -> Iterator[Store]:
    home = Home(node.home)
    store = home.open_store(home.config(), home.node_keys())
    try:
        store.create_schema()
        yield store
    finally:
        store.close()


# --------------------------------------------------------------------------- 1. build


def seal_and_store(store: Store, keys: SealingKeys, first: int, count: int, size: int) -> int:
    """Seal ``count`` messages as accept does and commit them in batches; their envelope bytes."""
    payload = 0
    now = time.time()
    for start in range(first, first + count, BATCH):
        items = []
        for n in range(start, min(first + count, start + BATCH)):
            inner = InnerRecord(now + n / 1000, "smtp", f"sender{n % 97}@example.org", (ACCOUNT,), ("inbox",))
            items.append(keys.seal(inner, make_message(n, size)))
        store.commit_ingest(items)
        payload += sum(len(i.envelope.header) + len(i.envelope.body) for i in items)
    return payload


def copy_batches(frames: Iterator[Frame]) -> Iterator[list[Frame]]:
    batch: list[Frame] = []
    for frame in frames:
        batch.append(frame)
        if isinstance(frame, CommitFrame):
            yield batch
            batch = []


def build(a: BenchNode, b: BenchNode, envelopes: int, size: int) -> None:
    """B on the account's device list as accept; A and B hold the same ``envelopes``."""
    b_keys = Home(b.home).node_keys()
    with open_store(a) as store_a, open_store(b) as store_b:
        record = store_a.find_account(ACCOUNT)
        unlocked = unlock(store_a, record, PASSPHRASE)
        add_device(store_a, unlocked, verify_key=b_keys.verify_key, box_key=bytes(b_keys.box_public),
                   role=DeviceRole.ACCEPT)
        keys = load_sealing_keys(store_a, store_a.account(record.account_id))
        started = time.perf_counter()
        seal_and_store(store_a, keys, 0, envelopes, size)
        print(f"  A: stored {envelopes:,} envelopes in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        receiver = Replica(store_b)
        for batch in copy_batches(Replica(store_a).missing(record.account_id, {})):
            receiver.apply(batch, accept_accounts={record.account_id})
        print(f"  B: copied them with Replica in {time.perf_counter() - started:.1f} s")


def add_missing(a: BenchNode, first: int, size: int) -> int:
    """MISSING more envelopes in A only (its daemon stopped); returns their bytes."""
    with open_store(a) as store:
        keys = load_sealing_keys(store, store.find_account(ACCOUNT))
        missing = seal_and_store(store, keys, first, MISSING, size)
    print(f"  A: {MISSING:,} more envelopes, {missing:,} bytes (header + body), that B lacks")
    return missing


# --------------------------------------------------------------------------- 2.-5.


def op_counts(node: BenchNode) -> dict[str, int]:
    """``{origin: operations stored}`` of every account, read from the node's SQLite file."""
    db = node.home / "data" / "mesyx.sqlite3"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=20)
    try:
        rows = con.execute("SELECT origin, sum(count) FROM op_heads GROUP BY origin").fetchall()
    finally:
        con.close()
    return {str(origin): int(count) for origin, count in rows}


def pair(a: BenchNode, b: BenchNode, proxy_a: CountingProxy, proxy_b: CountingProxy, work: Path) -> None:
    a.start(work)
    b.start(work)
    a.wait_listening(a.exchange_port)
    b.wait_listening(b.exchange_port)
    id_a, id_b = a.node_id(), b.node_id()
    a.cli("peer", "add", id_b, f"https://127.0.0.1:{proxy_b.port}", "--accounts", ACCOUNT, "--role", "accept",
          "--passphrase-file", work / "passphrase")
    b.cli("peer", "add", id_a, f"https://127.0.0.1:{proxy_a.port}", "--accounts", ACCOUNT)
    a.stop()
    b.stop()


def converge(a: BenchNode, b: BenchNode, proxies: list[CountingProxy], work: Path,
             figures: dict[str, float]) -> None:
    want = op_counts(a)
    for proxy in proxies:
        proxy.reset()
    lo_before = lo_bytes()
    a.start(work)
    a.wait_listening(a.exchange_port)
    launched = b.start(work)
    listening = b.wait_listening(b.exchange_port)
    deadline = time.perf_counter() + 600
    while op_counts(b) != want:
        if time.perf_counter() > deadline:
            raise SystemExit(f"B did not converge within 600 s: {op_counts(b)} != {want}")
        time.sleep(0.01)
    done, done_wall = time.perf_counter(), time.time()
    wire = sum(p.total for p in proxies)
    from_task = done_wall - last_event(work / f"{b.name}.log", "exchange peer_started")
    figures.update(converge=from_task, converge_launch=done - launched, wire=wire, lo=(lo_bytes() - lo_before) / 2)
    print(f"  converged         {from_task:.2f} s from B's peer task start (its log), {done - listening:.2f} s "
          f"from B listening, {done - launched:.2f} s from B's launch (Python start-up included)")
    print(f"  wire bytes        {wire:,} ({sum(p.up for p in proxies):,} to the servers, "
          f"{sum(p.down for p in proxies):,} back; {sum(p.connections for p in proxies)} connections)")
    print(f"  lo cross-check    {figures['lo']:,.0f} bytes (half of /proc/net/dev lo: proxied twice, with headers)")


def last_event(log: Path, name: str) -> float:
    """The wall-clock time of the last ``name`` line of a daemon log (its UTC ISO stamp)."""
    stamps = [line.split(" ", 1)[0] for line in log.read_text(encoding="utf-8").splitlines() if f" {name} " in line]
    if not stamps:
        raise SystemExit(f"no {name!r} line in {log}")
    return datetime.fromisoformat(stamps[-1].replace("Z", "+00:00")).timestamp()


def client_context(node: BenchNode) -> ssl.SSLContext:
    """A's client side of mutual TLS: its node certificate; the server's is pinned by the
    daemons, not checked here (the bench only measures)."""
    home = Home(node.home)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(home.cert_path, home.cert_key_path)
    return context


def confirm(a: BenchNode, proxy_b: CountingProxy, figures: dict[str, float]) -> None:
    """One heads round trip as A's peer task makes it, fresh and on a kept-alive connection."""
    import http.client

    with open_store(a) as store:
        account_id = store.find_account(ACCOUNT).account_id
        vectors = Replica(store).vectors([account_id])
    body = json.dumps({"vectors": {b32(acc): v for acc, v in vectors.items()}}).encode()
    proxy_b.reset()
    conn = http.client.HTTPSConnection("127.0.0.1", proxy_b.port, context=client_context(a), timeout=30)
    times, sizes = [], []
    for _ in range(2):
        up, down = proxy_b.up, proxy_b.down
        started = time.perf_counter()
        conn.request("POST", "/sync/v1/heads", body, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        answer = reply.read()
        times.append(time.perf_counter() - started)
        sizes.append((proxy_b.up - up, proxy_b.down - down))
        if reply.status != 200:
            raise SystemExit(f"heads answered {reply.status}: {answer[:200]!r}")
    version = conn.sock.version() if isinstance(conn.sock, ssl.SSLSocket) else "TLS"
    conn.close()
    (fresh_up, fresh_down), (kept_up, kept_down) = sizes
    figures.update(confirm_bytes=kept_up + kept_down, confirm_ms=1000 * times[1])
    print(f"  converged confirm one heads round trip, 1 account, kept-alive connection: {kept_up + kept_down:,} bytes "
          f"({kept_up} out, {kept_down} back), {1000 * times[1]:.1f} ms")
    print(f"                    on a fresh connection ({version} handshake with both certificates): "
          f"{fresh_up + fresh_down:,} bytes ({fresh_up:,} out, {fresh_down:,} back), {1000 * times[0]:.1f} ms")
    print(f"                    request body {len(body)} bytes, answer body {len(answer)} bytes")


def idle_delay(a: BenchNode, b: BenchNode, rounds: int, figures: dict[str, float]) -> None:
    delays = idle_delays(a.base + 143, b.base + 25, rounds)
    figures["idle"] = statistics.median(delays)
    print(f"  SMTP -> IDLE      250 on B -> * EXISTS on A over {rounds} messages: median "
          f"{1000 * figures['idle']:.0f} ms, p90 {1000 * delays[int(0.9 * (len(delays) - 1))]:.0f} ms, "
          f"worst {1000 * delays[-1]:.0f} ms")


def summarise(figures: dict[str, float], missing: int) -> None:
    def line(text: str, ok: bool) -> None:
        print(f"  {text:<58} {'meets' if ok else 'misses'}")

    ratio = figures["wire"] / missing
    print("\nTargets (issue 6)")
    line(f"converge {figures['converge']:.2f} s < 5 s", figures["converge"] < 5)
    line(f"wire {ratio:.3f} x the missing payload <= 1.1 x", ratio <= 1.1)
    line(f"converged confirm {figures['confirm_bytes']:,.0f} bytes in one round trip < 1 KiB",
         figures["confirm_bytes"] < 1024)
    line(f"SMTP -> IDLE across nodes {1000 * figures['idle']:.0f} ms < 1 s", figures["idle"] < 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envelopes", type=int, default=100_000, help="envelopes on A (B holds 1,000 fewer)")
    parser.add_argument("--size", type=int, default=10_240, help="message size in bytes before encryption")
    parser.add_argument("--idle-rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep both homes and logs")
    parser.add_argument("--dir", help="where the scratch directory goes")
    args = parser.parse_args()
    if args.envelopes <= MISSING:
        raise SystemExit(f"--envelopes must be above {MISSING}")
    with workdir("mesyx-bench-sync-", keep=args.keep, parent=args.dir) as work:
        print(f"bench/sync.py on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
              f"{os.getloadavg()[0]:.2f}, fsync {1000 * fsync_latency(work):.2f} ms; {args.envelopes:,} envelopes "
              f"of {args.size:,} bytes on A, {args.envelopes - MISSING:,} on B; work dir {work}")
        a = init(work, "A", "client,exchange", account=True)
        b = init(work, "B", "accept,exchange", account=False)
        print("\n1. build (store API, no daemon)")
        build(a, b, args.envelopes - MISSING, args.size)
        proxy_a, proxy_b = CountingProxy(a.exchange_port), CountingProxy(b.exchange_port)
        figures: dict[str, float] = {}
        try:
            print("\n2. pair (peer add both ways, through counting proxies)")
            pair(a, b, proxy_a, proxy_b, work)
            missing = add_missing(a, args.envelopes - MISSING, args.size)
            print("\n3. converge over HTTPS")
            converge(a, b, [proxy_a, proxy_b], work, figures)
            print(f"  ratio             {figures['wire'] / missing:.3f} x the {missing:,} bytes of missing envelopes")
            print("\n4. an already-converged pair")
            confirm(a, proxy_b, figures)
            print("\n5. SMTP on B (accept) -> IMAP IDLE on A (client)")
            idle_delay(a, b, args.idle_rounds, figures)
        finally:
            a.stop()
            b.stop()
            proxy_a.close()
            proxy_b.close()
        summarise(figures, missing)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
