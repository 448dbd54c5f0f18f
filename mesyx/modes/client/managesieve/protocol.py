"""ManageSieve's wire format (RFC 5804 section 4), sans-IO: bytes in, lines out, and back.

:class:`LineReader` is fed whatever the socket gave and returns the complete command
lines it found, each a tuple of :class:`Atom` (command names, numbers) and ``bytes``
(strings: quoted, or literals ``{N+}`` and ``{N}``). RFC 5804 section 4 has clients send
non-synchronizing literals only; a ``{N}`` from an older client is read the same way, with
no continuation, as Pigeonhole does. Work is bounded: a line (literals aside) of at most
``max_line`` octets, a literal of at most ``max_literal``; a larger literal up to
``max_discard`` is read and dropped and its command refused (:class:`Refused`), anything
larger, or an overlong line, ends the connection (:class:`Fatal`), since the client will
send those octets whatever the answer.

The encoders at the bottom write responses (section 1.3): ``OK``/``NO``/``BYE`` with an
optional response code and text, capability lines, and strings (quoted when short and
plain, a literal ``{N}`` otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, auto

__all__ = [
    "Atom", "Token", "Line", "Refused", "Fatal", "Event", "LineReader",
    "string", "response", "capability_lines", "MAX_LINE", "MAX_DISCARD",
]  # fmt: skip

#: Octets of a command line outside its literals (RFC 5804 bounds quoted strings at 1024).
MAX_LINE = 8192
#: A too-large literal up to this size is read and dropped; a larger one ends the connection.
MAX_DISCARD = 16 * 1024 * 1024


@dataclass(frozen=True)
class Atom:
    """An unquoted word: a command name or a number (ASCII, case kept)."""

    text: str


Token = Atom | bytes


@dataclass(frozen=True)
class Line:
    """One complete command line (or the client's answer to a SASL challenge)."""

    tokens: tuple[Token, ...]


@dataclass(frozen=True)
class Refused:
    """A line that was read to its end but cannot be served (bad syntax, literal too large);
    ``code`` is the response code to answer NO with, if any."""

    reason: str
    code: str | None = None


@dataclass(frozen=True)
class Fatal:
    """The stream cannot be read on: answer BYE and close."""

    reason: str


Event = Line | Refused | Fatal

# RFC 5804 section 4: ATOM-CHAR excludes SP, CTLs, '"', '(', ')', '\\', '{', '}' and 8-bit.
_ATOM = re.compile(rb"[!#-'*-\[\]-z|~]+")
_LITERAL = re.compile(rb"\{(\d{1,10})(\+?)\}\r?\n")
_LITERAL_AT_END = re.compile(rb"\{(\d{1,10})\+?\}\r?\n\Z")


class _State(Enum):
    LINE = auto()
    LITERAL = auto()
    SKIP = auto()  # to the end of a refused line
    DEAD = auto()


class LineReader:
    """Incremental command-line reader; see the module docstring."""

    def __init__(self, *, max_line: int = MAX_LINE, max_literal: int = 1 << 20, max_discard: int = MAX_DISCARD):
        self.max_line = max_line
        self.max_literal = max_literal
        self.max_discard = max_discard
        self._buffer = bytearray()
        self._state = _State.LINE
        self._tokens: list[Token] = []
        self._line_size = 0
        self._literal_left = 0
        self._literal: bytearray | None = None  # None while discarding
        self._refusal: Refused | None = None

    def take_buffered(self) -> bytes:
        """What was received but not read yet; dropped (STARTTLS: nothing sent in the clear
        before the handshake may count as sent under TLS, RFC 5804 section 2.2)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while self._state is not _State.DEAD:
            before = len(self._buffer), self._state
            event = self._step()
            if event is not None:
                events.append(event)
                if isinstance(event, Fatal):
                    self._state = _State.DEAD
            elif (len(self._buffer), self._state) == before:
                break  # needs more input
        return events

    # -- the states ----------------------------------------------------------------

    def _step(self) -> Event | None:
        if self._state is _State.LITERAL:
            return self._read_literal()
        if self._state is _State.SKIP:
            return self._skip()
        return self._read_token()

    def _skip(self) -> Event | None:
        """Drop the rest of a refused line, and the literals it announces: their octets
        are data, not commands."""
        end = self._buffer.find(b"\n")
        if end < 0:
            del self._buffer[:-24]  # keep what may be the start of a literal's marker
            return None
        literal = _LITERAL_AT_END.search(self._buffer, 0, end + 1)
        size = None if literal is None else int(literal.group(1))
        del self._buffer[: end + 1]
        if size is None:
            return self._end_line()
        if size > self.max_discard:
            return Fatal(f"a literal of {size} octets is too large")
        self._literal_left, self._literal, self._state = size, None, _State.LITERAL
        return None

    def _end_line(self) -> Event:
        event: Event = self._refusal if self._refusal is not None else Line(tuple(self._tokens))
        self._tokens, self._line_size, self._refusal = [], 0, None
        self._state = _State.LINE
        return event

    def _refuse(self, reason: str, code: str | None = None) -> None:
        if self._refusal is None:
            self._refusal = Refused(reason, code)
        self._state = _State.SKIP

    def _consume(self, count: int) -> bytes | Fatal:
        self._line_size += count
        if self._line_size > self.max_line:
            return Fatal(f"command line longer than {self.max_line} octets")
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken

    def _read_token(self) -> Event | None:
        buf = self._buffer
        while buf[:1] == b" ":
            if isinstance(self._consume(1), Fatal):
                return Fatal(f"command line longer than {self.max_line} octets")
        if not buf:
            return None
        first = buf[0]
        if buf[:2] == b"\r\n" or first == 0x0A:
            del buf[: 2 if first == 0x0D else 1]
            return self._end_line()
        if first == 0x0D:
            return None if len(buf) == 1 else self._bad("a line ends with CRLF")
        if first == 0x22:
            return self._read_quoted()
        if first == 0x7B:
            return self._start_literal()
        match = _ATOM.match(buf)
        if match is None:
            return self._bad(f"unexpected octet 0x{first:02x}")
        if match.end() == len(buf) and len(buf) <= self.max_line - self._line_size:
            return None  # the atom may go on in the next read
        taken = self._consume(match.end())
        if isinstance(taken, Fatal):
            return taken
        self._tokens.append(Atom(taken.decode("ascii")))
        return None

    def _bad(self, reason: str) -> Event | None:
        """Refuse the line with a syntax error; the rest of it is skipped."""
        self._refuse(f"syntax error: {reason}")
        return None

    def _read_quoted(self) -> Event | None:
        buf = self._buffer
        out = bytearray()
        i = 1
        while i < len(buf):
            octet = buf[i]
            if octet == 0x5C:  # backslash: only \" and \\ (QUOTED-SPECIALS)
                if i + 1 >= len(buf):
                    break
                if buf[i + 1] not in b'"\\':
                    return self._bad("in a quoted string, only \\\" and \\\\ are escapes")
                out.append(buf[i + 1])
                i += 2
            elif octet == 0x22:
                taken = self._consume(i + 1)
                if isinstance(taken, Fatal):
                    return taken
                self._tokens.append(bytes(out))
                return None
            elif octet in (0x0A, 0x0D, 0x00):
                return self._bad("a quoted string holds no CR, LF or NUL (send a literal)")
            else:
                out.append(octet)
                i += 1
        if len(buf) + self._line_size > self.max_line:
            return Fatal(f"command line longer than {self.max_line} octets")
        return None

    def _start_literal(self) -> Event | None:
        buf = self._buffer
        match = _LITERAL.match(buf)
        if match is None:
            if b"\n" in buf[:24] or len(buf) >= 24:
                return self._bad("a literal is {N+} followed by CRLF")
            return None
        size = int(match.group(1))  # before consuming: the match looks into the buffer
        taken = self._consume(match.end())
        if isinstance(taken, Fatal):
            return taken
        if size > self.max_discard:
            return Fatal(f"a literal of {size} octets is too large")
        self._literal_left = size
        self._literal = bytearray() if size <= self.max_literal else None
        self._state = _State.LITERAL
        return None

    def _read_literal(self) -> Event | None:
        chunk = self._buffer[: self._literal_left]
        del self._buffer[: len(chunk)]
        self._literal_left -= len(chunk)
        if self._literal is not None:
            self._literal += chunk
        if self._literal_left:
            return None
        self._state = _State.LINE
        if self._literal is None:
            self._refuse(f"a string is at most {self.max_literal} octets", "QUOTA/MAXSIZE")
        else:
            self._tokens.append(bytes(self._literal))
            self._literal = None
        return None


# -- responses ------------------------------------------------------------------------


def string(value: str | bytes) -> bytes:
    """A string as the server sends it: quoted when short and plain, else a literal."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    if len(data) <= 1024 and not any(c in data for c in b"\r\n\x00"):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(data) + data


def response(status: str, code: str | bytes | None = None, text: str | None = None) -> bytes:
    """``OK`` / ``NO`` / ``BYE``, ``(code)`` and a human-readable string (section 1.3)."""
    out = status.encode("ascii")
    if code:
        out += b" (" + (code.encode("ascii") if isinstance(code, str) else code) + b")"
    if text:
        out += b" " + string(text)
    return out + b"\r\n"


def capability_lines(capabilities: Iterable[tuple[str, str | None]]) -> bytes:
    """``"NAME" "value"`` lines (section 1.7), without the final OK."""
    return b"".join(
        string(name) + (b" " + string(value) if value is not None else b"") + b"\r\n" for name, value in capabilities
    )
