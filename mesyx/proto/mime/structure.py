"""The MIME tree of a message: parts with exact offsets on the raw bytes (RFC 2045, RFC 2046).

One forward pass, no copies: each part knows where its header starts (``start``), where
its body starts (``body_start``) and where it ends (``end``), so ``raw[start:end]`` is the
part, ``raw[start:body_start]`` its (MIME) header and ``raw[body_start:end]`` its body.

Boundaries follow RFC 2046 section 5.1.1 as Dovecot reads them:

* a boundary line is a line that *starts* with ``--`` and a boundary of an enclosing
  multipart (the rest of the line may hold anything, e.g. transport padding); ``--b--``
  closes ``b``. When several active boundaries match, the longest wins, then the innermost;
* the line break before a boundary line belongs to the boundary, not to the part before it;
* a boundary line ends a part even in the middle of its header;
* the preamble (before the first boundary) and the epilogue (after the closing one) belong to
  the multipart's body; a missing closing boundary ends the multipart where an enclosing one
  continues, or at the end of the message;
* a part without Content-Type is text/plain, or message/rfc822 inside multipart/digest
  (RFC 2046 section 5.1.5); a broken Content-Type counts as missing (RFC 2045 section 5.2);
* nesting deeper than :data:`MAX_DEPTH` or more than :data:`MAX_PARTS` parts stop the descent:
  the part is kept as one opaque leaf (``overflow``), as Dovecot does.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, NamedTuple

from mesyx.proto.mime.headers import HeaderBlock, scan_header
from mesyx.proto.mime.params import ContentType, Params, param, parse_content_type, parse_token

__all__ = ["PartKind", "MimePart", "parse_structure", "MAX_DEPTH", "MAX_PARTS"]

MAX_DEPTH: Final = 100
MAX_PARTS: Final = 10_000
_CR: Final = 0x0D


class PartKind(IntEnum):
    LEAF = 0
    MULTIPART = 1
    #: message/rfc822: one child, the encapsulated message.
    MESSAGE = 2


class MimePart:
    """One part of the tree; the root is the message itself."""

    __slots__ = (
        "raw",
        "start",
        "body_start",
        "end",
        "header",
        "content_type",
        "kind",
        "children",
        "in_digest",
        "overflow",
    )

    def __init__(self, raw: bytes, header: HeaderBlock, content_type: ContentType | None, in_digest: bool) -> None:
        self.raw = raw
        self.start = header.start
        self.body_start = header.body_start
        self.end = header.body_start
        self.header = header
        #: As parsed from the Content-Type field; None when it is missing or broken.
        self.content_type = content_type
        self.kind = PartKind.LEAF
        #: Parts of a multipart; for message/rfc822 the one encapsulated message.
        self.children: list[MimePart] = []
        self.in_digest = in_digest
        #: Past the nesting or part-count limits: kept as one opaque leaf.
        self.overflow = False

    def __repr__(self) -> str:
        t, s = self.media_type
        return f"<MimePart {t.decode('ascii', 'replace')}/{s.decode('ascii', 'replace')} {self.start}:{self.end}>"

    @property
    def media_type(self) -> tuple[bytes, bytes]:
        """``(type, subtype)`` as written, with the defaults of RFC 2045 section 5.2 / RFC 2046 section 5.1.5."""
        if self.overflow:
            return b"application", b"octet-stream"
        if self.kind is PartKind.MESSAGE and self.content_type is None:
            return b"message", b"rfc822"
        if self.content_type is None:
            return b"text", b"plain"
        return self.content_type.type, self.content_type.subtype

    @property
    def is_text(self) -> bool:
        return self.kind is PartKind.LEAF and not self.overflow and self.media_type[0].lower() == b"text"

    @property
    def params(self) -> Params:
        """Content-Type parameters as written (no default charset added)."""
        return self.content_type.params if self.content_type is not None else []

    @property
    def charset(self) -> bytes | None:
        """The charset parameter; us-ascii for a text part without one (RFC 2046 section 4.1.2)."""
        value = param(self.params, b"charset")
        if value is None and self.is_text:
            return b"us-ascii"
        return value

    @property
    def encoding(self) -> bytes | None:
        """The Content-Transfer-Encoding token as written, or None (7bit)."""
        return parse_token(self.header.get(b"content-transfer-encoding"))

    @property
    def mime_header(self) -> bytes:
        return self.raw[self.start : self.body_start]

    @property
    def body(self) -> bytes:
        return self.raw[self.body_start : self.end]

    @property
    def data(self) -> bytes:
        """Header and body: the whole part."""
        return self.raw[self.start : self.end]

    @property
    def size(self) -> int:
        """Octets of the body as it is in the message (``body-fld-octets``)."""
        return self.end - self.body_start

    @property
    def lines(self) -> int:
        """Lines of the body: its line feeds, as Dovecot counts them (``body-fld-lines``)."""
        return self.raw.count(b"\n", self.body_start, self.end)

    def walk(self) -> list[MimePart]:
        """This part and every part below it, depth first, in message order."""
        out: list[MimePart] = []
        todo = [self]
        while todo:
            part = todo.pop()
            out.append(part)
            todo.extend(reversed(part.children))
        return out


class _Hit(NamedTuple):
    """A boundary line: where it starts, which boundary (index in the stack), ``--b--`` or not, the next line.

    ``end`` is where every part that this line ends stops: before the line break in front of
    the boundary line, unless that line break is not in the region being scanned (it ended
    the previous boundary line, or the header before the part): then at the line itself.
    """

    at: int
    which: int
    close: bool
    after: int
    end: int


class _Parser:
    __slots__ = ("raw", "n", "stack", "parts")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.n = len(raw)
        self.stack: list[bytes] = []
        self.parts = 0

    def match(self, pos: int) -> _Hit | None:
        """The boundary line at ``pos`` (a line start with ``--``), if it is one of an active boundary."""
        if self.parts >= MAX_PARTS:
            return None
        raw = self.raw
        best = -1
        best_len = -1
        stack = self.stack
        for i in range(len(stack) - 1, -1, -1):
            b = stack[i]
            if len(b) > best_len and raw.startswith(b, pos + 2):
                best, best_len = i, len(b)
        if best < 0:
            return None
        tail = pos + 2 + best_len
        close = raw.startswith(b"--", tail)
        lf = raw.find(b"\n", tail)
        return _Hit(pos, best, close, self.n if lf < 0 else lf + 1, pos)

    def find(self, pos: int) -> _Hit | None:
        """The first boundary line at or after ``pos``, which is the start of a line and of the region scanned."""
        if not self.stack:
            return None
        raw = self.raw
        if raw.startswith(b"--", pos):
            hit = self.match(pos)
            if hit is not None:
                return hit
        i = pos
        while True:
            i = raw.find(b"\n--", i)
            if i < 0:
                return None
            hit = self.match(i + 1)
            if hit is not None:
                # The line break before a boundary line belongs to the boundary.
                end = i - 1 if i > pos and raw[i - 1] == _CR else i
                return hit._replace(end=end)
            i += 1

    def part(self, pos: int, in_digest: bool, depth: int) -> tuple[MimePart, _Hit | None]:
        self.parts += 1
        raw = self.raw
        scan = scan_header(raw, pos, self.n, self.match if self.stack else None)
        header = HeaderBlock(raw, pos, scan.body_start, scan.fields)
        ctype = parse_content_type(header.get(b"content-type"))
        part = MimePart(raw, header, ctype, in_digest)
        if ctype is not None:
            main = ctype.type.lower()
            if main == b"multipart":
                part.kind = PartKind.MULTIPART
            elif main == b"message" and ctype.subtype.lower() == b"rfc822":
                part.kind = PartKind.MESSAGE
        elif in_digest:
            part.kind = PartKind.MESSAGE
        if part.kind is not PartKind.LEAF and (depth >= MAX_DEPTH or self.parts >= MAX_PARTS):
            part.kind = PartKind.LEAF
            part.overflow = True

        if isinstance(scan.boundary, _Hit):
            # A boundary line ended the part inside its header: the body is empty.
            if part.kind is PartKind.MESSAGE:
                part.children.append(MimePart(raw, HeaderBlock(raw, part.end, part.end, []), None, False))
            return part, scan.boundary._replace(end=scan.body_start)

        body_start = part.body_start
        if part.kind is PartKind.MESSAGE:
            inner, hit = self.part(body_start, False, depth + 1)
            part.children.append(inner)
            part.end = inner.end
            return part, hit

        boundary = param(ctype.params, b"boundary") if part.kind is PartKind.MULTIPART and ctype else None
        if not boundary:
            hit = self.find(body_start)
            part.end = self.n if hit is None else hit.end
            return part, hit

        digest = ctype is not None and ctype.subtype.lower() == b"digest"
        self.stack.append(boundary)
        mine = len(self.stack) - 1
        hit = self.find(body_start)
        while hit is not None and hit.which == mine:
            if hit.close:
                # The epilogue runs to the next boundary of an enclosing multipart.
                del self.stack[mine:]
                hit = self.find(hit.after)
                break
            child, hit = self.part(hit.after, digest, depth + 1)
            part.children.append(child)
        del self.stack[mine:]
        part.end = self.n if hit is None else hit.end
        return part, hit


def parse_structure(raw: bytes, header: HeaderBlock | None = None) -> MimePart:
    """The MIME tree of the message ``raw``; never raises.

    ``header``: the message's top header, already scanned by the caller (SIEVE's tests read
    it first). A message it says is not multipart or message/* is then one leaf to the end
    of ``raw``, as the full parse would make it, without scanning the header again or the
    body for boundaries.
    """
    if header is not None and header.start == 0:
        ctype = parse_content_type(header.get(b"content-type"))
        if ctype is None or ctype.type.lower() not in (b"multipart", b"message"):
            leaf = MimePart(raw, header, ctype, False)
            leaf.end = len(raw)
            return leaf
    root, _ = _Parser(raw).part(0, False, 0)
    return root
