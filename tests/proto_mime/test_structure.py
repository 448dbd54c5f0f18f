"""The boundary scanner and the MIME tree: offsets, RFC 2046 section 5.1 rules, broken mail."""

from __future__ import annotations

from mesyx.proto.mime import ParsedMessage, PartKind, parse_structure
from mesyx.proto.mime.structure import MAX_DEPTH, MimePart
from tests.proto_mime.corpus import (
    BARE_LF,
    DIGEST,
    EMPTY,
    FORWARD,
    MISSING_CLOSE,
    NESTED,
    NO_HEADERS,
    ONLY_HEADERS,
    RFC822_X2,
    crlf,
)


def shape(part: MimePart) -> object:
    t, s = part.media_type
    name = (t + b"/" + s).decode().lower()
    if part.children:
        return (name, [shape(c) for c in part.children])
    return name


def test_nested_shape_and_offsets() -> None:
    root = parse_structure(NESTED)
    assert shape(root) == (
        "multipart/mixed",
        ["text/x-myown", ("message/rfc822", [("multipart/alternative", ["text/html", "text/plain"])])],
    )
    assert root.start == 0 and root.end == len(NESTED)
    text, message = root.children
    assert text.body == b"hello\r\n"
    assert message.children[0].start == message.body_start
    assert message.children[0].end == message.end


def test_every_part_lies_inside_its_parent() -> None:
    for raw in (NESTED, DIGEST, RFC822_X2, FORWARD, MISSING_CLOSE, BARE_LF):
        for part in parse_structure(raw).walk():
            assert part.start <= part.body_start <= part.end <= len(raw)
            last = part.body_start
            for child in part.children:
                assert last <= child.start <= child.end <= part.end
                last = child.end


def test_forward_structure() -> None:
    msg = ParsedMessage(FORWARD)
    assert shape(msg.structure) == (
        "multipart/mixed",
        [
            ("multipart/alternative", ["text/plain", "text/html"]),
            "application/pdf",
            ("message/rfc822", ["text/plain"]),
        ],
    )
    assert msg.section((1, 2)) == b"<p>Hello <b>world</b></p>"
    assert msg.section((2,)) == b"JVBERi0xLjQKJcOkw7zDtsOfCg=="
    assert msg.binary((2,)) == b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n"
    assert msg.section((3,), "TEXT") == b"Ol=E9, secret word: zanzibar"
    assert msg.binary((3, 1)) == b"Ol\xe9, secret word: zanzibar"
    assert msg.section((4,)) is None
    assert msg.section((1, 3)) is None


def test_missing_closing_boundaries() -> None:
    root = parse_structure(MISSING_CLOSE)
    assert shape(root) == ("multipart/mixed", [("multipart/alternative", ["text/plain", "text/plain"]), "text/plain"])
    alternative, third = root.children
    assert alternative.children[1].body == b"second"
    assert third.body == b"third\r\n"
    assert third.end == len(MISSING_CLOSE)


def test_bare_lf() -> None:
    msg = ParsedMessage(BARE_LF)
    assert msg.section((1,)) == b"one\ntwo\n"
    assert msg.section((1,), "MIME") == b"Content-Type: text/plain\n\n"
    assert msg.section((2,)) == b"three"
    assert msg.section((), "HEADER").endswith(b"b1\n\n")  # type: ignore[union-attr]
    assert msg.body_structure(extended=False) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 2)'
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0) "mixed")'
    )


def test_no_headers_only_headers_empty() -> None:
    msg = ParsedMessage(NO_HEADERS)
    assert msg.section((), "HEADER") == b"\r\n"
    assert msg.section((), "TEXT") == NO_HEADERS[2:]
    assert msg.section((1,)) == NO_HEADERS[2:]
    assert msg.envelope_wire() == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    msg = ParsedMessage(ONLY_HEADERS)
    assert msg.section((), "HEADER") == ONLY_HEADERS
    assert msg.section((), "TEXT") == b""
    assert msg.section((), "HEADER.FIELDS", ["from"]) == b"From: a@b.c\r\n\r\n"
    msg = ParsedMessage(EMPTY)
    assert msg.section(()) == b""
    assert msg.section((1,)) == b""
    assert msg.body_structure() == b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'


def test_crlf_before_boundary_belongs_to_it() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nA\n\n\n--b\n\nB\n--b--\n")
    root = parse_structure(raw)
    assert [c.body for c in root.children] == [b"A\r\n\r\n", b"B"]


def test_boundary_with_transport_padding_and_prefix_match() -> None:
    # RFC 2046: the boundary need only start the line; "--b  " and "--b--x" still count.
    raw = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b  \n\nA\n--b\t\n\nB\n--b--trailing\nepilogue\n")
    root = parse_structure(raw)
    assert [c.body for c in root.children] == [b"A", b"B"]
    assert root.end == len(raw)


