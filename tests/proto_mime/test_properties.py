"""Hypothesis: generated MIME trees parse back exactly; any bytes parse without raising; offsets reassemble.

Generated messages are built from a tree (leaf, multipart with preamble/epilogue and an
optional closing boundary, message/rfc822) with CRLF or bare-LF line ends; the parsed tree
must have the same shape, each leaf the exact body and MIME header it was built with.
Random and mutated messages must satisfy the section invariants: ``BODY[]`` is the raw
message, ``HEADER`` + ``TEXT`` reassemble a message, ``MIME`` + body reassemble a part.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesyx.proto.mime import ParsedMessage, PartKind, UnknownTransferEncoding, resolve_part
from mesyx.proto.mime.structure import MimePart
from tests.proto_mime.corpus import BASE64_PARTS, DIGEST, FORWARD, MISSING_CLOSE, NESTED
from tests.proto_mime.sexp import parse_sexp

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- generated trees -------------------------------------------------------------------

_LINE = st.text(alphabet="abcXYZ019 =_.:;\t<>@\"'()-+/", min_size=0, max_size=30).filter(
    lambda s: not s.startswith("-") and not s.startswith((" ", "\t"))
)


@dataclass
class Node:
    kind: str  # "leaf", "multipart", "message"
    headers: list[bytes] = field(default_factory=list)
    body: bytes = b""
    boundary: bytes = b""
    preamble: list[bytes] = field(default_factory=list)
    epilogue: list[bytes] = field(default_factory=list)
    closed: bool = True
    children: list[Node] = field(default_factory=list)


@st.composite
def _lines(draw: st.DrawFn, max_size: int = 4) -> list[bytes]:
    return [s.encode() for s in draw(st.lists(_LINE, max_size=max_size))]


@st.composite
def _headers(draw: st.DrawFn, content_type: bytes | None) -> list[bytes]:
    names = draw(st.lists(st.sampled_from(["Subject", "X-A", "From", "Content-ID", "Content-Description"]), max_size=3))
    out = [f"{n}: {draw(_LINE).strip() or 'v'}".encode() for n in names]
    if content_type is not None:
        out.insert(draw(st.integers(0, len(out))), b"Content-Type: " + content_type)
    return out


@st.composite
def _node(draw: st.DrawFn, depth: int, counter: list[int]) -> Node:
    kinds = ["leaf"] if depth >= 3 else ["leaf", "leaf", "multipart", "message"]
    kind = draw(st.sampled_from(kinds))
    if kind == "leaf":
        ctype = draw(st.sampled_from([None, b"text/plain; charset=utf-8", b"application/octet-stream", b"text/html"]))
        return Node("leaf", draw(_headers(ctype)), body=b"\n".join(draw(_lines(5))))
    if kind == "message":
        return Node("message", draw(_headers(b"message/rfc822")), children=[draw(_node(depth + 1, counter))])
    counter[0] += 1
    boundary = b"b%dx" % counter[0] + draw(st.sampled_from([b"", b"=_q", b" sp", b"--"]))
    children = draw(st.lists(_node(depth + 1, counter), min_size=1, max_size=3))
    quoted = b'"' + boundary + b'"'
    return Node(
        "multipart",
        draw(_headers(b"multipart/mixed; boundary=" + quoted)),
        boundary=boundary,
        preamble=draw(_lines(2)),
        epilogue=draw(_lines(2)),
        closed=draw(st.booleans()),
        children=children,
    )


def _render(node: Node, eol: bytes) -> bytes:
    """The part: its header lines, the blank line, its body."""
    return b"".join(h + eol for h in node.headers) + eol + _body(node, eol)


def _body(node: Node, eol: bytes) -> bytes:
    if node.kind == "leaf":
        return node.body.replace(b"\n", eol)
    if node.kind == "message":
        return _render(node.children[0], eol)
    out = eol.join(node.preamble)
    for i, child in enumerate(node.children):
        if i or node.preamble:
            out += eol
        out += b"--" + node.boundary + eol + _render(child, eol)
    if node.closed:
        out += eol + b"--" + node.boundary + b"--"
        if node.epilogue:
            out += eol + eol.join(node.epilogue)
    return out


def _compare(node: Node, part: MimePart, eol: bytes) -> None:
    assert part.mime_header == b"".join(h + eol for h in node.headers) + eol
    if node.kind == "leaf":
        assert part.kind is PartKind.LEAF
        assert part.body == node.body.replace(b"\n", eol)
    elif node.kind == "message":
        assert part.kind is PartKind.MESSAGE
        _compare(node.children[0], part.children[0], eol)
    else:
        assert part.kind is PartKind.MULTIPART
        assert len(part.children) == len(node.children)
        for n, p in zip(node.children, part.children, strict=True):
            _compare(n, p, eol)


@st.composite
def generated(draw: st.DrawFn) -> tuple[Node, bytes, bytes]:
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    root = draw(_node(0, [0]))
    # A multipart root whose last part is left open must not be followed by anything that
    # looks like more of it: the message ends there. Unclosed inner multiparts end at the
    # enclosing boundary.
    return root, _render(root, eol), eol


@SETTINGS
@given(generated())
def test_generated_trees_parse_back_exactly(case: tuple[Node, bytes, bytes]) -> None:
    node, raw, eol = case
    msg = ParsedMessage(raw)
    # The generated root is a message: its header is the message header.
    _compare(node, msg.structure, eol)
    check_invariants(raw)


# -- invariants of any input -------------------------------------------------------------


Numbered = Iterator[tuple[tuple[int, ...], MimePart]]


def addressable(part: MimePart, prefix: tuple[int, ...], message_root: bool) -> Numbered:
    """Every part number and the part it names, following RFC 3501 section 6.4.5."""
    if part.kind is PartKind.MULTIPART:
        for i, child in enumerate(part.children):
            path = prefix + (i + 1,)
            yield path, child
            yield from _inside(child, path)
    elif message_root:
        path = prefix + (1,)
        yield path, part
        yield from _inside(part, path)


def _inside(part: MimePart, path: tuple[int, ...]) -> Numbered:
    if part.kind is PartKind.MESSAGE:
        yield from addressable(part.children[0], path, True)
    elif part.kind is PartKind.MULTIPART:
        yield from addressable(part, path, False)


def check_invariants(raw: bytes) -> None:
    msg = ParsedMessage(raw)
    assert msg.section(()) == raw
    assert msg.section((), "HEADER") + msg.section((), "TEXT") == raw  # type: ignore[operator]
    assert msg.section((), "HEADER.FIELDS", ["subject", "from"]).endswith(b"\r\n")  # type: ignore[union-attr]
    assert msg.size == len(raw)
    parse_sexp(msg.envelope_wire())
    parse_sexp(msg.envelope_wire(utf8=True))
    parse_sexp(msg.body_structure())
    parse_sexp(msg.body_structure(extended=False))
    root = msg.structure
    assert root.start == 0 and root.end == len(raw)
    assert msg.section((), "HEADER") == root.mime_header
    for part in root.walk():
        assert part.start <= part.body_start <= part.end
        last = part.body_start
        for child in part.children:
            assert last <= child.start <= child.end <= part.end
            last = child.end
    for path, part in addressable(root, (), True):
        assert resolve_part(root, path) is part
        body = msg.section(path)
        mime = msg.section(path, "MIME")
        assert body == part.body and mime == part.mime_header
        assert mime + body == part.data  # type: ignore[operator]
        if part.kind is PartKind.MESSAGE:
            header, text = msg.section(path, "HEADER"), msg.section(path, "TEXT")
            assert header is not None and text is not None
            assert header + text == body
            fields = msg.section(path, "HEADER.FIELDS.NOT", ["x-a"])
            assert fields is not None and fields.endswith(b"\r\n")
        else:
            assert msg.section(path, "HEADER") is None
        with contextlib.suppress(UnknownTransferEncoding):
            msg.binary(path)
    with contextlib.suppress(UnknownTransferEncoding):
        assert msg.binary(()) is not None
    for what in ("body", "text", "subject", "from"):
        msg.search_text(what)
    msg.sent_date  # noqa: B018


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(raw: bytes) -> None:
    check_invariants(raw)


_FRAGMENTS = [
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"--",
    b"--foo bar",
    b"--foo bar--",
    b"--sub1",
    b"--==outer==",
    b"--==alt==--",
    b"Content-Type: multipart/mixed; boundary=foo\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: x-bad\r\n",
    b" folded",
    b"=?utf-8?b?",
    b"?=",
    b"\x00",
    b"\xff",
    b":",
    b"(",
    b'"',
    b"<",
    b";",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from([NESTED, DIGEST, FORWARD, MISSING_CLOSE, BASE64_PARTS])))
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(raw)))
        if draw(st.booleans()):
            raw[pos:pos] = draw(st.sampled_from(_FRAGMENTS))
        else:
            raw[pos : pos + draw(st.integers(1, 20))] = b""
    return bytes(raw)


@SETTINGS
@given(mutated())
def test_mutated_messages_keep_the_invariants(raw: bytes) -> None:
    check_invariants(raw)


def test_corpus_invariants() -> None:
    for raw in (NESTED, DIGEST, FORWARD, MISSING_CLOSE, BASE64_PARTS):
        check_invariants(raw)
        check_invariants(raw.replace(b"\r\n", b"\n"))
