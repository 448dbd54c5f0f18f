"""Token-level reading of one framed client command (RFC 3501 section 9, RFC 9051 section 9).

A command arrives as lines and literals: line 0, literal 0, line 1, ..., line N, where each
line but the last ends with the literal's announcement (``{n}``, ``{n+}``, ``~{n}``). The
:class:`Scanner` walks that structure with a cursor and reads the grammar's tokens (atoms,
numbers, quoted strings, literals, astrings, flags, dates, sequence sets). A malformed token
raises :class:`~mesyx.proto.imap.errors.ImapSyntaxError`; a literal whose data has not arrived
yet raises :class:`LiteralPending`, which lets the reader check a partial command (and size
the literal by its role) before it asks the client for the data. A mailbox name that is not
valid modified UTF-7 raises :class:`~mesyx.proto.imap.errors.MailboxNameError` (a ``NO``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from typing import Final, Literal, NoReturn

from mesyx.proto.imap.commands import SYSTEM_FLAGS
from mesyx.proto.imap.errors import ImapSyntaxError
from mesyx.proto.imap.sequence import MAX_NUMBER, SAVED, MessageSet, SeqRange, SequenceSet
from mesyx.proto.imap.utf7 import decode_mailbox_name, decode_mailbox_name_or_literal

__all__ = ["Scanner", "LiteralPending", "LiteralRole", "ANNOUNCEMENT", "TAG", "MAX_NUMBER64"]

#: What a literal holds: message data (APPEND, CATENATE TEXT: large limit) or any other string.
LiteralRole = Literal["message", "string"]

#: A literal announcement at the end of a line (RFC 7888 section 3: ``{n+}``; RFC 3516: ``~{n}``).
ANNOUNCEMENT: Final = re.compile(rb"(~?)\{([0-9]{1,20})(\+?)\}\Z")
#: ``tag = 1*<any ASTRING-CHAR except "+">``.
TAG: Final = re.compile(rb"[!#$&',-./0-9:;<=>?@A-Z\[\]^_`a-z|}~]+")
MAX_NUMBER64: Final = 2**63 - 1

_ATOM: Final = re.compile(rb"[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+")
_ASTRING_ATOM: Final = re.compile(rb"[!#$&'+,\-./0-9:;<=>?@A-Z\[\]^_`a-z|}~]+")
_LIST_ATOM: Final = re.compile(rb"[!#$%&'*+,\-./0-9:;<=>?@A-Z\[\]^_`a-z|}~]+")
_WORD: Final = re.compile(rb"[A-Za-z][A-Za-z0-9.\-]*")
_DIGITS: Final = re.compile(rb"[0-9]+")
_LITERAL_HEAD: Final = re.compile(rb"(~?)\{([0-9]{1,20})(\+?)\}")
_QUOTED_PLAIN: Final = re.compile(rb'[^"\\\x00\x80-\xff]*')
_DATE: Final = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
_DATE_TIME: Final = re.compile(
    rb"( [0-9]|[0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"
)
_MONTHS: Final = {
    m: i + 1 for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
}


class LiteralPending(Exception):
    """Internal control flow: the cursor reached a literal whose data has not arrived."""

    def __init__(self, role: LiteralRole, binary: bool) -> None:
        super().__init__(role)
        self.role: LiteralRole = role
        self.binary = binary


class Scanner:
    """A cursor over a framed command; every ``read``/``expect`` method consumes or raises.

    ``utf8`` is UTF8=ACCEPT (RFC 6855 section 3): 8-bit UTF-8 allowed in quoted strings and
    mailbox names taken as UTF-8 rather than modified UTF-7. ``literal_nul[i]`` says whether
    literal ``i`` holds a NUL byte (checked once by the reader as the data arrives).
    """

    def __init__(
        self,
        lines: Sequence[bytes],
        literals: Sequence[bytes],
        literal_nul: Sequence[bool],
        *,
        utf8: bool = False,
        max_depth: int = 64,
    ) -> None:
        self._lines = lines
        self._literals = literals
        self._literal_nul = literal_nul
        self._index = 0
        self._line = lines[0]
        self.pos = 0
        self.utf8 = utf8
        self.max_depth = max_depth
        self.depth = 0
        #: Decodes search strings; replaced by the SEARCH parser when a CHARSET is given.
        self.decode_text: Callable[[bytes], str] = self.utf8_text

    # -- basics --------------------------------------------------------------------

    def fail(self, message: str) -> NoReturn:
        raise ImapSyntaxError(message)

    def peek(self, ahead: int = 0) -> int:
        """The byte ``ahead`` positions after the cursor, or -1 past the end of the current line."""
        i = self.pos + ahead
        return self._line[i] if i < len(self._line) else -1

    def at(self, text: bytes) -> bool:
        """Does the rest of the line start with ``text`` (case-insensitively for letters)?"""
        end = self.pos + len(text)
        return self._line[self.pos : end].upper() == text

    def at_end(self) -> bool:
        return self.pos >= len(self._line) and self._index == len(self._lines) - 1

    def expect_end(self) -> None:
        if not self.at_end():
            self.fail("unexpected text at the end of the command")

    def take(self, text: bytes) -> bool:
        """Consume ``text`` (letters case-insensitive) if it comes next."""
        if self.at(text):
            self.pos += len(text)
            return True
        return False

    def expect(self, text: bytes, what: str | None = None) -> None:
        if not self.take(text):
            self.fail(f"expected {what or text.decode('ascii')}")

    def sp(self) -> None:
        if not self.take(b" "):
            self.fail("expected a space")

    def enter(self) -> None:
        """One level deeper in parentheses or search keys; refuses past ``max_depth``."""
        self.depth += 1
        if self.depth > self.max_depth:
            self.fail("nested too deeply")

    def leave(self) -> None:
        self.depth -= 1

    def match(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        m = pattern.match(self._line, self.pos)
        if m is None:
            self.fail(f"expected {what}")
        self.pos = m.end()
        return m.group()

    def word(self) -> str:
        """A keyword (letter, then letters, digits, ``.``, ``-``), upper-cased."""
        return self.match(_WORD, "a keyword").decode("ascii").upper()

    def atom(self) -> str:
        """``atom = 1*ATOM-CHAR`` (7-bit)."""
        return self.match(_ATOM, "an atom").decode("ascii")

    # -- numbers -------------------------------------------------------------------

    def number(self, *, nonzero: bool = False, limit: int = MAX_NUMBER) -> int:
        """``number`` (32-bit unsigned) or ``nz-number``; ``limit=MAX_NUMBER64`` for ``number64``."""
        digits = self.match(_DIGITS, "a number")
        if len(digits) > 20:
            self.fail("number too large")
        value = int(digits)
        if value > limit:
            self.fail("number too large")
        if nonzero and value == 0:
            self.fail("expected a non-zero number")
        return value

    def number64(self, *, nonzero: bool = False) -> int:
        """``number64``/``mod-sequence-value`` (RFC 9051 section 9, RFC 7162: 63-bit)."""
        return self.number(nonzero=nonzero, limit=MAX_NUMBER64)

    # -- strings -------------------------------------------------------------------

    def quoted(self) -> bytes:
        """``quoted``: escapes ``\\\\`` and ``\\"`` only; 8-bit only under UTF8=ACCEPT."""
        self.expect(b'"', "a quoted string")
        line = self._line
        out = bytearray()
        while True:
            m = _QUOTED_PLAIN.match(line, self.pos)
            assert m is not None  # the pattern matches the empty string
            out += m.group()
            self.pos = m.end()
            c = self.peek()
            if c == 0x22:
                self.pos += 1
                return bytes(out)
            if c == 0x5C:
                nxt = line[self.pos + 1] if self.pos + 1 < len(line) else -1
                if nxt not in (0x22, 0x5C):
                    self.fail("bad escape in a quoted string")
                out.append(nxt)
                self.pos += 2
            elif c == -1:
                self.fail("unterminated quoted string")
            elif c == 0:
                self.fail("NUL in a quoted string")
            else:
                if not self.utf8:
                    self.fail("8-bit character in a quoted string (UTF8=ACCEPT not enabled)")
                out.append(c)
                self.pos += 1

    def at_literal(self) -> bool:
        c = self.peek()
        return c == 0x7B or (c == 0x7E and self._line[self.pos + 1 : self.pos + 2] == b"{")

    def literal(self, role: LiteralRole = "string", *, binary_ok: bool = False) -> tuple[bytes, bool]:
        """A literal (``{n}``/``{n+}``) or, with ``binary_ok``, a literal8: ``(data, is_literal8)``."""
        m = _LITERAL_HEAD.match(self._line, self.pos)
        if m is None:
            self.fail("expected a literal")
        binary = bool(m.group(1))
        if binary and not binary_ok:
            self.fail("literal8 is not allowed here")
        if m.end() != len(self._line):
            self.fail("a literal announcement must end the line")
        if self._index >= len(self._literals):
            raise LiteralPending(role, binary)
        data = self._literals[self._index]
        if self._literal_nul[self._index] and not binary:
            self.fail("NUL in a literal (only literal8 may hold NUL)")
        self._index += 1
        self._line = self._lines[self._index]
        self.pos = 0
        return data, binary

    def string(self, role: LiteralRole = "string") -> bytes:
        """``string = quoted / literal``."""
        if self.peek() == 0x22:
            return self.quoted()
        if self.at_literal():
            return self.literal(role)[0]
        self.fail("expected a string")

    def astring(self) -> bytes:
        """``astring = 1*ASTRING-CHAR / string``."""
        c = self.peek()
        if c == 0x22 or self.at_literal():
            return self.string()
        return self.match(_ASTRING_ATOM, "an astring")

    def nstring(self) -> bytes | None:
        """``nstring = string / NIL``."""
        if self.peek() in (0x22, 0x7B, 0x7E):
            return self.string()
        self.expect(b"NIL", "a string or NIL")
        return None

    def utf8_text(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.fail("string is not valid UTF-8")

    def astring_text(self) -> str:
        return self.utf8_text(self.astring())

    def string_text(self) -> str:
        return self.utf8_text(self.string())

    def mailbox_text(self, data: bytes, *, inbox: bool = True, lenient: bool = False) -> str:
        """A mailbox name as sent, decoded; INBOX in any case is ``"INBOX"`` (RFC 3501 section 5.1)
        unless ``inbox`` is false (a LIST reference or pattern keeps its case).

        7-bit names are modified UTF-7 (RFC 3501 section 5.1.3) unless UTF8=ACCEPT is on;
        8-bit names are UTF-8 (RFC 6855 section 3; from a client that did not enable it too:
        modified UTF-7 is 7-bit, so this cannot be ambiguous). A name that is not valid
        modified UTF-7 raises :class:`MailboxNameError` (the reader answers ``NO``, not
        ``BAD``: the command is well formed, the name cannot be created), or with ``lenient``
        (a name that is looked up, not created) is taken literally, as Dovecot does.
        """
        if data.isascii() and not self.utf8:
            text = data.decode("ascii")
            name = decode_mailbox_name_or_literal(text) if lenient else decode_mailbox_name(text)
        else:
            name = self.utf8_text(data)
        if inbox and name.upper() == "INBOX":
            return "INBOX"
        return name

    def mailbox(self, *, inbox: bool = True, lenient: bool = False) -> str:
        """``mailbox = "INBOX" / astring``, decoded by :meth:`mailbox_text`."""
        return self.mailbox_text(self.astring(), inbox=inbox, lenient=lenient)

    def list_mailbox(self) -> str:
        """``list-mailbox = 1*list-char / string`` (wildcards ``%`` and ``*`` allowed unquoted),
        decoded leniently (a pattern only looks names up), its case kept."""
        c = self.peek()
        data = self.string() if c == 0x22 or self.at_literal() else self.match(_LIST_ATOM, "a mailbox pattern")
        return self.mailbox_text(data, inbox=False, lenient=True)

    # -- flags, dates, sets --------------------------------------------------------

    def flag(self) -> str:
        """``flag = "\\\\" atom / atom``; system flags get their canonical spelling."""
        if self.take(b"\\"):
            name = "\\" + self.atom()
            return SYSTEM_FLAGS.get(name.upper(), name)
        return self.atom()

    def flag_list(self) -> tuple[str, ...]:
        """``flag-list = "(" [flag *(SP flag)] ")"``."""
        self.expect(b"(", "a flag list")
        flags: list[str] = []
        if not self.take(b")"):
            flags.append(self.flag())
            while not self.take(b")"):
                self.sp()
                flags.append(self.flag())
        return tuple(flags)

    def date(self) -> datetime.date:
        """``date = date-text / DQUOTE date-text DQUOTE`` with ``date-text = d[d]-Mon-yyyy``."""
        quoted = self.take(b'"')
        m = _DATE.match(self._line, self.pos)
        if m is None:
            self.fail("expected a date like 1-Feb-1994")
        self.pos = m.end()
        if quoted:
            self.expect(b'"', "closing quote of the date")
        month = _MONTHS.get(m.group(2).decode("ascii").upper())
        if month is None:
            self.fail("unknown month in a date")
        try:
            return datetime.date(int(m.group(3)), month, int(m.group(1)))
        except ValueError:
            self.fail("no such date")

    def date_time(self) -> datetime.datetime:
        """``date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE``."""
        self.expect(b'"', "a date-time")
        m = _DATE_TIME.match(self._line, self.pos)
        if m is None:
            self.fail('expected a date-time like "17-Jul-1996 02:44:25 -0700"')
        self.pos = m.end()
        self.expect(b'"', "closing quote of the date-time")
        day, mon, year, hh, mm, ss, sign, zh, zm = (g.decode("ascii") for g in m.groups())
        month = _MONTHS.get(mon.upper())
        if month is None or int(zm) > 59 or int(zh) > 23:
            self.fail("bad month or zone in a date-time")
        offset = datetime.timedelta(hours=int(zh), minutes=int(zm))
        try:
            zone = datetime.timezone(-offset if sign == "-" else offset)
            return datetime.datetime(int(year), month, int(day.strip()), int(hh), int(mm), int(ss), tzinfo=zone)
        except ValueError:
            self.fail("no such date-time")

    def _seq_number(self, star_ok: bool) -> int | None:
        if self.take(b"*"):
            if not star_ok:
                self.fail("'*' is not allowed here")
            return None
        return self.number(nonzero=True)

    def sequence_set(self, *, star_ok: bool = True) -> SequenceSet:
        """``sequence-set`` (RFC 9051 section 9): numbers, ``*`` and ranges in either order."""
        ranges: list[SeqRange] = []
        while True:
            first = self._seq_number(star_ok)
            last = self._seq_number(star_ok) if self.take(b":") else first
            ranges.append(SeqRange(first, last))
            if not self.take(b","):
                return SequenceSet(tuple(ranges))

    def message_set(self) -> MessageSet:
        """A sequence set or ``$`` (RFC 5182 section 2.1)."""
        if self.take(b"$"):
            return SAVED
        return self.sequence_set()