def test_longest_boundary_wins() -> None:
    # The inner boundary "ab" + "c" starts with the outer "ab": its lines belong to the inner multipart.
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=ab\n\n"
        "--ab\nContent-Type: multipart/mixed; boundary=abc\n\n"
        "--abc\n\nI1\n--abc\n\nI2\n--abc--\n"
        "--ab\n\nO2\n--ab--\n"
    )
    root = parse_structure(raw)
    assert shape(root) == ("multipart/mixed", [("multipart/mixed", ["text/plain", "text/plain"]), "text/plain"])
    assert [c.body for c in root.children[0].children] == [b"I1", b"I2"]
    assert root.children[1].body == b"O2"


def test_same_boundary_nested_innermost_wins() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=x\n\n"
        "--x\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\nin\n--x--\n"
        "--x\n\nafter\n"
    )
    root = parse_structure(raw)
    # The inner multipart takes the lines; after its close the outer has no boundary left to match
    # other than its own, which the inner one shadowed: "--x" after the close is the outer's.
    assert root.children[0].children[0].body == b"in"
    assert root.children[-1].body == b"after\r\n"


def test_boundary_inside_a_header_ends_the_part() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b\n\nsecond\n--b--\n")
    msg = ParsedMessage(raw)
    first, second = msg.structure.children
    assert first.mime_header == b"Content-Type: text/plain"
    assert first.body == b""
    assert second.body == b"second"
    assert msg.section((1,), "MIME") == b"Content-Type: text/plain"


def test_multipart_without_boundary_or_parts() -> None:
    msg = ParsedMessage(crlf("Content-Type: multipart/mixed\n\nno boundary here\n"))
    assert msg.structure.children == []
    assert msg.body_structure(extended=False) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")'
    )
    msg = ParsedMessage(crlf("Content-Type: multipart/mixed; boundary=q\n\njust a preamble\n"))
    assert msg.structure.children == []
    assert msg.section((1,)) is None


def test_close_before_open() -> None:
    root = parse_structure(crlf("Content-Type: multipart/mixed; boundary=q\n\n--q--\n--q\n\nnot a part\n"))
    assert root.children == []


def test_two_boundaries_in_a_row_give_an_empty_part() -> None:
    root = parse_structure(crlf("Content-Type: multipart/mixed; boundary=q\n\n--q\n--q\n\nx\n--q--\n"))
    assert [c.data for c in root.children] == [b"", b"\r\nx"]


def test_message_rfc822_without_body() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: message/rfc822\n--q--\n")
    msg = ParsedMessage(raw)
    part = msg.structure.children[0]
    assert part.kind is PartKind.MESSAGE and part.children[0].data == b""
    assert msg.section((1,), "HEADER") == b""
    assert b'"message" "rfc822"' in msg.body_structure()


def test_depth_limit_keeps_an_opaque_leaf() -> None:
    depth = MAX_DEPTH + 20
    raw = b"".join(b"Content-Type: message/rfc822\r\n\r\n" for _ in range(depth)) + b"Subject: deep\r\n\r\nbody\r\n"
    msg = ParsedMessage(raw)
    parts = msg.structure.walk()
    assert len(parts) == MAX_DEPTH + 1
    assert parts[-1].overflow and parts[-1].media_type == (b"application", b"octet-stream")
    assert msg.body_structure().count(b"(") > MAX_DEPTH


def test_deep_multipart_nesting_does_not_overflow_the_stack() -> None:
    depth = 300
    head = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(depth))
    raw = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n" + head + b"--b%d\r\n\r\nleaf\r\n" % depth
    msg = ParsedMessage(raw)
    assert msg.body_structure()
    assert msg.section(()) == raw


def test_broken_content_type_defaults_to_text_plain() -> None:
    for value in (b"text", b"/plain", b"garbage here", b"", b";;;", b"text/"):
        raw = b"Content-Type: " + value + b"\r\n\r\nbody\r\n"
        assert ParsedMessage(raw).body_structure(extended=False) == (
            b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1)'
        ), value


def test_lines_counted_as_line_feeds() -> None:
    assert parse_structure(b"\r\na\r\nb").lines == 1
    assert parse_structure(b"\r\na\r\nb\r\n").lines == 2
    assert parse_structure(b"\r\n").lines == 0


def test_boundary_line_right_after_a_boundary_line() -> None:
    # "--in-" opens an (empty) part of the inner multipart; the outer boundary on the next line
    # ends it. The line break before "--out" ended the "--in-" line, so it stays in the inner body.
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/mixed; boundary=in\n\n"
        "--in\n\nA\n--in-\n--out\n\nB\n--out--\n"
    )
    root = parse_structure(raw)
    inner, b = root.children
    assert [c.data for c in inner.children] == [b"\r\nA", b""]
    assert inner.body.endswith(b"--in-\r\n")
    assert inner.children[1].start == inner.end
    assert b.body == b"B"


def test_epilogue_directly_followed_by_outer_boundary() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/mixed; boundary=in\n\n"
        "--in\n\nA\n--in--\n--out\n\nB\n--out--\n"
    )
    inner = parse_structure(raw).children[0]
    assert inner.body.endswith(b"--in--\r\n")
