"""Bad input over SMTP (issue 2, "Bad input").

Hypothesis writes SMTP sessions from valid commands and garbage, then mutates them: NUL
bytes, bare LF and bare CR, 8-bit and invalid UTF-8, overlong lines (1k-100k),
pipelined blasts of thousands of commands in one write, DATA with huge headers, DATA cut
off by closing the socket, lone dots and ``\\n.\\n``-style smuggling attempts, STARTTLS
followed by garbage. Each example runs against the real SMTP stack of ``mesyx run``
(``Daemon._serve`` on a uvloop loop in this process, see conftest.py) over real TCP
sockets on 127.0.0.1, its sessions one after another or all at once (so that their
messages share group commits), and checks:

- every command line gets exactly its reply (a model of the server's line reading predicts
  how many), every reply line is well-formed (RFC 5321 section 4.2), and the server
  closes only where it said it would (221, or 502 after too many unknown commands);
- no reply is an internal error, nothing is logged at error level, nothing reaches the
  loop's exception handler, the daemon still answers a fresh ``EHLO`` afterwards;
- every asyncio task of a session is gone within 10 s of the session's end;
- the store grows by exactly one envelope (and one put operation) per ``250 2.0.0``
  after DATA, each decrypts to exactly the bytes the client sent (after RFC 5321 section
  4.5.2 dot transparency), and nothing is stored for what was refused or cut off.

The explicit tests at the bottom are the regression examples of each category. For a
deeper search than the default 120 examples: ``MESYX_FUZZ_EXAMPLES=3000 pytest ...``.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket
import ssl
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import pytest
from aiosmtpd.smtp import BOGUS_LIMIT
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mesyx.modes.accept.smtp import MesyxSMTP
from mesyx.store.mailcrypt import read_message
from tests.robustness.conftest import WAIT, InProcessNode

# --------------------------------------------------------------------------- the model

#: Commands the server knows; anything else counts against aiosmtpd's budget of bogus
#: commands, after which it answers 502 and closes.
KNOWN = frozenset(name[5:].encode() for name in dir(MesyxSMTP) if name.startswith("smtp_"))
#: Lines longer than this are "too long" (500) before the command is even looked up.
COMMAND_LIMIT = MesyxSMTP.command_size_limit
#: Commands that change the session's mode; kept out of blasts except where meant.
MODAL = frozenset({b"DATA", b"QUIT", b"STARTTLS"})
#: RFC 5321 section 4.2: a code, then text of HT, SP and printable characters.
REPLY_LINE = re.compile(rb"[2-5][0-9][0-9](?:[ -][^\x00-\x08\x0a-\x1f\x7f]*)?\Z")
ACCEPTED = b"250 2.0.0 "


def switches_mode(line: bytes) -> bool:
    """DATA, QUIT or STARTTLS without an argument (with one they only get 501)."""
    word, _, arg = line.rstrip(b"\r\n").partition(b" ")
    return word.upper() in MODAL and not arg.strip()


def defuse(blast: bytes) -> bytes:
    """Turn every line of a blast that would switch modes into an unknown command."""
    parts = blast.split(b"\n")
    return b"\n".join([b"X" + p if switches_mode(p) else p for p in parts[:-1]] + parts[-1:])


def is_bogus(line: bytes) -> bool:
    """Whether the server counts this line (without its LF) as an unknown command."""
    stripped = line.rstrip(b"\r\n")
    if not stripped or len(stripped) > COMMAND_LIMIT:
        return False  # "500 bad syntax" / "500 Command line too long"
    word = stripped.partition(b" ")[0].upper()
    try:
        word.decode("ascii")
    except UnicodeDecodeError:
        return False  # "500 bad syntax"
    return word not in KNOWN


def expect_replies(blast: bytes, budget: int) -> tuple[int, bool, int]:
    """(final replies the blast must get, whether the server then closes, budget left).

    Command lines end at LF (a bare CR does not end one); each gets one final reply,
    however long or malformed, until the budget of unknown commands runs out.
    """
    lines = blast.split(b"\n")[:-1]
    for count, line in enumerate(lines, 1):
        if is_bogus(line):
            budget -= 1
            if budget < 1:
                return count, True, budget
    return len(lines), False, budget


def stuff(content: bytes) -> bytes:
    """Dot-stuffing as a correct client does it (RFC 5321 section 4.5.2)."""
    body = content.replace(b"\r\n.", b"\r\n..")
    return b"." + body if body.startswith(b".") else body


def unstuff(body: bytes) -> bytes:
    """What the server must store for a DATA body (before its terminating ``.CRLF``)."""
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in body.split(b"\r\n"))


def no_early_end(body: bytes) -> bytes:
    """Stuff only what would end DATA early, leaving every other odd dot alone."""
    if body.startswith(b".\r\n"):
        body = b"." + body
    while (at := body.find(b"\r\n.\r\n")) >= 0:
        body = body[: at + 2] + b"." + body[at + 2 :]
    return body


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Blast:
    """Command-mode bytes written at once (pipelined)."""

    data: bytes


@dataclass(frozen=True)
class Transaction:
    """MAIL/RCPT lines and DATA in one write; the body follows only if DATA got 354."""

    commands: bytes
    body: bytes  # what goes on the wire before the terminating ".\r\n"
    pieces: int = 1  # the body (and terminator) written in this many pieces
    truncate: int | None = None  # send only body[:truncate], then end the session
    cut: Literal["fin", "rst", "half"] = "fin"

    @property
    def expected(self) -> bytes:
        return unstuff(self.body)


End = Literal["quit", "close", "rst", "half", "starttls_garbage", "starttls_ok", "starttls_close"]


@dataclass(frozen=True)
class Session:
    steps: tuple[Blast | Transaction, ...]
    end: End = "quit"


@dataclass
class Outcome:
    accepted: list[bytes] = field(default_factory=list)  # stored content of each 250 2.0.0
    finals: list[bytes] = field(default_factory=list)  # every final reply, in order


class Client:
    """A raw SMTP client that writes and reads at once, so a blast can never deadlock
    against the server's replies, and keeps every reply line."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.pending = b""
        self.lines: list[bytes] = []
        self.finals: list[bytes] = []
        self.eof = False
        self.write_failed = False

    def transcript(self) -> str:
        return "\n".join(repr(line[:200]) for line in self.lines[-30:])

    def _received(self, data: bytes) -> None:
        self.pending += data
        *complete, self.pending = self.pending.split(b"\r\n")
        for line in complete:
            assert REPLY_LINE.match(line), f"malformed reply line {line[:200]!r}\n{self.transcript()}"
            # Rate limits are off and the store is healthy: a 451 here means a bug.
            assert not line.startswith(b"451") and not line.startswith(b"500 Error: ("), (
                f"internal error for bad input: {line!r}\n{self.transcript()}"
            )
            self.lines.append(line)
            if len(line) == 3 or line[3:4] == b" ":
                self.finals.append(line)

    def _read(self) -> None:
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except (ConnectionResetError, ConnectionAbortedError):
            data = b""
        if data:
            self._received(data)
        else:
            self.eof = True

    def exchange(self, data: bytes, finals: int, timeout: float = WAIT) -> list[bytes]:
        """Write ``data`` while reading; return once ``finals`` more final replies came
        (or the server closed, or nothing moved for ``timeout`` s): the new finals."""
        start = len(self.finals)
        view = memoryview(data)
        sent = 0
        deadline = time.monotonic() + timeout
        while not self.eof:
            writing = sent < len(data) and not self.write_failed
            if not writing and len(self.finals) - start >= finals:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            readable, writable, _ = select.select([self.sock], [self.sock] if writing else [], [], remaining)
            if writable:
                try:
                    sent += self.sock.send(view[sent : sent + (1 << 16)])
                    deadline = time.monotonic() + timeout
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    self.write_failed = True
            if readable:
                before = len(self.lines)
                self._read()
                if len(self.lines) != before:
                    deadline = time.monotonic() + timeout
        if len(self.finals) - start < finals:
            # One last look: the replies may sit in the buffer beside the EOF.
            self._drain(0.0)
        return self.finals[start:]

    def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.eof:
            readable, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                return
            self._read()

    def wait_eof(self) -> bool:
        """Read (keeping replies) until the server closes; False after WAIT seconds."""
        self._drain(WAIT)
        return self.eof

    def close(self, how: Literal["fin", "rst", "half"] = "fin") -> None:
        try:
            if how == "rst":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif how == "half":
                self.sock.shutdown(socket.SHUT_WR)
                assert self.wait_eof(), "the server did not close after the client's EOF"
        except OSError:
            pass
        finally:
            self.sock.close()

    def starttls(self, garbage: bytes | None) -> None:
        """After ``220`` to STARTTLS: a real handshake, EHLO and QUIT over TLS, or garbage."""
        self.sock.setblocking(True)
        self.sock.settimeout(WAIT)
        if garbage is not None:
            with contextlib.suppress(OSError):
                self.sock.sendall(garbage)
            self.sock.setblocking(False)
            assert self.wait_eof(), "the server did not close after a failed TLS handshake"
            self.sock.close()
            return
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(self.sock) as tls:
            tls.sendall(b"EHLO tls.example\r\n")
            reply = b""
            while not re.search(rb"(?:^|\r\n)250 [^\r\n]*\r\n\Z", reply):
                chunk = tls.recv(4096)
                assert chunk, f"no EHLO reply over TLS: {reply!r}"
                reply += chunk
            tls.sendall(b"QUIT\r\n")
            assert tls.recv(4096).startswith(b"221"), "no 221 to QUIT over TLS"


