"""The incremental, sans-IO command reader: bytes in, events out.

:class:`CommandReader` frames the client's stream into commands (RFC 3501 / RFC 9051
section 2.2: lines ending in CRLF, with literals ``{n}`` in between) and parses each one.
Nothing here reads a socket: the server calls :meth:`CommandReader.feed` with what it
received and acts on each event:

* a :class:`~mesyx.proto.imap.commands.Command` subclass (``Fetch``, ``Login``...), with its tag;
* :class:`NeedContinuation`: the client announced a synchronizing literal ``{n}`` and waits
  for ``+`` before it sends the data (RFC 9051 section 7.5). A non-synchronizing literal
  ``{n+}`` (RFC 7888) gives no event;
* :class:`BadCommand`: a malformed or over-limit command, to be answered ``tag BAD``
  (``* BAD`` when no tag could be read) or, for an APPEND message over the size limit,
  ``tag NO [TOOBIG]`` (RFC 9051 section 7.1, RFC 7889), and a name to create (CREATE,
  RENAME target, SUBSCRIBE) that is not valid modified UTF-7 ``tag NO [CANNOT]``
  (RFC 3501 section 5.1.3). The reader then skips the rest of
  that command, literals included, and resynchronises at the next command;
* :class:`ContinuationLine`: after :meth:`CommandReader.expect_continuation_line`, the next
  line as is (an AUTHENTICATE response, RFC 9051 section 6.2.2, or IDLE's ``DONE``, RFC 2177).

Events are produced lazily, one per step of the iterator, so a state change the server
makes between two events (UTF8=ACCEPT on, expecting a continuation line, taking the buffer
back for COMPRESS or STARTTLS) applies to everything after. Any input gives commands or
BadCommand events; no exception escapes :meth:`feed`, :meth:`events` or :meth:`next_event`.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from mesyx.errors import MesyxError, UsageError
from mesyx.proto.imap.commands import Command
from mesyx.proto.imap.errors import ImapSyntaxError, ImapTooBig, MailboxNameError, UnknownCharset
from mesyx.proto.imap.parse_commands import parse_command, peek_command
from mesyx.proto.imap.scanner import ANNOUNCEMENT, LiteralPending

__all__ = [
    "CommandReader",
    "ReaderLimits",
    "NeedContinuation",
    "BadCommand",
    "ContinuationLine",
    "Event",
    "LITERAL_MINUS_MAX",
]

#: The largest non-synchronizing literal LITERAL- allows (RFC 7888 section 4).
LITERAL_MINUS_MAX: Final = 4096
_TAIL: Final = 32  # enough for the longest literal announcement "~{<20 digits>+}"
#: The code of a name that cannot be a mailbox's (RFC 5530 section 3), answered ``NO`` as
#: Dovecot does: the command is well formed, the name is what cannot be used.
_CANNOT: Final = "CANNOT"


@dataclass(frozen=True, slots=True)
class ReaderLimits:
    """Sizes the reader accepts; anything larger is refused with a BadCommand (TOOBIG).

    * ``max_line``: one line outside literals (RFC 9051 section 4 asks servers to accept
      at least 8000 octets);
    * ``max_message_literal``: one APPEND message or CATENATE TEXT literal;
    * ``max_append``: all message literals of one (MULTI)APPEND together;
    * ``max_string_literal``: any other literal (a password, a search string, a name);
    * ``max_command``: lines and string literals of one command together;
    * ``max_literals``: literals in one command;
    * ``max_depth``: nesting of parentheses and NOT/OR in search keys.
    """

    max_line: int = 64 * 1024
    max_message_literal: int = 64 * 1024 * 1024
    max_append: int = 256 * 1024 * 1024
    max_string_literal: int = 64 * 1024
    max_command: int = 1024 * 1024
    max_literals: int = 1000
    max_depth: int = 64

    def __post_init__(self) -> None:
        if self.max_line < 1024:
            raise ValueError("max_line must be at least 1024")
        if min(self.max_message_literal, self.max_append, self.max_string_literal, self.max_command) < 0:
            raise ValueError("limits cannot be negative")
        if self.max_depth < 1 or self.max_literals < 1:
            raise ValueError("max_depth and max_literals must be at least 1")


@dataclass(frozen=True, slots=True)
class NeedContinuation:
    """Answer ``+ <text>`` so the client sends the ``size`` octets of its synchronizing literal."""

    tag: str | None
    size: int
    command: str | None = None


@dataclass(frozen=True, slots=True)
class BadCommand:
    """A command that cannot be carried out as sent.

    Reply ``<tag or *> <status> [<code>] <text>``: ``status`` is ``BAD`` except for an
    APPEND message over the size limit (``NO``, code ``TOOBIG``), an unknown SEARCH
    charset (``NO``, code ``BADCHARSET (...)``) and a mailbox name to create that is not
    valid modified UTF-7 (``NO``, code ``CANNOT``). ``command`` is the command word if it
    could be read. :meth:`error` gives the same as a typed Mesyx error.
    """

    tag: str | None
    text: str
    status: Literal["BAD", "NO"] = "BAD"
    code: str | None = None
    command: str | None = None

    def error(self) -> MesyxError:
        """:class:`ImapTooBig` (a LimitExceeded) for a size limit, :class:`MailboxNameError` for
        a name that cannot be a mailbox's, else :class:`ImapSyntaxError`."""
        if self.code == "TOOBIG":
            return ImapTooBig(self.text)
        if self.code == _CANNOT:
            return MailboxNameError(self.text)
        return ImapSyntaxError(self.text)


