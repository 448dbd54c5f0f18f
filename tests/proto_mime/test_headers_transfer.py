"""Header blocks and fields, MIME parameters, base64 and quoted-printable."""

from __future__ import annotations

import pytest

from mesyx.proto.mime import HeaderBlock, ParsedMessage, UnknownTransferEncoding, decode_transfer
from mesyx.proto.mime.params import param, parse_content_type, parse_disposition, parse_language
from mesyx.proto.mime.transfer import decode_base64, decode_quoted_printable
from tests.proto_mime.corpus import crlf

HEADER = crlf(
    "Received: from a\n\tby b\nSubject: first\n  folded\nX-Empty:\nno colon line\nsubject : second\n"
    "X-Long: 1\n 2\n 3\n\nbody\n"
)


def test_header_block_lookup() -> None:
    h = HeaderBlock.parse(HEADER)
    assert h.block == HEADER[: HEADER.index(b"body")]
    assert h.get("SUBJECT") == b"first  folded"
    assert h.get_all(b"subject") == [b"first  folded", b"second"]
    assert h.get("x-empty") == b""
    assert h.get("x-missing") is None
    assert "received" in h and "no colon line" not in h
    assert h.get("x-long") == b"1 2 3"
    assert [name for name, _ in h.items()] == [b"received", b"subject", b"x-empty", b"subject", b"x-long"]


def test_header_fields_selection_keeps_folding_and_order() -> None:
    h = HeaderBlock.parse(HEADER)
    assert h.select(["subject", "received"]) == crlf(
        "Received: from a\n\tby b\nSubject: first\n  folded\nsubject : second\n\n"
    )
    assert h.select(["SUBJECT", "subject"]) == crlf("Subject: first\n  folded\nsubject : second\n\n")
    assert h.select(["nothing"]) == b"\r\n"
    assert h.select(["subject", "received", "x-long"], exclude=True) == crlf("X-Empty:\nno colon line\n\n")


def test_header_fields_of_a_header_without_final_newline() -> None:
    msg = ParsedMessage(b"A: 1\r\nB: 2")
    assert msg.section((), "HEADER.FIELDS", ["b"]) == b"B: 2\r\n\r\n"
    assert msg.section((), "HEADER.FIELDS.NOT", ["b"]) == b"A: 1\r\n\r\n"


def test_header_with_8bit_name_and_nul() -> None:
    h = HeaderBlock.parse(b"X-\xff: v\x00w\r\n\r\n")
    assert h.get(b"x-\xff") == b"v\x00w"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"text/plain", (b"text", b"plain", [])),
        (b"TEXT/Plain; CHARSET=UTF-8", (b"TEXT", b"Plain", [(b"CHARSET", b"UTF-8")])),
        (b' text / html ; charset = "utf-8" ; x="a\\"b"', (b"text", b"html", [(b"charset", b"utf-8"), (b"x", b'a"b')])),
        (b"text/plain (comment); a=1 (c2); b=2", (b"text", b"plain", [(b"a", b"1"), (b"b", b"2")])),
        (b"multipart/mixed; boundary=----=_Part_1_2.3", (b"multipart", b"mixed", [(b"boundary", b"----=_Part_1_2.3")])),
        (b"multipart/mixed; ;garbage; boundary=x", (b"multipart", b"mixed", [(b"boundary", b"x")])),
        (b"a/b; t*0=\"one \"; t*1=two; u*=utf-8''%41", (b"a", b"b", [(b"t", b"one two"), (b"u*", b"utf-8''%41")])),
        (b"a/b; t=plain; t*0=x", (b"a", b"b", [(b"t", b"plain")])),
        (b'a/b; q="unterminated', (b"a", b"b", [(b"q", b"unterminated")])),
    ],
)
def test_content_type(value: bytes, expected: tuple[bytes, bytes, list[tuple[bytes, bytes]]]) -> None:
    assert tuple(parse_content_type(value) or ()) == expected