def run_session(port: int, session: Session) -> Outcome:
    """Play one session, checking each reply count against the model."""
    client = Client(port)
    outcome = Outcome()
    try:
        banner = client.exchange(b"", 1)
        assert banner and banner[0].startswith(b"220 "), f"no banner: {banner!r}"
        budget = BOGUS_LIMIT
        for step in session.steps:
            commands = step.data if isinstance(step, Blast) else step.commands
            want, closes, budget = expect_replies(commands, budget)
            got = client.exchange(commands, want)
            outcome.finals += got
            if closes:
                assert len(got) >= want and got[want - 1].startswith(b"502"), (
                    f"expected {want} replies, the last a 502 goodbye, got {got!r}\n{client.transcript()}"
                )
                assert client.wait_eof(), "the server did not close after its 502 goodbye"
                return outcome
            assert len(got) == want, (
                f"sent {want} command lines, got {len(got)} final replies\nsent {commands[:300]!r}\n"
                f"{client.transcript()}"
            )
            if isinstance(step, Blast) or not got[-1].startswith(b"354"):
                continue
            if step.truncate is not None:
                client.exchange(step.body[: step.truncate], 0)
                client.close(step.cut)
                assert len(client.finals) == len(outcome.finals) + 1, (  # the banner
                    f"a reply in the middle of DATA: {client.transcript()}"
                )
                return outcome
            payload = step.body + b".\r\n"
            size = -(-len(payload) // step.pieces)
            pieces = [payload[at : at + size] for at in range(0, len(payload), size)]
            for piece in pieces[:-1]:
                client.exchange(piece, 0)
            got = client.exchange(pieces[-1], 1)
            outcome.finals += got
            assert len(got) == 1, f"one reply to the end of DATA, got {got!r}\n{client.transcript()}"
            if got[0].startswith(ACCEPTED):
                outcome.accepted.append(step.expected)
            else:
                assert got[0][:1] in b"45", f"end of DATA: neither 250 2.0.0 nor a refusal: {got[0]!r}"
        _end(client, session.end)
    finally:
        client.sock.close()
    return outcome


def _end(client: Client, end: End) -> None:
    if end == "quit":
        got = client.exchange(b"QUIT\r\n", 1)
        assert got and got[0].startswith(b"221"), f"QUIT: {got!r}\n{client.transcript()}"
        assert client.wait_eof(), "the server did not close after 221"
    elif end in ("close", "rst", "half"):
        client.close("fin" if end == "close" else end)  # type: ignore[arg-type]
    else:
        got = client.exchange(b"STARTTLS\r\n", 1)
        assert len(got) == 1, f"STARTTLS: {got!r}\n{client.transcript()}"
        if not got[0].startswith(b"220"):
            return
        if end == "starttls_close":
            client.close("fin")
        else:
            client.starttls(b"EHLO plain.example\r\n\x16\x03\x01\x00\x05hello" if end == "starttls_garbage" else None)


# --------------------------------------------------------------------------- checks


def probe(port: int) -> None:
    """A fresh session still gets a banner and an EHLO reply."""
    client = Client(port)
    try:
        assert client.exchange(b"", 1)[:1] and client.finals[0].startswith(b"220 "), "no banner"
        got = client.exchange(b"EHLO probe.example\r\n", 1)
        assert got and got[0].startswith(b"250 "), f"EHLO after the fuzzing: {got!r}"
        _end(client, "quit")
    finally:
        client.sock.close()


def play(node: InProcessNode, sessions: list[Session], *, parallel: bool = False) -> list[Outcome]:
    """Run the sessions (one after another, or all at once so that their messages share
    group commits) and check everything the module promises."""
    before = node.counts()
    known = set(node.envelope_ids())
    mark = node.error_mark()
    if parallel and len(sessions) > 1:
        with ThreadPoolExecutor(len(sessions)) as pool:
            outcomes = list(pool.map(lambda session: run_session(node.port, session), sessions))
    else:
        outcomes = [run_session(node.port, session) for session in sessions]
    probe(node.port)
    node.wait_no_extra_tasks()
    node.check_alive(mark)
    accepted = [content for outcome in outcomes for content in outcome.accepted]
    after = node.counts()
    assert after["envelopes"] - before["envelopes"] == len(accepted), (
        f"{after['envelopes'] - before['envelopes']} envelopes stored for {len(accepted)} messages accepted"
    )
    assert after["operations"] - before["operations"] == len(accepted)
    assert node.store is not None and node.unlocked is not None
    raws = [read_message(node.store, node.unlocked, i)[1] for i in node.envelope_ids() if i not in known]
    for content in accepted:
        match = [raw for raw in raws if raw.endswith(content) and raw.startswith(b"Return-Path: ")]
        assert match, f"no stored message holds exactly what was sent: {content[:200]!r}"
        # The trace headers are what accept adds; everything after is the client's.
        raws.remove(min(match, key=len))
    return outcomes


# --------------------------------------------------------------------------- strategies

GOOD_RCPTS = [b"alice@mesyx.test", b"ALICE@Mesyx.Test", b"alice+lists@mesyx.test", b"alice+a+b@mesyx.test"]
BAD_RCPTS = [
    b"nobody@mesyx.test", b"bob@elsewhere.test", b"", b"alice", b"@mesyx.test", b"alice@",
    b"al\x00ice@mesyx.test", b"\xffalice@mesyx.test", b"alice@mesyx.test\xfe", b"x" * 300 + b"@mesyx.test",
    b'"quoted local"@mesyx.test', b"alice@[127.0.0.1]", b"<alice@mesyx.test>", b"alice@mesyx.test> X=1",
    b"\xc3\xa4lice@mesyx.test", b"alice@m\xc3\xa9syx.test",
]  # fmt: skip
SENDERS = [
    b"sender@example.org", b"", b"s\xc3\xa9nder@example.org", b"\xff\xfe@example.org", b"a\x00b@example.org",
    b"x" * 70 + b"@example.org", b"sender@example.org> SIZE=100", b"a\rb@example.org", b"a b@example.org",
    b"\xed\xa0\x80@example.org", b"sender@[::1]",
]  # fmt: skip
MAIL_PARAMS = [b"", b"", b" SIZE=1000", b" BODY=8BITMIME", b" SMTPUTF8", b" SIZE=99999999999", b" FOO=bar",
               b" SIZE=abc", b" BODY=BINARYMIME", b" SMTPUTF8=yes", b" SIZE"]
OTHER_LINES = [
    b"EHLO fuzz.example", b"HELO fuzz.example", b"EHLO", b"HELO", b"EHLO \xff\xfe", b"RSET", b"RSET x",
    b"NOOP", b"NOOP hello", b"HELP", b"HELP MAIL", b"HELP \xff", b"VRFY alice@mesyx.test",
    b"VRFY <nobody@mesyx.test>", b"VRFY \xff\xfe", b"VRFY @\xff", b"VRFY @a\rb", b"VRFY alice@", b"VRFY <@[",
    b"VRFY", b"EXPN list",
    b"AUTH PLAIN AGFsaWNlAHB3", b"AUTH LOGIN", b"AUTH", b"BDAT 10 LAST", b"XCLIENT ADDR=1.2.3.4", b"", b" ",
    b"\x00", b"GET / HTTP/1.1", b"Host: mesyx.test", b"DATA x", b"QUIT now", b"STARTTLS now", b"MAIL", b"RCPT",
    b"MAIL TO:<a@b.c>",
    b"RCPT FROM:<alice@mesyx.test>",
]  # fmt: skip
ODD_BYTES = [b"\xff", b"\xc3", b"\x80\x80", b"\xed\xa0\x80", b"\xe2\x80\xa8", b"\xf4\x90\x80\x80", b"\xc0\xaf"]
LONG = [500, 513, 998, 1000, 1001, 1002, 4096, 65536, 100_000]
TERMINATORS = [b"\r\n"] * 8 + [b"\n", b"\r\r\n", b"\n\r\n"]


@st.composite
def mutate(draw: st.DrawFn, line: bytes) -> bytes:
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["nul", "lf", "cr", "8bit", "long", "lower", "space"]))
        at = draw(st.integers(0, len(line)))
        if kind == "nul":
            line = line[:at] + b"\x00" + line[at:]
        elif kind == "lf":
            line = line[:at] + b"\n" + line[at:]
        elif kind == "cr":
            line = line[:at] + b"\r" + line[at:]
        elif kind == "8bit":
            line = line[:at] + draw(st.sampled_from(ODD_BYTES)) + line[at:]
        elif kind == "long":
            line = line[:at] + b"A" * draw(st.sampled_from(LONG)) + line[at:]
        elif kind == "lower":
            line = line.lower()
        else:
            line = draw(st.sampled_from([b"  " + line, line + b"   ", line.replace(b":", b": ")]))
    return line + draw(st.sampled_from(TERMINATORS))


