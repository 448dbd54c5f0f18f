"""aiosmtpd's SMTP server, hardened and made faster where Mesyx met its limits.

Shared by accept mode's inbound SMTP and client mode's submission (modes never import
each other; both subclass :class:`HardenedSMTP`):

* DATA is read by :class:`DataReceiver` (sans-IO), in the pieces that arrive, instead of
  aiosmtpd's loop per line, with aiosmtpd's limits and replies;
* plain ``<local@domain>`` paths take :func:`fast_path_address` instead of the ``email``
  header parser, and the paths that parser mishandles are refused as malformed;
* replies never echo control characters or invalid UTF-8 back to the client.
"""

from __future__ import annotations

import asyncio
import re

from aiosmtpd.smtp import MISSING, SMTP, syntax

from mesyx.log import get_logger

__all__ = ["HardenedSMTP", "DataReceiver", "fast_path_address", "TOO_LONG", "TOO_MUCH"]

_log = get_logger("smtp")

#: End of mail data (RFC 5321 section 4.1.1.4): CRLF "." CRLF. Only CRLF ends a line
#: (section 2.3.8), so a bare ``\n.\n`` or ``\r.\r`` does not end the message: accepting
#: those is what makes SMTP smuggling possible.
_END = b"\r\n.\r\n"
#: aiosmtpd's replies for the two limits on mail data, kept word for word.
TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
TOO_MUCH = "552 Error: Too much mail data"


class DataReceiver:
    """One DATA transfer, fed with the raw octets read after ``354`` (sans-IO).

    Why not aiosmtpd's reader: it awaits ``readuntil(b"\\r\\n")`` and appends once per
    *line*, about 150 rounds of Python for a 10 KiB message, which was most of its cost
    per message. This takes the octets in whatever pieces arrive, checks the two limits
    with C-level ``split``, and undoes dot-stuffing once on the whole message.

    The limits and replies are aiosmtpd's: a line of more than ``line_limit`` octets
    with its CRLF (1001: 998 octets of RFC 5322 section 2.1.1, CRLF, and the transparency
    dot of RFC 5321 section 4.5.2; RFC 5321 section 4.5.3.1.6) gets ``500 Line too long``,
    more than ``size_limit`` octets of mail data (``0``/``None``: no limit) gets ``552``,
    each only once the whole transfer has been read (RFC 5321 section 4.2.5). After either,
    the octets are counted and dropped, so a refused message is never held whole. Which
    of the two a message breaks first is decided line by line as aiosmtpd does
    (:meth:`_first_violation`), but only for a piece that breaks one of them.

    The fed stream ends with the end-of-data mark's ``.`` CRLF; the octets before it are
    the message, still dot-stuffed, ending with the CRLF the mark begins with.
    """

    def __init__(self, size_limit: int | None, line_limit: int) -> None:
        self.size_limit = size_limit or 0
        self.line_limit = line_limit
        self.size = 0
        self.error: str | None = None
        self._parts: list[bytes] = []
        self._line = 0  # octets of the line that is still open, CRLF not yet seen
        self._cr = False  # the last piece ended in CR: its LF may open the next piece

    def feed(self, data: bytes) -> None:
        offset, opened, carry = self.size, self._line, self._cr
        self.size += len(data)
        if self.error is not None:
            return
        text = b"\r" + data if carry else data
        self._cr = text.endswith(b"\r")
        lines = (text[:-1] if self._cr else text).split(b"\r\n")
        # Octets of each line without its CRLF; the first line continues the open one.
        longest = opened + len(lines[0])
        if len(lines) > 1:
            longest = max(longest, max(map(len, lines[1:])))
            self._line = len(lines[-1])
        else:
            self._line = longest
        if longest + 2 > self.line_limit or (self.size_limit and self.size > self.size_limit):
            self.error = self._first_violation(offset - opened - carry, opened, lines)
            if self.error is not None:
                self._parts.clear()
                return
        self._parts.append(data)

    def _first_violation(self, counted: int, opened: int, lines: list[bytes]) -> str | None:
        """Replay aiosmtpd's line loop over one piece: which limit breaks first, if any.

        ``counted`` is the octets of mail data before the first line's start. A line
        whose text alone overruns the reader's limit is too long before it is counted;
        otherwise it is counted (552 once past the size limit), then measured. A whole
        line ``.`` is the end-of-data mark: not mail data.
        """
        for index, line in enumerate(lines):
            length = len(line) + (opened if index == 0 else 0)
            if length > self.line_limit:
                return TOO_LONG
            if index == len(lines) - 1:
                return None  # still open: judged when its CRLF arrives
            if length == 1 and line == b"." and (index > 0 or opened == 0):
                return None
            counted += length + 2
            if self.size_limit and counted > self.size_limit:
                return TOO_MUCH
            if length + 2 > self.line_limit:
                return TOO_LONG
        return None

    def content(self) -> bytes | None:
        """The message with dot-stuffing undone, or None when refused (reply in ``error``)."""
        if self.error is not None:
            return None
        data = b"".join(self._parts)[:-3]
        self._parts.clear()
        # RFC 5321 section 4.5.2: a line that starts with "." lost that dot's twin.
        if data.startswith(b"."):
            data = data[1:]
        if b"\r\n." in data:
            data = data.replace(b"\r\n.", b"\r\n")
        return data


