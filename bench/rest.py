#!/usr/bin/env python3
"""Measure Mesyx's REST API: message list and message get under 8 clients, SSE delay.

Issue 4's measurements: requests/s and p99 latency for a message listing (50 per page) and
for a message get (decrypted, as JSON) on a 10,000-message mailbox with 8 concurrent
clients, and the delay from SMTP ``250`` to the server-sent event that announces the
message. Targets: at least 1,000 message gets/s, SSE delay under 100 ms. The reference
measured in the same run is ``GET /v1/account`` (the HTTP stack and the bearer check, no
index work): the ratio says what the index and the decryption cost on top.

    .venv/bin/python bench/rest.py                # 10,000 x 10 KiB, 10 s per part
    .venv/bin/python bench/rest.py --quick        # 1,000, 5 s per part
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import smtplib
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from benchlib import (
    ACCOUNT,
    PASSPHRASE,
    Cpu,
    daemon,
    fill,
    fsync_latency,
    init_home,
    loop_runner,
    make_message,
    wait_port,
    workdir,
)

CLIENTS = 8


@dataclass
class Run:
    """Latencies of one part (seconds) and its wall time."""

    name: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _drive(name: str, seconds: float, request: Callable[[aiohttp.ClientSession, random.Random], Awaitable[bool]],
                 headers: dict[str, str]) -> Run:
    """``CLIENTS`` clients, each on its own connection, requesting back to back for ``seconds``."""
    run = Run(name)
    deadline = time.perf_counter() + seconds

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=1)) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                ok = await request(http, rng)
                if ok:
                    run.latencies.append(time.perf_counter() - started)
                else:
                    run.failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    run.wall = time.perf_counter() - started
    return run


async def _login(base_url: str) -> str:
    credentials = {"address": ACCOUNT, "password": PASSPHRASE}
    async with aiohttp.ClientSession() as http, http.post(f"{base_url}/v1/login", json=credentials) as reply:
        body = await reply.json()
        if reply.status != 200:
            raise SystemExit(f"REST login failed: {reply.status} {body}")
        return str(body["token"])


async def _inbox(base_url: str, headers: dict[str, str], expected: int) -> tuple[str, list[str]]:
    """The INBOX's id once the index holds ``expected`` messages, and every message id in it."""
    async with aiohttp.ClientSession(headers=headers) as http:
        deadline = time.perf_counter() + 600
        while True:
            async with http.get(f"{base_url}/v1/mailboxes") as reply:
                boxes = (await reply.json())["mailboxes"]
            inbox = next(b for b in boxes if b["role"] == "inbox")
            if inbox["total"] >= expected or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.5)
        ids: list[str] = []
        cursor: str | None = None
        while True:
            query = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            async with http.get(f"{base_url}/v1/mailboxes/{inbox['id']}/messages", params=query) as reply:
                page = await reply.json()
            ids += [m["id"] for m in page["messages"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return str(inbox["id"]), ids


async def _sse_delay(base_url: str, headers: dict[str, str], smtp_port: int, rounds: int) -> list[float]:
    """Seconds from each SMTP ``250`` to the ``changes`` event that adds the message."""
    delays: list[float] = []
    timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
    async with (aiohttp.ClientSession(headers=headers, timeout=timeout) as http,
                http.get(f"{base_url}/v1/events") as stream):
        lines = stream.content

        async def next_added() -> None:
            event = ""
            while True:
                line = (await lines.readline()).decode()
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "changes" and json.loads(line[5:]).get("added"):
                    return

        await asyncio.sleep(0.5)  # the first "mailboxes" event has gone by
        for n in range(rounds):
            waiter = asyncio.create_task(next_added())
            await asyncio.to_thread(_send_one, smtp_port, 900_000 + n)
            acknowledged = time.perf_counter()
            await asyncio.wait_for(waiter, 10)
            delays.append(time.perf_counter() - acknowledged)
    return delays


def _send_one(smtp_port: int, index: int) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        smtp.sendmail("bench@example.org", [ACCOUNT], make_message(index, 2048))


async def measure(base_url: str, smtp_port: int, pid: int, messages: int, seconds: float, rounds: int
                  ) -> dict[str, float]:
    token = await _login(base_url)
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    inbox, ids = await _inbox(base_url, headers, messages)
    print(f"  index + listing   {len(ids):,} messages ready in {time.perf_counter() - started:.1f} s")
    figures: dict[str, float] = {}

    async def account(http: aiohttp.ClientSession, _rng: random.Random) -> bool:
        async with http.get(f"{base_url}/v1/account") as reply:
            await reply.read()
            return reply.status == 200

    async def listing(http: aiohttp.ClientSession, rng: random.Random) -> bool:
        offset = rng.randrange(0, max(1, len(ids) - 50))
        async with http.get(f"{base_url}/v1/mailboxes/{inbox}/messages",
                            params={"limit": "50", "offset": str(offset)}) as reply:
            body = await reply.json()
            return reply.status == 200 and len(body["messages"]) == 50

    async def get(http: aiohttp.ClientSession, rng: random.Random) -> bool:
        async with http.get(f"{base_url}/v1/messages/{rng.choice(ids)}") as reply:
            body = await reply.json()
            return reply.status == 200 and body.get("text") is not None

    for name, request in (("account (reference)", account), ("message list, 50", listing),
                          ("message get", get)):
        cpu = Cpu(pid).start()
        run = await _drive(name, seconds, request, headers)
        per = 1000 * cpu.used / max(1, len(run.latencies))
        print(f"  {name:<20} {run.rate:8,.0f} requests/s, p50 {1000 * run.p(0.5):6.1f} ms, "
              f"p99 {1000 * run.p(0.99):6.1f} ms, server CPU {per:.2f} ms/request, failures {run.failures}")
        figures[name] = run.rate
        figures[f"{name} p99"] = run.p(0.99)
    delays = await _sse_delay(base_url, headers, smtp_port, rounds)
    figures["sse"] = statistics.median(delays)
    print(f"  SSE delay         SMTP 250 -> event over {rounds} messages: "
          f"median {1000 * statistics.median(delays):.1f} ms, worst {1000 * max(delays):.1f} ms")
    return figures


def summarise(figures: dict[str, float]) -> None:
    print("\nRatios and targets (issue 4, 2 cores)")
    gets, reference = figures["message get"], figures["account (reference)"]
    print(f"  message get {gets:,.0f}/s >= 1,000/s{'':14}{'meets' if gets >= 1000 else 'misses'}")
    print(f"  SSE delay {1000 * figures['sse']:.1f} ms < 100 ms{'':17}{'meets' if figures['sse'] < 0.1 else 'misses'}")
    print(f"  message get / account (reference): {gets / reference:.2f}; "
          f"message list / reference: {figures['message list, 50'] / reference:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=10_240)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sse-rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="1,000 messages, 5 s per part")
    parser.add_argument("--keep", action="store_true", help="keep the node home and logs")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.seconds, args.sse_rounds = 1_000, 5.0, 10
    with workdir("mesyx-bench-rest-", keep=args.keep) as work:
        run, loop_name = loop_runner()
        print(f"bench/rest.py on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {loop_name}, "
              f"load average {os.getloadavg()[0]:.2f}, fsync {1000 * fsync_latency(work):.2f} ms; {CLIENTS} clients; "
              f"work dir {work}")
        home, base = init_home(work)
        with daemon(home, work) as proc:
            wait_port(base + 25, proc, "mesyx run")
            wait_port(base + 80, proc, "mesyx run (REST)")
            print(f"\nMesyx (node {home}, SMTP {base + 25}, REST {base + 80})")
            fill(base + 25, args.messages, args.size)
            figures = run(measure(f"http://127.0.0.1:{base + 80}", base + 25, proc.pid, args.messages, args.seconds,
                                  args.sse_rounds))
        summarise(figures)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