def mail_line() -> st.SearchStrategy[bytes]:
    return st.builds(lambda a, p: b"MAIL FROM:<" + a + b">" + p, st.sampled_from(SENDERS), st.sampled_from(MAIL_PARAMS))


def rcpt_line() -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda a: b"RCPT TO:<" + a + b">",
        st.one_of(st.sampled_from(GOOD_RCPTS), st.sampled_from(GOOD_RCPTS), st.sampled_from(BAD_RCPTS)),
    )


def any_line() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from(OTHER_LINES), mail_line(), rcpt_line(),
        st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    )  # fmt: skip


@st.composite
def blasts(draw: st.DrawFn) -> Blast:
    if draw(st.integers(0, 5)) == 0:  # a flood of valid commands in one write
        unit = draw(st.sampled_from([b"NOOP\r\n", b"RSET\r\n", b"NOOP\r\nRSET\r\nHELP\r\n", b"VRFY x@y.z\n"]))
        return Blast(unit * draw(st.sampled_from([50, 500, 3000])))
    lines = draw(st.lists(any_line().flatmap(mutate), min_size=1, max_size=10))
    return Blast(defuse(b"".join(lines)))


FRAGMENTS = [
    b"\r\n", b"\n", b"\r", b".", b"..", b".\r\n", b"\r\n.\r\n", b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n",
    b"\r\n.\n", b"\r\n.\r", b"\r\n..\r\n", b"\x00", b"\xff\xfe", b"\xc3\xa4", b"MAIL FROM:<evil@evil.test>\r\n",
    b"RCPT TO:<alice@mesyx.test>\r\n", b"DATA\r\n", b"QUIT\r\n", b"Subject: injected\r\n", b"\r\n\r\n",
    b"hello world", b"\t", b" ",
]  # fmt: skip


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    headers = b"From: <sender@example.org>\r\nTo: <alice@mesyx.test>\r\nSubject: fuzz\r\n"
    extra = draw(st.sampled_from(["none", "none", "none", "long", "folded", "many"]))
    if extra == "long":  # one header line: up to 1001 bytes fits, longer is refused
        headers += b"X-Long: " + b"h" * draw(st.sampled_from([980, 990, 991, 992, 5000, 1_000_000])) + b"\r\n"
    elif extra == "folded":  # a huge header folded into legal lines
        headers += b"X-Folded: " + b"\r\n\t".join([b"f" * 900] * draw(st.sampled_from([3, 100, 1100]))) + b"\r\n"
    elif extra == "many":
        headers += b"".join(b"X-H%d: v\r\n" % i for i in range(draw(st.sampled_from([100, 5000]))))
    body = b"".join(draw(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=30)), max_size=25)))
    content = headers + b"\r\n" + body
    return content if content.endswith(b"\r\n") else content + b"\r\n"


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    # Mostly a sender and a recipient that pass, so that many examples reach DATA.
    if draw(st.integers(0, 2)):
        commands = b"MAIL FROM:<sender@example.org>" + draw(st.sampled_from(MAIL_PARAMS[:5])) + b"\r\n"
    else:
        commands = draw(mail_line().flatmap(mutate))
    rcpts = draw(st.lists(rcpt_line().flatmap(mutate), min_size=0, max_size=3))
    if draw(st.integers(0, 3)):
        rcpts.insert(draw(st.integers(0, len(rcpts))), b"RCPT TO:<" + draw(st.sampled_from(GOOD_RCPTS)) + b">\r\n")
    commands = defuse(commands + b"".join(rcpts)) + draw(st.sampled_from([b"DATA\r\n", b"DATA\r\n", b"data\n"]))
    content = draw(contents())
    # A proper client stuffs dots; a raw one sends the bytes as they are (smuggling tries).
    body = stuff(content) if draw(st.booleans()) else no_early_end(content)
    truncate = None
    if draw(st.integers(0, 5)) == 0:
        truncate = draw(st.integers(0, max(0, len(body) - 1)))
    return Transaction(
        commands, body, pieces=draw(st.sampled_from([1, 1, 1, 2, 7, 30])), truncate=truncate,
        cut=draw(st.sampled_from(["fin", "rst", "half"])),
    )  # fmt: skip


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    steps: list[Blast | Transaction] = []
    if draw(st.integers(0, 4)):
        steps.append(Blast(draw(st.sampled_from([b"EHLO fuzz.example\r\n", b"HELO fuzz.example\r\n", b"ehlo x\n"]))))
    steps += draw(st.lists(st.one_of(blasts(), transactions(), transactions()), min_size=0, max_size=4))
    end = draw(st.sampled_from(["quit", "quit", "quit", "close", "rst", "half", "starttls_garbage",
                                "starttls_ok", "starttls_close"]))
    return Session(tuple(steps), end)


