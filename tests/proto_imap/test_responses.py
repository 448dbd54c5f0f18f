"""The response encoder: RFC examples, value encoding choices, and sequence-set formatting."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.imap.fetch import (
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchItem,
    Partial,
    Section,
    SectionText,
    response_name,
)
from mesyx.proto.imap.parser import CommandReader, NeedContinuation
from mesyx.proto.imap.sequence import SeqRange, SequenceSet, compress_uids, format_message_set
from mesyx.proto.imap.values import (
    NIL,
    Atom,
    Literal,
    Quoted,
    Raw,
    encode_astring_text,
    encode_mailbox,
    encode_nstring,
    encode_string,
    encode_value,
    format_date_time,
    is_atom,
)


def test_status_lines() -> None:
    assert r.tagged("A142", "OK", "SELECT completed", r.Code.READ_WRITE) == b"A142 OK [READ-WRITE] SELECT completed\r\n"
    assert r.tagged("a", "NO", "bad password", r.Code.AUTHENTICATIONFAILED) == (
        b"a NO [AUTHENTICATIONFAILED] bad password\r\n"
    )
    assert r.tagged("a", "NO", "no such mailbox", r.Code.TRYCREATE) == b"a NO [TRYCREATE] no such mailbox\r\n"
    assert r.tagged("a", "NO", "", r.Code.ALREADYEXISTS) == b"a NO [ALREADYEXISTS] failed\r\n"
    assert r.tagged("a", "BAD", "x\r\ny") == b"a BAD x y\r\n"
    assert r.tagged("a", "OK", "[not a code]") == b"a OK -[not a code]\r\n"
    assert r.tagged("a", "OK", "caf\u00e9") == b"a OK caf?\r\n"
    assert r.tagged("a", "OK", "caf\u00e9", utf8=True) == "a OK café\r\n".encode()
    assert r.untagged_status("OK", "Mesyx ready", r.capability_code(["IMAP4rev1", "IMAP4rev2", "LITERAL+"])) == (
        b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Mesyx ready\r\n"
    )
    assert r.untagged_status("BYE", "Autologout; idle for too long") == b"* BYE Autologout; idle for too long\r\n"
    assert r.untagged_status("OK", "", r.Code.CLOSED) == b"* OK [CLOSED] completed\r\n"


def test_response_codes_with_arguments() -> None:
    assert r.uidvalidity(3857529045).encode() == b"[UIDVALIDITY 3857529045]"
    assert r.uidnext(4392).encode() == b"[UIDNEXT 4392]"
    assert r.unseen(12).encode() == b"[UNSEEN 12]"
    assert r.highestmodseq(715194045007).encode() == b"[HIGHESTMODSEQ 715194045007]"
    assert r.permanentflags(["\\Deleted", "\\Seen", "\\*"]).encode() == b"[PERMANENTFLAGS (\\Deleted \\Seen \\*)]"
    # RFC 4315 section 3's examples.
    assert r.tagged("A003", "OK", "APPEND completed", r.appenduid(38505, [3955])) == (
        b"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"
    )
    assert r.copyuid(38505, [304, 319, 320, 321, 322, 323], [3956, 3957, 3958, 3959, 3960, 3961]).encode() == (
        b"[COPYUID 38505 304,319:323 3956:3961]"
    )
    assert r.copyuid(1, [5, 3], [10, 11]).encode() == b"[COPYUID 1 5,3 10:11]"  # order kept
    assert r.appenduid(1, [7, 8, 9]).encode() == b"[APPENDUID 1 7:9]"  # MULTIAPPEND
    assert r.badcharset(["US-ASCII", "UTF-8"]).encode() == b"[BADCHARSET (US-ASCII UTF-8)]"
    assert r.modified([7, 9, 8, 12]).encode() == b"[MODIFIED 7:9,12]"
    assert r.ResponseCode("TOOBIG").encode() == b"[TOOBIG]"
    with pytest.raises(ValueError):
        r.copyuid(1, [1, 2], [3])
    with pytest.raises(ValueError):
        r.uidvalidity(0)
    with pytest.raises(ValueError):
        r.ResponseCode("BAD CODE")


def test_continuations() -> None:
    assert r.continuation() == b"+ Ready\r\n"
    assert r.continuation("idling") == b"+ idling\r\n"
    assert r.continuation_data(b"") == b"+ \r\n"
    assert r.continuation_data(b"\x00user") == b"+ AHVzZXI=\r\n"


def test_simple_data_responses() -> None:
    assert r.exists(172) == b"* 172 EXISTS\r\n"
    assert r.recent(1) == b"* 1 RECENT\r\n"
    assert r.expunge(3) == b"* 3 EXPUNGE\r\n"
    assert r.flags_response(["\\Answered", "\\Flagged", "$Junk"]) == b"* FLAGS (\\Answered \\Flagged $Junk)\r\n"
    assert r.capability_response(["IMAP4rev1", "AUTH=PLAIN"]) == b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
    assert r.enabled_response(["CONDSTORE"]) == b"* ENABLED CONDSTORE\r\n"
    assert r.enabled_response([]) == b"* ENABLED\r\n"
    assert r.untagged(Atom("OK"), Atom("[UNSEEN"), Atom("12]")) == b"* OK [UNSEEN 12]\r\n"


def test_fetch_response() -> None:
    # RFC 9051 section 7.5.2 (shortened) and RFC 3516 section 4.2.
    got = r.fetch_response(
        12,
        [
            ("FLAGS", r.flag_list(["\\Seen"])),
            ("INTERNALDATE", Quoted("17-Jul-1996 02:44:25 -0700")),
            ("RFC822.SIZE", 4286),
            ("UID", 4827313),
            ("MODSEQ", (624140003,)),
            ("BODY[HEADER.FIELDS (DATE FROM)]", b"Date: x\r\n\r\n"),
            ("BINARY[1]", Literal(b"a\x00b", binary=True)),
            ("ENVELOPE", ["Wed, 17 Jul 1996", "IMAP4rev2 WG mtg summary", None]),
        ],
    )
    assert got == (
        b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 UID 4827313 '
        b"MODSEQ (624140003) BODY[HEADER.FIELDS (DATE FROM)] {11}\r\nDate: x\r\n\r\n BINARY[1] ~{3}\r\na\x00b "
        b'ENVELOPE ("Wed, 17 Jul 1996" "IMAP4rev2 WG mtg summary" NIL))\r\n'
    )


def test_fetch_response_names() -> None:
    assert response_name(FetchItem.RFC822_SIZE) == "RFC822.SIZE"
    assert response_name(FetchBody(Section(), peek=True)) == "BODY[]"
    peek_text = FetchBody(Section((1, 2), SectionText.TEXT), Partial(0, 100), peek=True)
    assert response_name(peek_text) == "BODY[1.2.TEXT]<0>"
    assert response_name(FetchBody(Section((), SectionText.HEADER_FIELDS, ("Date", "X Y")))) == (
        'BODY[HEADER.FIELDS (Date "X Y")]'
    )
    assert response_name(FetchBody(Section((3,), SectionText.MIME))) == "BODY[3.MIME]"
    assert response_name(FetchBinary((1,), Partial(5, 10), peek=True)) == "BINARY[1]<5>"
    assert response_name(FetchBinarySize((1, 2))) == "BINARY.SIZE[1.2]"
    assert response_name(FetchBinarySize(())) == "BINARY.SIZE[]"
    with pytest.raises(ValueError):
        Section((), SectionText.MIME)
    with pytest.raises(ValueError):
        Section((), SectionText.HEADER_FIELDS)


def test_list_and_status_responses() -> None:
    assert r.list_response(["\\Noselect"], "/", "~/Mail/foo") == b'* LIST (\\Noselect) "/" "~/Mail/foo"\r\n'
    assert r.list_response(["\\HasNoChildren", "\\Drafts"], "/", "Entwürfe") == (
        b'* LIST (\\HasNoChildren \\Drafts) "/" "Entw&APw-rfe"\r\n'
    )
    assert r.list_response([], None, "Entwürfe", utf8=True) == '* LIST () NIL "Entwürfe"\r\n'.encode()
    # RFC 5258 section 5: extended data.
    assert r.list_response(["\\Subscribed"], "/", "Foo", extended=[("CHILDINFO", ["SUBSCRIBED"])]) == (
        b'* LIST (\\Subscribed) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))\r\n'
    )
    assert r.list_response(["\\Subscribed"], ".", "Fruit", kind="LSUB") == b'* LSUB (\\Subscribed) "." "Fruit"\r\n'
    assert r.status_response("blurdybloop", {c.StatusItem.MESSAGES: 231, c.StatusItem.UIDNEXT: 44292}) == (
        b'* STATUS "blurdybloop" (MESSAGES 231 UIDNEXT 44292)\r\n'
    )
    assert r.status_response('we"ird', {"HIGHESTMODSEQ": 7}) == b'* STATUS "we\\"ird" (HIGHESTMODSEQ 7)\r\n'


def test_search_responses() -> None:
    assert r.search_response([2, 84, 882]) == b"* SEARCH 2 84 882\r\n"
    assert r.search_response([]) == b"* SEARCH\r\n"
    assert r.search_response([2, 5, 6, 7, 11, 12, 18, 19, 20, 23], modseq=917162500) == (
        b"* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n"
    )
    assert r.search_response([5, 3, 4], kind="SORT") == b"* SORT 5 3 4\r\n"
    # RFC 4731 section 3.1's examples.
    assert r.esearch_response("A282", min=2, count=3) == b'* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n'
    assert r.esearch_response("A283", all=[2, 10, 11]) == b'* ESEARCH (TAG "A283") ALL 2,10:11\r\n'
    assert r.esearch_response("A285", uid=True, min=7, max=3800) == b'* ESEARCH (TAG "A285") UID MIN 7 MAX 3800\r\n'
    assert r.esearch_response("A284", count=0) == b'* ESEARCH (TAG "A284") COUNT 0\r\n'
    assert r.esearch_response("A286", all=[]) == b'* ESEARCH (TAG "A286")\r\n'
    assert r.esearch_response(None, all=[5, 1, 2, 3]) == b"* ESEARCH ALL 5,1:3\r\n"  # ESORT keeps the order
    assert r.esearch_response("t", count=1, modseq=5, partial=((1, 100), [3])) == (
        b'* ESEARCH (TAG "t") COUNT 1 PARTIAL (1:100 3) MODSEQ 5\r\n'
    )
    assert r.esearch_response("t", partial=((1, 100), [])) == b'* ESEARCH (TAG "t") PARTIAL (1:100 NIL)\r\n'


def test_other_responses() -> None:
    # RFC 7162 section 3.2.10, RFC 2342 section 5, RFC 2971 section 3.3, RFC 5256 section 4.
    assert r.vanished_response([41, 43, 44, 45, 116], earlier=True) == b"* VANISHED (EARLIER) 41,43:45,116\r\n"
    assert r.vanished_response([405, 407, 408, 409, 410]) == b"* VANISHED 405,407:410\r\n"
    assert r.namespace_response([("", "/")]) == b'* NAMESPACE (("" "/")) NIL NIL\r\n'
    assert r.namespace_response([("", "/")], [("~", "/")], [("#shared/", "/"), ("#public/", None)]) == (
        b'* NAMESPACE (("" "/")) (("~" "/")) (("#shared/" "/")("#public/" NIL))\r\n'
    )
    assert r.id_response({"name": "Cyrus", "version": "1.5", "os": None}) == (
        b'* ID ("name" "Cyrus" "version" "1.5" "os" NIL)\r\n'
    )
    assert r.id_response(None) == b"* ID NIL\r\n"
    assert r.thread_response([(2,), (3, 6, (4, 23), (44, 7, 96))]) == b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
    assert r.thread_response([((3, 5), (8,))]) == b"* THREAD ((3 5)(8))\r\n"
    assert r.thread_response([(1, (2, 3))]) == b"* THREAD (1 2 3)\r\n"
    assert r.thread_response([]) == b"* THREAD\r\n"


# -- values ----------------------------------------------------------------------------


def test_string_choices() -> None:
    assert encode_string("INBOX") == b'"INBOX"'
    assert encode_string("") == b'""'
    assert encode_string('a "b" \\c') == b'"a \\"b\\" \\\\c"'
    assert encode_string("line\r\nbreak") == b"{11}\r\nline\r\nbreak"
    assert encode_string(b"a\x00b") == b"{3}\r\na\x00b"
    assert encode_string("café") == b"{5}\r\ncaf\xc3\xa9"
    assert encode_string("café", utf8=True) == '"café"'.encode()
    assert encode_string(b"caf\xe9", utf8=True) == b"{4}\r\ncaf\xe9"  # not UTF-8: literal
    assert encode_string("x" * 5000).startswith(b"{5000}\r\n")
    assert encode_nstring(None) == b"NIL"
    assert encode_astring_text("DATE") == "DATE"
    assert encode_astring_text("NIL") == '"NIL"'
    assert encode_astring_text("a b") == '"a b"'
    assert encode_astring_text("") == '""'
    assert encode_mailbox("台北") == b'"&U,BTFw-"'
    assert encode_mailbox("台北", utf8=True) == '"台北"'.encode()


def test_encode_value() -> None:
    value = [Atom("\\Seen"), 42, None, NIL, "text", b"bytes", Quoted("q"), Literal(b"lit"), Raw(b"(raw)"), [[]]]
    assert encode_value(value) == b'(\\Seen 42 NIL NIL "text" "bytes" "q" {3}\r\nlit (raw) (()))'
    assert encode_value(Literal(b"\x00", binary=True)) == b"~{1}\r\n\x00"
    for bad_value in (-1, True, Quoted("a\r\nb"), Quoted("café")):
        with pytest.raises(ValueError):
            encode_value(bad_value)  # type: ignore[arg-type]
    assert encode_value(Quoted("café"), utf8=True) == '"café"'.encode()
    for bad_atom in ("", "a b", "(x", 'a"', "café"):
        with pytest.raises(ValueError):
            Atom(bad_atom)
    assert is_atom("FLAGS") and not is_atom("a b") and not is_atom("") and not is_atom("a]")


def test_format_date_time() -> None:
    zone = datetime.timezone(datetime.timedelta(hours=-7))
    assert format_date_time(datetime.datetime(1996, 7, 17, 2, 44, 25, tzinfo=zone)) == "17-Jul-1996 02:44:25 -0700"
    zone = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    assert format_date_time(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=zone)) == "02-Jan-2024 03:04:05 +0530"
    assert format_date_time(datetime.datetime(2024, 1, 2)) == "02-Jan-2024 00:00:00 +0000"


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")), st.booleans())
def test_encoded_strings_parse_back(text: str, utf8: bool) -> None:
    """What the encoder writes as a string, the parser reads back as the same string."""
    wire = b"a LOGIN " + encode_string(text, utf8=utf8) + b" " + encode_string("x", utf8=utf8) + b"\r\n"
    got = [e for e in CommandReader(utf8_accept=utf8).feed(wire) if not isinstance(e, NeedContinuation)]
    assert got == [c.Login(tag="a", username=text, password="x")]


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_encoded_mailboxes_parse_back(name: str) -> None:
    wire = b"a DELETE " + encode_mailbox(name) + b"\r\n"
    got = [e for e in CommandReader().feed(wire) if not isinstance(e, NeedContinuation)]
    expected = "INBOX" if name.upper() == "INBOX" else name
    assert got == [c.Delete(tag="a", mailbox=expected)]


# -- sequence sets ---------------------------------------------------------------------


def expand(text: str, largest: int = 10**6) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = int(a), int(b or a)
        out.update(range(min(lo, hi), max(lo, hi) + 1))
    return out


def test_compress_examples() -> None:
    assert format_message_set([1, 2, 3, 4, 5, 7, 9, 10, 11, 12]) == "1:5,7,9:12"
    assert format_message_set([3]) == "3"
    assert format_message_set([5, 1, 2, 2, 3]) == "1:3,5"
    with pytest.raises(ValueError):
        format_message_set([])
    with pytest.raises(ValueError):
        format_message_set([0])
    with pytest.raises(ValueError):
        r.format_ordered_set([2**32])


@given(st.sets(st.integers(1, 2**32 - 1), min_size=1, max_size=60))
def test_compress_round_trip(numbers: set[int]) -> None:
    text = format_message_set(numbers)
    assert expand(text) == numbers
    # Minimal: no two ranges could be merged.
    spans = compress_uids(numbers).ranges
    for left, right in zip(spans, spans[1:], strict=False):
        assert right.first is not None and left.last is not None and right.first > left.last + 1


@given(st.lists(st.integers(1, 1000), min_size=1, max_size=40))
def test_ordered_set_keeps_order(numbers: list[int]) -> None:
    text = r.format_ordered_set(numbers)
    flat: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        flat.extend(range(int(a), int(b or a) + 1))
    assert flat == numbers


def test_sequence_set_semantics() -> None:
    s = SequenceSet((SeqRange(5, 3), SeqRange(None, None), SeqRange(8, None)))
    assert str(s) == "5:3,*,8:*"
    assert s.has_star
    assert s.intervals(10) == [(3, 5), (8, 10)]
    assert list(s.iter(10)) == [3, 4, 5, 8, 9, 10]
    assert s.contains(9, 10) and not s.contains(6, 10)
    # "8:*" with 6 messages is "6:8" (RFC 9051 section 9, seq-range): includes the largest.
    assert list(s.iter(6)) == [3, 4, 5, 6]
    assert list(SequenceSet((SeqRange(1, 4294967295),)).iter(3)) == [1, 2, 3]
    assert list(SequenceSet((SeqRange(None, None),)).iter(0)) == []
    assert SequenceSet.of(1, 2, 3, 7) == SequenceSet((SeqRange(1, 3), SeqRange(7, 7)))
    with pytest.raises(ValueError):
        SequenceSet(())
