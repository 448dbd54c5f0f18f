#!/usr/bin/env python3
"""Measure Mesyx's IMAP server: full fetch, mbsync, SELECT, IDLE delay, imaptest load.

A script, not a test: it prints figures and never asserts on them. Issue 3's targets, on
2 cores: a full ``UID FETCH 1:* (FLAGS BODY.PEEK[])`` of a 10,000-message mailbox at
2,000 messages/s or more (Dovecot with mail_crypt: about 500/s here), SELECT of a
100,000-message mailbox under 0.5 s, SMTP ``250`` to IDLE ``EXISTS`` under 100 ms, and
imaptest's steady load at Dovecot's commands/s or more. One run measures, in order:

1. **fill**: a fresh node (``benchlib.init_home``), N messages of S bytes over SMTP;
2. **login**: the first login builds the index (decrypts every envelope): its time;
3. **fetch**: imaplib, ``SELECT INBOX`` then ``UID FETCH 1:* (FLAGS BODY.PEEK[])``:
   messages/s, server CPU per message (``/proc``), client CPU;
4. **mbsync** (Debian ``isync``): the whole account into an empty Maildir;
5. **idle**: one session in IDLE; R times, one SMTP message, and the delay from its
   ``250`` to the ``* n EXISTS`` the IDLE session reads (median, worst);
6. **select**: more messages until the mailbox holds ``--select-messages``, then the
   median of 5 SELECTs;
7. **load**: imaptest's "mixed" and "steady" loads (``shared/tools/imaptest/run.sh``,
   10 clients, 30 s each) against a second account of the node, and in the same run
   against the throwaway Dovecot of ``anchor-dovecot.sh`` (Maildir, no mail_crypt); the
   full fetch is measured there too, on the same N messages (APPENDed), for the ratio.

    .venv/bin/python bench/imap.py                     # 10,000 x 10 KiB, SELECT of 100,000
    .venv/bin/python bench/imap.py --quick             # 1,000 messages, SELECT of 10,000, short loads
    .venv/bin/python bench/imap.py --only fetch --only idle

imaptest is built by ``shared/tools/imaptest/build.sh`` into ``--imaptest-build``
(default: the cache the tests use). bench/README.md has the figures measured so far.
"""

from __future__ import annotations

import argparse
import hashlib
import imaplib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchlib import (
    ACCOUNT,
    PASSPHRASE,
    Cpu,
    daemon,
    fill,
    fsync_latency,
    idle_delays,
    init_home,
    make_message,
    mesyx_command,
    wait_port,
    workdir,
)

PARTS = ("fetch", "mbsync", "idle", "select", "load")
TOOLS = Path(__file__).resolve().parents[2] / "shared" / "tools" / "imaptest"
LOAD_ACCOUNT = "load@mesyx.test"


def login(port: int, user: str = ACCOUNT, password: str = PASSPHRASE) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=600)
    client.login(user, password)
    return client


def full_fetch(client: imaplib.IMAP4, expected: int) -> tuple[float, int, int]:
    """(seconds, messages, bytes) of ``UID FETCH 1:* (FLAGS BODY.PEEK[])``."""
    started = time.perf_counter()
    status, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    elapsed = time.perf_counter() - started
    if status != "OK":
        raise SystemExit(f"UID FETCH failed: {data!r}")
    bodies = [part[1] for part in data if isinstance(part, tuple)]
    if len(bodies) != expected:
        print(f"  warning: fetched {len(bodies)} messages, expected {expected}")
    return elapsed, len(bodies), sum(len(b) for b in bodies)


def report_fetch(name: str, seconds: float, count: int, size: int, server_cpu: float | None) -> float:
    rate = count / seconds if seconds else 0.0
    cpu = f", server CPU {1000 * server_cpu / count:.3f} ms/message" if server_cpu is not None and count else ""
    print(f"  {name:<17} {count:,} messages ({size / 2**20:.0f} MiB) in {seconds:.2f} s: {rate:,.0f} messages/s{cpu}")
    return rate