@settings(
    # MESYX_FUZZ_EXAMPLES=2000 for a deeper run; the default keeps the file well under 90 s.
    max_examples=int(os.environ.get("MESYX_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(st.lists(sessions(), min_size=1, max_size=4), st.booleans())
def test_generated_sessions(inprocess_node: InProcessNode, generated: list[Session], parallel: bool) -> None:
    outcomes = play(inprocess_node, generated, parallel=parallel)
    # What the examples reached (see pytest --hypothesis-show-statistics).
    event(f"messages stored: {min(accepted_count(outcomes), 3)}")
    for session, outcome in zip(generated, outcomes, strict=True):
        event(f"end {session.end}")
        for final in outcome.finals:
            event(f"reply {final[:3].decode()}")


# --------------------------------------------------------------------------- regressions

EHLO = Blast(b"EHLO regress.example\r\n")
ENVELOPE = b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@mesyx.test>\r\nDATA\r\n"
PLAIN = b"From: <sender@example.org>\r\nTo: <alice@mesyx.test>\r\nSubject: regression\r\n\r\nhello\r\n"


def accepted_count(outcomes: list[Outcome]) -> int:
    return sum(len(o.accepted) for o in outcomes)


def finals_of(outcomes: list[Outcome]) -> list[bytes]:
    return [f for o in outcomes for f in o.finals]


@pytest.mark.parametrize(
    "line",
    [b"NOOP " + b"A" * 1000, b"NOOP " + b"A" * 1024, b"X" * 100_000, b"MAIL FROM:<" + b"a" * 5000 + b"@x.test>",
     b"EHLO " + b"h" * 600, b"VRFY " + b"v" * 65536],
    ids=["1000", "1k", "100k-garbage", "long-mail", "long-ehlo", "64k-vrfy"],
)  # fmt: skip
def test_long_command_lines(inprocess_node: InProcessNode, line: bytes) -> None:
    outcome = play(inprocess_node, [Session((EHLO, Blast(line + b"\r\nNOOP\r\n")))])[0]
    assert outcome.finals[1].startswith(b"500"), outcome.finals
    assert outcome.finals[2].startswith(b"250"), outcome.finals


def test_bare_lf_and_bare_cr_in_commands(inprocess_node: InProcessNode) -> None:
    """LF alone ends a command line; CR alone does not (the line is then one garbage line)."""
    commands = b"EHLO lf.example\nMAIL FROM:<sender@example.org>\nRCPT TO:<alice@mesyx.test>\nDATA\n"
    outcomes = play(inprocess_node, [
        Session((Transaction(commands, stuff(PLAIN)),)),
        Session((EHLO, Blast(b"NOOP\rNOOP\rNOOP\r\n"), Blast(b"NOOP\r\r\r\n"))),
    ])  # fmt: skip
    assert accepted_count(outcomes) == 1
    # "NOOP\rNOOP\rNOOP" is one unknown command; "NOOP\r\r\r" is NOOP.
    assert outcomes[1].finals[1].startswith(b"500") and outcomes[1].finals[2].startswith(b"250")


def test_bare_lf_dot_does_not_end_data(inprocess_node: InProcessNode) -> None:
    """A body ending in ``\\n.\\n`` is not complete: no reply, and nothing stored when
    the client then gives up."""
    client = Client(inprocess_node.port)
    before = inprocess_node.counts()["envelopes"]
    try:
        client.exchange(b"", 1)
        assert client.exchange(b"EHLO x.example\r\n" + ENVELOPE, 4)[-1].startswith(b"354")
        assert client.exchange(PLAIN + b"\n.\n", 1, timeout=0.5) == [], "\\n.\\n ended DATA"
        client.close("fin")
    finally:
        client.sock.close()
    play(inprocess_node, [])
    assert inprocess_node.counts()["envelopes"] == before


@pytest.mark.parametrize("place", ["command", "sender", "recipient", "body", "header"])
def test_nul_bytes(inprocess_node: InProcessNode, place: str) -> None:
    mail, rcpt, content = b"MAIL FROM:<sender@example.org>", b"RCPT TO:<alice@mesyx.test>", PLAIN
    steps: list[Blast | Transaction] = [EHLO]
    if place == "command":
        steps.append(Blast(b"NO\x00OP\r\n\x00\r\nNOOP \x00\r\n"))
    elif place == "sender":
        mail = b"MAIL FROM:<sen\x00der@example.org>"
    elif place == "recipient":
        rcpt = b"RCPT TO:<ali\x00ce@mesyx.test>\r\nRCPT TO:<alice@mesyx.test>"
    elif place == "body":
        content = PLAIN + b"nul\x00inside\r\n\x00\r\n"
    else:
        content = b"Subject: a\x00b\r\nX-Nul: \x00\r\n" + PLAIN
    steps.append(Transaction(mail + b"\r\n" + rcpt + b"\r\nDATA\r\n", stuff(content)))
    outcomes = play(inprocess_node, [Session(tuple(steps))])
    if place in ("body", "header", "recipient", "command"):
        assert accepted_count(outcomes) == 1, finals_of(outcomes)


@pytest.mark.parametrize(
    "sender",
    [b"\xff\xfe@example.org", b"\xed\xa0\x80@example.org", b"s\xc3\xa9nder@example.org", b"\xc3@example.org"],
    ids=["invalid", "surrogate", "utf8", "truncated-utf8"],
)
def test_eight_bit_senders(inprocess_node: InProcessNode, sender: bytes) -> None:
    """8-bit envelope senders get a reply that is not an internal error, and valid UTF-8
    is stored as sent."""
    step = Transaction(b"MAIL FROM:<" + sender + b"> SMTPUTF8\r\nRCPT TO:<alice@mesyx.test>\r\nDATA\r\n", stuff(PLAIN))
    outcomes = play(inprocess_node, [Session((EHLO, step))])
    if sender == b"s\xc3\xa9nder@example.org":
        assert accepted_count(outcomes) == 1, finals_of(outcomes)


def test_eight_bit_arguments_are_answered(inprocess_node: InProcessNode) -> None:
    """Commands whose reply echoes the argument (VRFY, HELP) with invalid UTF-8 in it."""
    lines = [b"VRFY \xff\xfe", b"HELP \xff", b"VRFY <\xed\xa0\x80>", b"EHLO \xff", b"VRFY @\xff", b"VRFY (\xc3"]
    play(inprocess_node, [Session((EHLO, Blast(b"\r\n".join(lines) + b"\r\n")))])


@pytest.mark.parametrize("address", [b"alice@", b"<@[", b"@[", b"<a@b.c@", b"alice@mesyx.test@"])
def test_addresses_the_parser_chokes_on(inprocess_node: InProcessNode, address: bytes) -> None:
    """The stdlib parser behind aiosmtpd raises IndexError / UnboundLocalError for these."""
    lines = [b"VRFY " + address, b"MAIL FROM:" + address, b"MAIL FROM:<sender@example.org>", b"RCPT TO:" + address]
    play(inprocess_node, [Session((EHLO, Blast(b"\r\n".join(lines) + b"\r\n")))])


def test_pipelined_flood(inprocess_node: InProcessNode) -> None:
    """Ten thousand commands in one write, and twenty whole transactions in another."""
    play(inprocess_node, [Session((EHLO, Blast(b"NOOP\r\nRSET\r\n" * 5000)))])
    client = Client(inprocess_node.port)
    before = inprocess_node.counts()["envelopes"]
    try:
        client.exchange(b"", 1)
        blast = b"EHLO flood.example\r\n" + (ENVELOPE + stuff(PLAIN) + b".\r\n") * 20 + b"QUIT\r\n"
        got = client.exchange(blast, 1 + 4 * 20 + 1)
        assert len(got) == 82 and got[-1].startswith(b"221"), client.transcript()
        assert sum(1 for g in got if g.startswith(ACCEPTED)) == 20
    finally:
        client.sock.close()
    play(inprocess_node, [])
    assert inprocess_node.counts()["envelopes"] == before + 20


def test_too_many_unknown_commands(inprocess_node: InProcessNode) -> None:
    play(inprocess_node, [Session((EHLO, Blast(b"FOO\r\n" * (BOGUS_LIMIT + 3))))])


@pytest.mark.parametrize("cut", ["fin", "rst", "half"])
@pytest.mark.parametrize("where", [0, 1, 50, -1])
def test_truncated_data(inprocess_node: InProcessNode, cut: Literal["fin", "rst", "half"], where: int) -> None:
    body = stuff(PLAIN + b"line\r\n" * 100)
    step = Transaction(ENVELOPE, body, truncate=where % len(body), cut=cut)
    outcomes = play(inprocess_node, [Session((EHLO, step))])
    assert accepted_count(outcomes) == 0


@pytest.mark.parametrize(
    "content, accepted",
    [
        (b"X-Huge: " + b"h" * 1_000_000 + b"\r\n" + PLAIN, False),  # one 1 MB header line: 500
        (b"X-Folded: " + b"\r\n\t".join([b"f" * 900] * 1100) + b"\r\n" + PLAIN, True),  # 1 MB, folded
        (b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)) + PLAIN, True),  # 20k headers
        (b"X-Edge: " + b"e" * (999 - 8) + b"\r\n" + PLAIN, True),  # 999 + CRLF: the longest line
        (b"X-Edge: " + b"e" * (1000 - 8) + b"\r\n" + PLAIN, False),  # 1000 + CRLF: too long
        (b"X-Big: b\r\n\r\n" + b"b" * 998 + b"\r\n" + (b"b" * 998 + b"\r\n") * 3100, False),  # over 3 MB: 552
    ],
    ids=["1MB-line", "1MB-folded", "20k-headers", "longest-line", "line-too-long", "over-size"],
)
def test_huge_headers(inprocess_node: InProcessNode, content: bytes, accepted: bool) -> None:
    outcomes = play(inprocess_node, [Session((EHLO, Transaction(ENVELOPE, stuff(content), pieces=3)))])
    assert accepted_count(outcomes) == int(accepted), finals_of(outcomes)[-1:]


def test_lone_dots(inprocess_node: InProcessNode) -> None:
    """Dot-stuffed lines come back unstuffed; dots not after CRLF stay as they are."""
    content = PLAIN + b".\r\n..\r\n...\r\n.x\r\n. \r\nend.\r\n.\r\n"
    body = stuff(content)
    assert b"\r\n.\r\n" not in body
    outcomes = play(inprocess_node, [Session((EHLO, Transaction(ENVELOPE, body)))])
    assert outcomes[0].accepted == [content]


SMUGGLE = [b"\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n", b"\r\n.\r", b"\r.\r", b"\n..\n", b"\r\n.\x00\r\n"]


@pytest.mark.parametrize("marker", SMUGGLE, ids=[repr(m)[2:-1] for m in SMUGGLE])
def test_smuggling_does_not_end_data(inprocess_node: InProcessNode, marker: bytes) -> None:
    """SMTP smuggling: an end-of-data look-alike followed by a second transaction inside
    one DATA body must not end the message early, and no second message appears."""
    eol = b"\r\n" if marker.endswith(b"\r\n") else marker[-1:]
    injected = eol.join([b"MAIL FROM:<evil@evil.test>", b"RCPT TO:<alice@mesyx.test>", b"DATA",
                         b"Subject: injected", b"", b"smuggled", b""])  # fmt: skip
    content = PLAIN + b"before" + marker + injected + (b"" if eol == b"\r\n" else b"\r\n")
    body = no_early_end(content)
    outcomes = play(inprocess_node, [Session((EHLO, Transaction(ENVELOPE, body)))])
    # One transaction's worth of replies was checked by play(); exactly one message:
    assert len(outcomes[0].accepted) == 1, finals_of(outcomes)
    stored = outcomes[0].accepted[0]
    assert b"smuggled" in stored and b"MAIL FROM:<evil@evil.test>" in stored


@pytest.mark.parametrize("end", ["starttls_garbage", "starttls_ok", "starttls_close"])
def test_starttls(inprocess_node: InProcessNode, end: End) -> None:
    play(inprocess_node, [Session((EHLO,), end), Session((), end)])


def test_client_gone_right_after_the_end_of_data(inprocess_node: InProcessNode) -> None:
    """A client that resets the connection as soon as it sent the final dot, while its
    message is being committed: no error, no task left, each message stored once or not
    at all (it never saw a 250, so it will send again: SMTP allows the duplicate)."""
    node = inprocess_node
    attempts = 20
    before = node.counts()["envelopes"]
    for attempt in range(attempts):
        mark = node.error_mark()
        client = Client(node.port)
        try:
            client.exchange(b"", 1)
            assert client.exchange(b"EHLO gone.example\r\n" + ENVELOPE, 4)[-1].startswith(b"354")
            client.exchange(stuff(PLAIN) + b".\r\n", 0)
            if attempt % 2:
                time.sleep(0.0005 * attempt)
            client.close("rst")
        finally:
            client.sock.close()
        node.wait_no_extra_tasks()
        node.check_alive(mark)
    # A message its session no longer waits for may still be in the group committer;
    # one acknowledged after it means it is committed too (one queue, one writer).
    client = Client(node.port)
    try:
        client.exchange(b"", 1)
        got = client.exchange(b"EHLO after.example\r\n" + ENVELOPE + stuff(PLAIN) + b".\r\nQUIT\r\n", 6)
        assert got[4].startswith(ACCEPTED), client.transcript()
    finally:
        client.sock.close()
    assert 1 <= node.counts()["envelopes"] - before <= attempts + 1
    play(node, [])


def test_leak_check_sees_open_sessions(inprocess_node: InProcessNode) -> None:
    """The task check is not vacuous: an open session is a task until it closes."""
    client = Client(inprocess_node.port)
    try:
        client.exchange(b"", 1)
        assert inprocess_node.extra_tasks(), "an open session left no trace among the loop's tasks"
    finally:
        client.close()
    inprocess_node.wait_no_extra_tasks()
