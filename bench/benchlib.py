"""What the benchmark scripts share: a node to measure, CPU from /proc, an SMTP load.

``ingest.py`` measures SMTP ingest with it and ``imap.py`` fills a mailbox with it before
measuring IMAP; the scripts import this module from their own folder.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "bench@mesyx.test"
PASSPHRASE = "bench-passphrase-not-secret"
#: Every listener offset of DESIGN.md, so that a chosen port base collides with nothing.
PORT_OFFSETS = (25, 80, 143, 443, 465, 587, 667, 993, 4190)
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: ``--mesyx-cmd``: how to run mesyx, split on blanks (empty: the venv's mesyx).
MESYX_CMD: list[str] = []


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


# --------------------------------------------------------------------------- a node to measure


@contextmanager
def workdir(prefix: str, *, keep: bool, parent: str | None = None) -> Iterator[Path]:
    """A scratch folder for one run, removed at the end unless ``keep`` (then printed)."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield work
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


@dataclass
class Cpu:
    """CPU seconds of a process (all threads) since :meth:`start`."""

    pid: int
    base: float = 0.0

    def start(self) -> Cpu:
        self.base = sum(proc_cpu(self.pid))
        return self

    @property
    def used(self) -> float:
        return sum(proc_cpu(self.pid)) - self.base


@contextmanager
def daemon(home: Path, work: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(work / "daemon.log", "ab") as log:
        proc = subprocess.Popen([*mesyx_command(), "--home", str(home), "run"], stdout=log, stderr=log)
    try:
        yield proc
    finally:
        stop(proc)


def fill(smtp_port: int, count: int, size: int) -> None:
    if count <= 0:
        return
    started = time.perf_counter()
    result = load(smtp_port, count, size, 8)
    if result.failures or result.accepted != count:
        raise SystemExit(f"filling the mailbox failed: {result.accepted} of {count}, {result.failures[:1]}")
    print(f"  filled            {count:,} messages of {size:,} bytes in {time.perf_counter() - started:.1f} s")


# --------------------------------------------------------------------------- IMAP IDLE


def read_until(sock: socket.socket, pattern: bytes, buffer: bytearray, timeout: float = 10.0) -> bytes:
    """Read until ``pattern`` arrives; return up to the end of its line, keep the rest."""
    deadline = time.monotonic() + timeout
    while pattern not in buffer:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("IMAP server closed the connection")
        buffer.extend(chunk)
    end = buffer.index(pattern) + len(pattern)
    line_end = buffer.find(b"\r\n", end)
    taken = bytes(buffer[: line_end + 2 if line_end >= 0 else end])
    del buffer[: len(taken)]
    return taken


def idle_delays(imap_port: int, smtp_port: int, rounds: int) -> list[float]:
    """Seconds from each SMTP ``250`` to the ``* n EXISTS`` of an IMAP session in IDLE on
    INBOX, for ``rounds`` messages, sorted (the SMTP and IMAP ports may be two nodes')."""
    import smtplib

    delays = []
    with socket.create_connection(("127.0.0.1", imap_port)) as sock:
        buffer = bytearray()
        read_until(sock, b"\r\n", buffer)
        sock.sendall(f'a LOGIN "{ACCOUNT}" "{PASSPHRASE}"\r\n'.encode())
        read_until(sock, b"a OK", buffer, 60)
        sock.sendall(b"b SELECT INBOX\r\nc IDLE\r\n")
        read_until(sock, b"b OK", buffer, 60)
        read_until(sock, b"+ ", buffer)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            for n in range(rounds):
                smtp.sendmail("idle@example.org", [ACCOUNT], make_message(900_000 + n, 2048))
                accepted = time.perf_counter()
                read_until(sock, b" EXISTS", buffer)
                delays.append(time.perf_counter() - accepted)
        sock.sendall(b"DONE\r\nd LOGOUT\r\n")
    return sorted(delays)