@pytest.mark.parametrize("value", [None, b"", b"text", b"/x", b"text/", b"(only a comment)", b"t\x00/x"])
def test_broken_content_type(value: bytes | None) -> None:
    assert parse_content_type(value) is None


def test_disposition_and_language() -> None:
    assert parse_disposition(b'attachment; filename="a b.txt"') == (b"attachment", [(b"filename", b"a b.txt")])
    assert parse_disposition(b";") is None
    assert parse_language(b"en-US, de") == [b"en-US", b"de"]
    assert parse_language(b"") is None
    assert param([(b"Charset", b"x")], b"CHARSET") == b"x"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"aGVsbG8=", b"hello"),
        (b"aGVs\r\nbG8=\r\n", b"hello"),
        (b"aGVsbG8", b"hello"),  # missing padding
        (b"aGVsbG8=d29ybGQ=", b"helloworld"),  # padded runs one after another
        (b"a", b""),
        (b"!!aGVs*bG8=??", b"hello"),
        (b"", b""),
        (b"====", b""),
    ],
)
def test_base64(data: bytes, expected: bytes) -> None:
    assert decode_base64(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"caf=E9", b"caf\xe9"),
        (b"caf=e9", b"caf\xe9"),
        (b"soft=\r\nbreak", b"softbreak"),
        (b"soft= \t\r\nbreak", b"softbreak"),
        (b"trailing   \r\nspace\t\r\n", b"trailing\r\nspace\r\n"),
        (b"bad =ZZ and =4", b"bad =ZZ and =4"),
        (b"end=", b"end"),
        (b"under_score", b"under_score"),
        (b"lf\nonly=\nx", b"lf\nonlyx"),
    ],
)
def test_quoted_printable(data: bytes, expected: bytes) -> None:
    assert decode_quoted_printable(data) == expected


def test_transfer_identity_and_unknown() -> None:
    for enc in (None, b"7bit", b"8BIT", b"Binary"):
        assert decode_transfer(b"a=41", enc) == b"a=41"
    assert decode_transfer(b"a=41", b"Quoted-Printable") == b"aA"
    with pytest.raises(UnknownTransferEncoding) as info:
        decode_transfer(b"x", b"x-uuencode")
    assert info.value.kind == "unknown-cte"


def test_binary_unknown_cte_raises_and_other_parts_work() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n"
        "--b\nContent-Transfer-Encoding: base64\n\naGk=\n--b--\n"
    )
    msg = ParsedMessage(raw)
    with pytest.raises(UnknownTransferEncoding):
        msg.binary((1,))
    with pytest.raises(UnknownTransferEncoding):
        msg.binary(())
    assert msg.binary((2,)) == b"hi"
    assert msg.section((1,)) == b"begin"


def test_binary_of_a_multipart_rewrites_converted_parts() -> None:
    raw = crlf(
        "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\npre\n--b\n"
        "Content-Type: text/plain\nContent-Transfer-Encoding: base64\nX-After: 1\n\naGk=\n"
        "--b\nContent-Type: text/plain\n\nplain\n--b--\npost\n"
    )
    msg = ParsedMessage(raw)
    assert msg.binary(()) == crlf(
        "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\npre\n--b\n"
        "Content-Type: text/plain\nX-After: 1\nContent-Transfer-Encoding: binary\n\nhi\n"
        "--b\nContent-Type: text/plain\n\nplain\n--b--\npost\n"
    )
    single = ParsedMessage(crlf("Subject: s\nContent-Transfer-Encoding: base64\n\naGk=\n"))
    assert (
        single.binary(()) == crlf("Subject: s\nContent-Transfer-Encoding: binary\n\n").rstrip(b"\r\n") + b"\r\n\r\nhi"
    )
    assert single.binary((1,)) == b"hi"
    assert single.binary((2,)) is None
    assert single.binary_size((2,)) is None