def _end_pending(tail: bytes) -> int:
    """How many octets of the end-of-data mark ``tail`` already ends with (0 to 4)."""
    for count in (4, 3, 2, 1):
        if tail.endswith(_END[:count]):
            return count
    return 0


#: ``<local@domain>`` with a dot-atom local part and an LDH domain (RFC 5321 section
#: 4.1.2), the form nearly every client sends. Everything else goes to aiosmtpd's parser.
_PLAIN_PATH = re.compile(
    r"<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>"
)


def fast_path_address(arg: str) -> tuple[str, str] | None:
    """(address, parameters) for a plain ``<local@domain> [params]``, else None.

    Gives exactly what aiosmtpd's ``_getaddr`` gives for these inputs (the parameters
    with the blanks before them dropped), without building an ``email`` header parse
    tree per MAIL and RCPT, which cost about as much as the rest of both commands.
    """
    found = _PLAIN_PATH.match(arg)
    if found is None:
        return None
    rest = arg[found.end():].lstrip(" \t")
    if rest.startswith("("):  # a comment (RFC 5322 CFWS): the full parser skips it
        return None
    return found[1], rest


#: Reply text is HT, SP and printable characters (RFC 5321 section 4.2).
_REPLY_CONTROLS = {code: "?" for code in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)}


class HardenedSMTP(SMTP):
    """aiosmtpd's SMTP with Mesyx's DATA reader, address fast path and reply sanitising."""

    async def push(self, status: str | bytes) -> None:
        """Send a reply. aiosmtpd echoes client octets in some (an unknown command, VRFY
        of an unparsable argument): control characters there become ``?``, and invalid
        UTF-8, which it keeps as lone surrogates, is replaced instead of raising
        UnicodeEncodeError (which turned ``VRFY @\\xff`` into a 451 internal error)."""
        if isinstance(status, str):
            status = status.translate(_REPLY_CONTROLS).encode("utf-8", "replace")
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd takes ``<bad`` (no closing ``>``) for the address ``bad``; RFC 5321
        section 4.1.2 has no such path, so refuse it as malformed (``553 5.1.3``).

        Plain ``<local@domain>`` paths take :func:`fast_path_address` instead of the full
        parser; the answer is the same, at a fraction of the cost.
        """
        plain = fast_path_address(arg)
        if plain is not None:
            local = plain[0].rpartition("@")[0]
            if self.local_part_limit and len(local) > self.local_part_limit:
                return None, None
            return plain
        stripped = arg.lstrip()
        if stripped.startswith("<") and ">" not in stripped:
            return None, None
        try:
            parsed: tuple[str | None, str | None] = super()._getaddr(arg)
        except Exception:  # noqa: BLE001 - client input; aiosmtpd catches only HeaderParseError
            # The stdlib parser aiosmtpd uses also fails with IndexError ("alice@") and
            # UnboundLocalError ("<@["): a malformed address, not an internal error.
            return None, None
        return parsed

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA (same checks, same replies) around :class:`DataReceiver`.

        aiosmtpd's deprecated ``process_message`` handler API is not supported: Mesyx's
        handler has ``handle_DATA``.
        """
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            received = await self._receive_data()
        except (asyncio.CancelledError, asyncio.IncompleteReadError):
            # The connection went away mid-transfer: nothing is stored, nothing to answer.
            _log.debug("connection_lost", during="DATA")
            self._writer.close()
            raise asyncio.CancelledError() from None
        content = received.content()
        if content is None:
            assert received.error is not None
            await self.push(received.error)
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            return
        self.envelope.original_content = content
        if not self._decode_data:
            self.envelope.content = content
        elif self.enable_SMTPUTF8:
            self.envelope.content = content.decode("utf-8", errors="surrogateescape")
        else:
            try:
                self.envelope.content = content.decode("ascii", errors="strict")
            except UnicodeDecodeError:
                await self.push("500 Error: strict ASCII mode")
                return
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    async def _receive_data(self) -> DataReceiver:
        """Read up to and including the end-of-data mark, and not one octet further.

        Pipelined commands after the mark (RFC 2920) stay in the reader for the command
        loop. ``readuntil(_END)`` finds the mark with one C-level search per read; when it
        is not there yet, the reader's line limit (1001) makes it raise, and the octets it
        has searched (all but the last four, which may start the mark) are taken as they
        are. A mark that starts in octets already taken (only possible at the start of
        the data, where the 354 reply counts as the CRLF before it, as in ``.`` CRLF for an
        empty message) is completed octet-exact with ``readexactly``.
        """
        receiver = DataReceiver(self.data_size_limit, self.line_length_limit)
        reader = self._reader
        tail = b"\r\n"  # the data starts at the start of a line
        while True:
            pending = _end_pending(tail)
            if pending:
                more = await reader.readexactly(len(_END) - pending)
                receiver.feed(more)
                if tail[-pending:] + more == _END:
                    return receiver
                tail = (tail + more)[-4:]
                continue
            try:
                piece = await reader.readuntil(_END)
            except asyncio.LimitOverrunError as exc:
                piece = await reader.read(exc.consumed)
                receiver.feed(piece)
                tail = (tail + piece)[-4:]
                continue
            receiver.feed(piece)
            return receiver