@dataclass(frozen=True, slots=True)
class ContinuationLine:
    """A line read after :meth:`CommandReader.expect_continuation_line`, without its CRLF."""

    line: bytes

    @property
    def is_done(self) -> bool:
        """Is this IDLE's ``DONE`` (RFC 2177 section 3, case-insensitive)?"""
        return self.line.upper() == b"DONE"

    @property
    def is_cancel(self) -> bool:
        """Is this ``*``, the client cancelling an AUTHENTICATE exchange (RFC 9051 section 6.2.2)?"""
        return self.line == b"*"


Event: TypeAlias = Command | NeedContinuation | BadCommand | ContinuationLine


class _Mode(enum.Enum):
    LINE = enum.auto()
    LITERAL = enum.auto()
    SKIP_LINE = enum.auto()
    SKIP_LITERAL = enum.auto()


_TOO_LONG: Final = object()


class CommandReader:
    """Incremental IMAP command parser for one connection.

    ``utf8_accept`` (set it after ``ENABLE UTF8=ACCEPT`` or ``ENABLE IMAP4rev2`` succeeds,
    RFC 6855 section 3) allows UTF-8 in quoted strings and reads mailbox names as UTF-8
    instead of modified UTF-7. ``literal_minus`` (advertising LITERAL- instead of LITERAL+)
    refuses non-synchronizing literals over 4096 octets (RFC 7888 section 4).
    """

    def __init__(
        self,
        limits: ReaderLimits | None = None,
        *,
        utf8_accept: bool = False,
        literal_minus: bool = False,
    ) -> None:
        self.limits = limits or ReaderLimits()
        self.utf8_accept = utf8_accept
        self.literal_minus = literal_minus
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # read position in self._chunks[0]
        self._line = bytearray()
        self._mode = _Mode.LINE
        self._expect_line = False
        self._need = 0  # octets of the current literal still to come
        self._sync = False  # the current literal is synchronizing
        self._pieces: list[bytes] = []
        self._tail = b""
        self._tail_done = False  # the skipped line's LF was consumed already
        self._reset()

    # -- public API ------------------------------------------------------------------

    def feed(self, data: bytes) -> Iterator[Event]:
        """Buffer ``data`` now and return an iterator over the events it completes (lazily)."""
        if data:
            self._chunks.append(bytes(data))
        return self.events()

    def events(self) -> Iterator[Event]:
        """Every event the buffered input completes, produced one at a time."""
        while True:
            event = self.next_event()
            if event is None:
                return
            yield event

    def next_event(self) -> Event | None:
        """The next event, or None when more input is needed."""
        while True:
            if self._mode is _Mode.LITERAL or self._mode is _Mode.SKIP_LITERAL:
                if not self._read_literal():
                    return None
                continue
            if self._mode is _Mode.SKIP_LINE:
                if not self._skip_line():
                    return None
                self._after_skipped_line()
                continue
            event = self._line_step()
            if not isinstance(event, _Continue):
                return event

    def expect_continuation_line(self) -> bool:
        """Read the next line as a :class:`ContinuationLine` (SASL response, IDLE ``DONE``).

        Returns False (and changes nothing) in the middle of a command.
        """
        if self._mode is not _Mode.LINE or self._lines:
            return False
        self._expect_line = True
        return True

    def reject_literal(self) -> bool:
        """Drop the command waiting for its synchronizing literal: the server answered it
        with a tagged NO/BAD instead of ``+``, so the client will not send the data
        (RFC 9051 section 7.5). Returns False if no synchronizing literal is pending.
        """
        if self._mode is not _Mode.LITERAL or not self._sync or self._pieces:
            return False
        self._mode = _Mode.LINE
        self._reset()
        return True

    def take_buffered(self) -> bytes:
        """Remove and return the input not yet parsed (the bytes after COMPRESS or STARTTLS).

        After STARTTLS, RFC 9051 section 6.2.1 has the server discard them; after COMPRESS
        DEFLATE they are compressed data to inflate and feed again (RFC 4978 section 3).
        Only meaningful between commands.
        """
        rest = bytes(self._line) + b"".join(self._chunks)[self._offset :]
        self._chunks.clear()
        self._offset = 0
        self._line.clear()
        return rest

    @property
    def buffered(self) -> int:
        """Octets fed but not consumed yet."""
        return len(self._line) + sum(len(c) for c in self._chunks) - self._offset

    @property
    def discarding(self) -> int:
        """Octets of a refused command's non-synchronizing literal still to be skipped.

        RFC 7888 section 4 lets a server either read and discard such a literal or close
        the connection; a server that will not wait for a huge one closes when this is large.
        """
        return self._need if self._mode is _Mode.SKIP_LITERAL else 0

    @property
    def in_command(self) -> bool:
        """Is a command partly received (lines or literal data still to come)?"""
        return bool(self._lines) or self._mode is not _Mode.LINE or bool(self._line)

    # -- framing -----------------------------------------------------------------------

    def _reset(self) -> None:
        self._lines: list[bytes] = []
        self._literals: list[bytes] = []
        self._literal_nul: list[bool] = []
        self._tag: str | None = None
        self._command: str | None = None
        self._size = 0  # lines and string literals of this command
        self._message_size = 0  # message literals of this command

    def _read_line(self) -> bytes | object | None:
        """A whole line without CRLF (a bare LF is accepted), ``_TOO_LONG``, or None (incomplete).

        At most ``max_line + 1`` octets of a line are ever buffered: a longer one is refused
        as soon as that is known, and the rest of it is skipped without being stored.
        """
        limit = self.limits.max_line
        while self._chunks:
            chunk = self._chunks[0]
            start = self._offset
            end = chunk.find(b"\n", start)
            stop = end if end >= 0 else len(chunk)
            room = limit + 1 - len(self._line)
            if stop - start > room:
                self._line += chunk[start : start + room]
                self._advance(start + room)
                return self._too_long(None)
            self._line += chunk[start:stop] if start or stop < len(chunk) else chunk
            if end < 0:
                self._advance(len(chunk))
                continue
            self._advance(end + 1)
            line = bytes(self._line)
            self._line.clear()
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > limit:
                return self._too_long(line)
            return line
        return None

    def _advance(self, offset: int) -> None:
        """Move the read position in the first chunk, dropping the chunk once it is used up."""
        if offset >= len(self._chunks[0]):
            self._chunks.popleft()
            self._offset = 0
        else:
            self._offset = offset

    def _too_long(self, complete: bytes | None) -> object:
        """Note what is needed to skip an over-long line; ``complete`` if its LF was seen."""
        head = bytes(self._line[:300]) if complete is None else complete[:300]
        if not self._lines and not self._expect_line:
            self._tag, self._command = peek_command(head)
        if complete is None:
            self._tail = bytes(self._line[-_TAIL:])
            self._line.clear()
            self._mode = _Mode.SKIP_LINE
        else:
            self._tail = complete[-_TAIL:]
            self._mode = _Mode.SKIP_LINE
            self._tail_done = True
        return _TOO_LONG

    def _skip_line(self) -> bool:
        """Consume input up to the end of the line being skipped, keeping only its tail."""
        if self._tail_done:
            self._tail_done = False
            return True
        while self._chunks:
            chunk = self._chunks[0]
            end = chunk.find(b"\n", self._offset)
            stop = end if end >= 0 else len(chunk)
            self._tail = (self._tail + chunk[max(self._offset, stop - _TAIL - 1) : stop])[-_TAIL - 1 :]
            if end < 0:
                self._advance(len(chunk))
                continue
            self._advance(end + 1)
            if self._tail.endswith(b"\r"):
                self._tail = self._tail[:-1]
            return True
        return False

    def _after_skipped_line(self) -> None:
        """A skipped line ended: skip the literal it announces, if the client will send it."""
        m = ANNOUNCEMENT.search(self._tail)
        self._tail = b""
        if m is not None and m.group(3):
            self._start_literal(int(m.group(2)), sync=False, skip=True)
        else:
            self._mode = _Mode.LINE
            self._reset()

    def _start_literal(self, size: int, *, sync: bool, skip: bool) -> None:
        self._need = size
        self._sync = sync
        self._pieces = []
        self._mode = _Mode.SKIP_LITERAL if skip else _Mode.LITERAL

    def _read_literal(self) -> bool:
        """Take literal octets from the buffer; True once all have arrived."""
        keep = self._mode is _Mode.LITERAL
        while self._need and self._chunks:
            chunk = self._chunks[0]
            start = self._offset
            take = min(len(chunk) - start, self._need)
            if keep:
                # A whole chunk is kept as is: a large literal is copied once, when joined.
                self._pieces.append(chunk if start == 0 and take == len(chunk) else chunk[start : start + take])
            self._need -= take
            self._advance(start + take)
        if self._need:
            return False
        if keep:
            data = self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
            self._pieces = []
            self._literals.append(data)
            self._literal_nul.append(b"\x00" in data)
            self._mode = _Mode.LINE
        else:
            # The rest of a refused command: its next line is skipped too.
            self._mode = _Mode.SKIP_LINE
        return True

    # -- one line --------------------------------------------------------------------

    def _line_step(self) -> Event | None | _Continue:
        line = self._read_line()
        if line is None:
            return None
        if line is _TOO_LONG:
            self._expect_line = False
            return self._bad("line too long", code="TOOBIG")
        assert isinstance(line, bytes)
        if self._expect_line:
            self._expect_line = False
            return ContinuationLine(line)
        if not self._lines:
            if not line:
                return _CONTINUE  # blank lines between commands are ignored
            self._tag, self._command = peek_command(line[:300])
        self._lines.append(line)
        self._size += len(line) + 2
        if self._size > self.limits.max_command:
            return self._refuse(line, "command too long", code="TOOBIG")
        m = ANNOUNCEMENT.search(line)
        if m is None:
            return self._finish()
        size, sync = int(m.group(2)), not m.group(3)
        try:
            self._parse()
        except LiteralPending as pending:
            return self._announce(line, pending, size, sync)
        except UnknownCharset as exc:
            return self._refuse(line, str(exc), status="NO", code=_badcharset(exc))
        except MailboxNameError as exc:
            return self._refuse(line, str(exc), status="NO", code=_CANNOT)
        except UsageError as exc:
            return self._refuse(line, str(exc))
        except Exception:  # noqa: BLE001 - the reader is an edge: no exception may escape feed()
            return self._refuse(line, "internal error reading the command")
        return self._refuse(line, "unexpected literal")

    def _announce(self, line: bytes, pending: LiteralPending, size: int, sync: bool) -> Event | _Continue:
        limits = self.limits
        if len(self._literals) >= limits.max_literals:
            return self._refuse(line, "too many literals in one command", code="TOOBIG")
        if not sync and self.literal_minus and size > LITERAL_MINUS_MAX:
            return self._refuse(line, "non-synchronizing literal over 4096 octets (LITERAL-)", code="TOOBIG")
        if pending.role == "message":
            if size > limits.max_message_literal or self._message_size + size > limits.max_append:
                return self._refuse(line, "message too large", status="NO", code="TOOBIG")
            self._message_size += size
        else:
            if size > limits.max_string_literal or self._size + size > limits.max_command:
                return self._refuse(line, "literal too large", code="TOOBIG")
            self._size += size
        self._start_literal(size, sync=sync, skip=False)
        if sync:
            return NeedContinuation(self._tag, size, self._command)
        return _CONTINUE

    def _parse(self) -> Command:
        return parse_command(
            self._lines,
            self._literals,
            self._literal_nul,
            utf8=self.utf8_accept,
            max_depth=self.limits.max_depth,
        )

    def _finish(self) -> Event:
        """The command is complete: parse it."""
        try:
            event: Event = self._parse()
        except UnknownCharset as exc:
            event = self._bad(str(exc), status="NO", code=_badcharset(exc))
        except MailboxNameError as exc:
            event = self._bad(str(exc), status="NO", code=_CANNOT)
        except UsageError as exc:
            event = self._bad(str(exc))
        except Exception:  # noqa: BLE001 - the reader is an edge: no exception may escape feed()
            event = self._bad("internal error reading the command")
        self._reset()
        return event

    def _bad(
        self, text: str, *, status: Literal["BAD", "NO"] = "BAD", code: str | None = None
    ) -> BadCommand:
        return BadCommand(self._tag, text[:200], status, code, self._command)

    def _refuse(
        self, line: bytes, text: str, *, status: Literal["BAD", "NO"] = "BAD", code: str | None = None
    ) -> BadCommand:
        """Refuse the command whose latest line is ``line`` and skip whatever of it is still to come."""
        event = self._bad(text, status=status, code=code)
        self._tail = line[-_TAIL:]
        self._after_skipped_line()
        return event


class _Continue:
    """Marker: a step consumed input without producing an event."""


_CONTINUE: Final = _Continue()


def _badcharset(exc: UnknownCharset) -> str:
    return "BADCHARSET (" + " ".join(exc.supported) + ")"