def part_fetch(base: int, pid: int, messages: int, figures: dict[str, float]) -> None:
    cpu = Cpu(pid).start()
    started = time.perf_counter()
    client = login(base + 143)
    print(f"  first login       {time.perf_counter() - started:.2f} s (builds the index: decrypts "
          f"{messages:,} envelopes), server CPU {cpu.used:.2f} s")
    started = time.perf_counter()
    client.select("INBOX")
    print(f"  SELECT INBOX      {1000 * (time.perf_counter() - started):.1f} ms")
    cpu.start()
    client_cpu = time.process_time()
    seconds, count, size = full_fetch(client, messages)
    figures["fetch_rate"] = report_fetch("full UID FETCH", seconds, count, size, cpu.used)
    print(f"  client CPU        {1000 * (time.process_time() - client_cpu) / max(count, 1):.3f} ms/message (imaplib)")
    client.logout()


def part_mbsync(base: int, pid: int, work: Path, messages: int, figures: dict[str, float]) -> None:
    if shutil.which("mbsync") is None:
        print("  mbsync            skipped: not installed (apt-get install isync)")
        return
    maildir = work / "maildir"
    shutil.rmtree(maildir, ignore_errors=True)
    maildir.mkdir()
    rc = work / "mbsyncrc"
    rc.write_text(
        f"IMAPAccount bench\nHost 127.0.0.1\nPort {base + 143}\nUser {ACCOUNT}\nPass \"{PASSPHRASE}\"\n"
        "TLSType None\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n\n"
        f"Channel bench\nFar :remote:\nNear :local:\nPatterns *\nCreate Near\nSync Pull\nSyncState *\n",
        encoding="utf-8",
    )
    cpu = Cpu(pid).start()
    started = time.perf_counter()
    done = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 and "TLSType" in done.stderr:  # isync before 1.5 calls it SSLType
        rc.write_text(rc.read_text(encoding="utf-8").replace("TLSType", "SSLType"), encoding="utf-8")
        shutil.rmtree(maildir)
        maildir.mkdir()
        cpu.start()
        started = time.perf_counter()
        done = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
    files = [p for p in maildir.rglob("*") if p.is_file() and p.parent.name in ("cur", "new")]
    if done.returncode != 0:
        print(f"  mbsync            exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    size = sum(p.stat().st_size for p in files)
    figures["mbsync_rate"] = report_fetch("mbsync (pull)", seconds, len(files), size, cpu.used)
    if len(files) < messages:
        print(f"  warning: the Maildir holds {len(files)} messages, the server {messages}")


def part_idle(base: int, rounds: int, figures: dict[str, float]) -> None:
    delays = idle_delays(base + 143, base + 25, rounds)
    figures["idle_ms"] = 1000 * statistics.median(delays)
    print(f"  IDLE delay        SMTP 250 -> * EXISTS over {rounds} messages: median {figures['idle_ms']:.1f} ms, "
          f"p90 {1000 * delays[int(0.9 * (len(delays) - 1))]:.1f} ms, worst {1000 * delays[-1]:.1f} ms")


def part_select(base: int, pid: int, have: int, want: int, size: int, figures: dict[str, float]) -> None:
    fill(base + 25, want - have, size)
    cpu = Cpu(pid).start()
    started = time.perf_counter()
    client = login(base + 143)
    print(f"  login + sync      {time.perf_counter() - started:.2f} s for {want - have:,} new envelopes, "
          f"server CPU {cpu.used:.2f} s")
    times = []
    for _ in range(5):
        started = time.perf_counter()
        status, data = client.select("INBOX")
        times.append(time.perf_counter() - started)
        client.unselect()
    figures["select_s"] = statistics.median(times)
    print(f"  SELECT INBOX      {int(data[0] or 0):,} messages: median {1000 * figures['select_s']:.0f} ms "
          f"(of 5; fastest {1000 * min(times):.0f} ms)")
    client.logout()


# --------------------------------------------------------------------------- imaptest and Dovecot


def imaptest_build(path: str | None) -> Path | None:
    """The imaptest build (the tests' cache unless told), built now if it is missing."""
    tarball = TOOLS / "imaptest-9d78895.tar.gz"
    if path is None:
        if not tarball.is_file():
            return None
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()[:12]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mesyx"
        path = str(cache / f"imaptest-{digest}")
    build = Path(path)
    if not (build / "bin" / "imaptest").is_file():
        print(f"  building imaptest into {build} ...")
        done = subprocess.run(["bash", str(TOOLS / "build.sh"), str(tarball), str(build)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"  imaptest build failed: {done.stdout[-300:]}{done.stderr[-300:]}")
            return None
    return build


def imaptest_load(build: Path, port: int, user: str, password: str, out: Path, secs: int) -> dict[str, float]:
    """{"mixed": commands/s, "steady": commands/s} of run.sh's load phase."""
    env = {**os.environ, "IMAPTEST_BUILD": str(build), "SKIP_COMPLIANCE": "1", "LOAD_SECS": str(secs)}
    done = subprocess.run(["bash", str(TOOLS / "run.sh"), "127.0.0.1", str(port), user, password, str(out)],
                          env=env, capture_output=True, text=True, check=False)
    rates: dict[str, float] = {}
    summary = out / "summary.json"
    if summary.is_file():
        for key, run in json.loads(summary.read_text()).items():
            if key.startswith("load-") and isinstance(run, dict) and "commands_per_sec" in run:
                rates[key.removeprefix("load-")] = float(run["commands_per_sec"])
    if not rates:
        print(f"  imaptest load gave no figures (exit {done.returncode}): {done.stdout[-500:]}")
    return rates


@contextmanager
def dovecot(work: Path, user: str, password: str) -> Iterator[int | None]:
    if shutil.which("dovecot") is None:
        print("  Dovecot anchor    skipped: not installed (apt-get install dovecot-imapd)")
        yield None
        return
    # Its own directory, readable by Dovecot's unprivileged processes (the work dir is 0700).
    scratch = Path(tempfile.mkdtemp(prefix="mesyx-bench-dovecot-"))
    scratch.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    script = str(TOOLS / "anchor-dovecot.sh")
    log = work / "dovecot-start.log"
    with log.open("wb") as out:  # not a pipe: the Dovecot it starts keeps its output open
        done = subprocess.run(["bash", script, "start", str(scratch), str(port), user, password],
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        print(f"  Dovecot anchor    did not start: {log.read_text(errors='replace').strip()[-300:]}")
        yield None
        return
    try:
        yield port
    finally:
        subprocess.run(["bash", script, "stop", str(scratch)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def dovecot_fetch(port: int, user: str, password: str, messages: int, size: int) -> float:
    client = login(port, user, password)
    client.create("fetchbench")
    for n in range(messages):
        client.append("fetchbench", "", imaplib.Time2Internaldate(time.time()), make_message(n, size))
    client.select("fetchbench")
    seconds, count, total = full_fetch(client, messages)
    client.logout()
    return report_fetch("Dovecot fetch", seconds, count, total, None)


def part_load(base: int, home: Path, work: Path, args: argparse.Namespace, figures: dict[str, float]) -> None:
    build = imaptest_build(args.imaptest_build)
    if build is None:
        print("  imaptest          skipped: harness or build not available")
        return
    mesyx = imaptest_load(build, base + 143, LOAD_ACCOUNT, PASSPHRASE, work / "load-mesyx", args.load_secs)
    for name, rate in mesyx.items():
        print(f"  Mesyx {name:<11} {rate:,.0f} commands/s")
        figures[f"mesyx_{name}"] = rate
    with dovecot(work, "anchor", PASSPHRASE) as port:
        if port is None:
            return
        anchor = imaptest_load(build, port, "anchor", PASSPHRASE, work / "load-dovecot", args.load_secs)
        for name, rate in anchor.items():
            print(f"  Dovecot {name:<9} {rate:,.0f} commands/s")
            figures[f"dovecot_{name}"] = rate
        if "fetch" in args.only:
            figures["dovecot_fetch_rate"] = dovecot_fetch(port, "anchor", PASSPHRASE, args.messages, args.size)


def summarise(figures: dict[str, float]) -> None:
    print("\nRatios and targets (issue 3, 2 cores)")

    def line(text: str, value: float | None, ok: bool) -> None:
        if value is not None:
            print(f"  {text:<52} {'meets' if ok else 'misses'}")

    fetch = figures.get("fetch_rate")
    line(f"full fetch {fetch or 0:,.0f} messages/s >= 2,000", fetch, (fetch or 0) >= 2000)
    if fetch and figures.get("dovecot_fetch_rate"):
        print(f"  full fetch, Mesyx / Dovecot (Maildir, no mail_crypt): {fetch / figures['dovecot_fetch_rate']:.2f}")
    select = figures.get("select_s")
    line(f"SELECT {1000 * (select or 0):,.0f} ms < 500 ms", select, (select or 1) < 0.5)
    idle = figures.get("idle_ms")
    line(f"IDLE delay {idle or 0:.1f} ms < 100 ms", idle, (idle or 1000) < 100)
    for name in ("steady", "mixed"):
        ours, anchor = figures.get(f"mesyx_{name}"), figures.get(f"dovecot_{name}")
        if ours and anchor:
            verdict = f" (target >= 1: {'meets' if ours >= anchor else 'misses'})" if name == "steady" else ""
            print(f"  imaptest {name}, Mesyx / Dovecot commands/s: {ours / anchor:.2f}{verdict}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=10_240)
    parser.add_argument("--select-messages", type=int, default=100_000)
    parser.add_argument("--idle-rounds", type=int, default=20)
    parser.add_argument("--load-secs", type=int, default=30)
    parser.add_argument("--only", action="append", choices=PARTS, help="a part to run (repeatable; default all)")
    parser.add_argument("--quick", action="store_true", help="1,000 messages, SELECT of 10,000, 10 s loads")
    parser.add_argument("--imaptest-build", help="imaptest build dir (default: the tests' cache)")
    parser.add_argument("--keep", action="store_true", help="keep the node home and logs")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.select_messages, args.load_secs, args.idle_rounds = 1_000, 10_000, 10, 10
    args.only = set(args.only or PARTS)
    return args


def main() -> None:
    args = parse_args()
    with workdir("mesyx-bench-imap-", keep=args.keep) as work:
        figures: dict[str, float] = {}
        print(f"bench/imap.py on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
              f"{os.getloadavg()[0]:.2f}, fsync {1000 * fsync_latency(work):.2f} ms; work dir {work}")
        home, base = init_home(work)
        passfile = work / "passphrase"
        subprocess.run([*mesyx_command(), "--home", str(home), "account", "add", LOAD_ACCOUNT,
                        "--passphrase-file", str(passfile)], check=True, stdout=subprocess.DEVNULL)
        with daemon(home, work) as proc:
            wait_port(base + 25, proc, "mesyx run")
            wait_port(base + 143, proc, "mesyx run (IMAP)")
            print(f"\nMesyx (node {home}, SMTP {base + 25}, IMAP {base + 143})")
            fill(base + 25, args.messages, args.size)
            have = args.messages
            if "fetch" in args.only:
                part_fetch(base, proc.pid, args.messages, figures)
            if "mbsync" in args.only:
                part_mbsync(base, proc.pid, work, args.messages, figures)
            if "idle" in args.only:
                part_idle(base, args.idle_rounds, figures)
                have += args.idle_rounds
            if "load" in args.only:
                part_load(base, home, work, args, figures)
            if "select" in args.only:
                part_select(base, proc.pid, have, args.select_messages, args.size, figures)
        summarise(figures)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
