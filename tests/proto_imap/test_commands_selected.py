"""Selected-state commands parsed from the examples of their RFCs (RFC 3501
section 6, RFC 9051 section 6, the extension RFCs), plus the grammar's edge cases."""

from __future__ import annotations

import datetime

import pytest

from mesyx.proto.imap import commands as c
from mesyx.proto.imap.fetch import (
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchItem,
    FetchModifiers,
    Partial,
    Section,
    SectionText,
)
from mesyx.proto.imap.search import (
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchModSeq,
    SearchNew,
    SearchNot,
    SearchOr,
    SearchReturn,
    SearchReturnOption,
    SearchSeq,
    SearchSize,
    SearchText,
    SearchUid,
    SortCriterion,
    SortKey,
)
from mesyx.proto.imap.sequence import SAVED, SeqRange, SequenceSet
from tests.proto_imap.helpers import bad, parse, seq

# -- selected state --------------------------------------------------------------------


def test_search_rfc3501_examples() -> None:
    assert parse('A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"') == c.Search(
        tag="A282",
        criteria=SearchAnd(
            (
                SearchFlag("\\Flagged", True),
                SearchDate("SINCE", datetime.date(1994, 2, 1)),
                SearchNot(SearchText("FROM", "Smith")),
            )
        ),
    )
    assert parse('A283 SEARCH TEXT "string not in mailbox"').criteria == SearchText(
        "TEXT", "string not in mailbox"
    )
    command = parse(b"A284 SEARCH CHARSET UTF-8 TEXT {6}\r\n" + "ŁÓŻ".encode() + b"\r\n")
    assert command == c.Search(tag="A284", charset="UTF-8", criteria=SearchText("TEXT", "ŁÓŻ"))
    # Other charsets decode their own bytes.
    command = parse(b"a SEARCH CHARSET ISO-8859-1 SUBJECT {4}\r\ncaf\xe9\r\n")
    assert command.criteria == SearchText("SUBJECT", "café")
    assert bad(b"a SEARCH CHARSET US-ASCII SUBJECT {4}\r\ncaf\xe9\r\n").command == "SEARCH"


def test_search_every_key() -> None:
    line = (
        "a UID SEARCH ALL ANSWERED BCC b BEFORE 1-Feb-1994 BODY x CC c DELETED DRAFT FLAGGED FROM f "
        'HEADER "X-Foo" bar KEYWORD $Junk LARGER 100 NEW NOT SEEN OLD ON "2-Feb-1994" OR 1 2 RECENT SEEN '
        "SENTBEFORE 3-Mar-2000 SENTON 3-Mar-2000 SENTSINCE 3-Mar-2000 SINCE 3-Mar-2000 SMALLER 5 SUBJECT s "
        "TEXT t TO u UID 1:*,$ UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD foo UNSEEN 5:3 (ALL DELETED) $"
    )
    line = line.replace("UID 1:*,$", "UID 1:*")
    keys = parse(line).criteria.keys
    d = datetime.date(2000, 3, 3)
    assert keys == (
        SearchAll(),
        SearchFlag("\\Answered", True),
        SearchText("BCC", "b"),
        SearchDate("BEFORE", datetime.date(1994, 2, 1)),
        SearchText("BODY", "x"),
        SearchText("CC", "c"),
        SearchFlag("\\Deleted", True),
        SearchFlag("\\Draft", True),
        SearchFlag("\\Flagged", True),
        SearchText("FROM", "f"),
        SearchHeader("X-Foo", "bar"),
        SearchFlag("$Junk", True),
        SearchSize(True, 100),
        SearchNew(),
        SearchNot(SearchFlag("\\Seen", True)),
        SearchFlag("\\Recent", False),
        SearchDate("ON", datetime.date(1994, 2, 2)),
        SearchOr(SearchSeq(seq("1")), SearchSeq(seq("2"))),
        SearchFlag("\\Recent", True),
        SearchFlag("\\Seen", True),
        SearchDate("SENTBEFORE", d),
        SearchDate("SENTON", d),
        SearchDate("SENTSINCE", d),
        SearchDate("SINCE", d),
        SearchSize(False, 5),
        SearchText("SUBJECT", "s"),
        SearchText("TEXT", "t"),
        SearchText("TO", "u"),
        SearchUid(seq("1:*")),
        SearchFlag("\\Answered", False),
        SearchFlag("\\Deleted", False),
        SearchFlag("\\Draft", False),
        SearchFlag("\\Flagged", False),
        SearchFlag("$Junk", False) if False else SearchFlag("foo", False),
        SearchFlag("\\Seen", False),
        SearchSeq(SequenceSet((SeqRange(5, 3),))),
        SearchAnd((SearchAll(), SearchFlag("\\Deleted", True))),
        SearchSeq(SAVED),
    )


def test_search_extensions() -> None:
    # RFC 4731 section 3.1 (ESEARCH) and RFC 5182 (SEARCHRES).
    command = parse('A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert command.returns == SearchReturn(frozenset({SearchReturnOption.MIN, SearchReturnOption.COUNT}))
    assert parse("A283 SEARCH RETURN () FLAGGED").returns == SearchReturn()
    assert parse("A301 UID SEARCH UID $ SMALLER 4096").criteria == SearchAnd(
        (SearchUid(SAVED), SearchSize(False, 4096))
    )
    assert parse("a SEARCH RETURN (SAVE MIN) 1:5").returns.options == {
        SearchReturnOption.SAVE,
        SearchReturnOption.MIN,
    }
    # RFC 5267 CONTEXT/PARTIAL.
    returns = parse("D01 UID SEARCH RETURN (PARTIAL 23500:24000) UNDELETED").returns
    assert returns == SearchReturn(frozenset({SearchReturnOption.PARTIAL}), (23500, 24000))
    # RFC 7162 section 3.1.5.
    assert parse('a SEARCH MODSEQ "/flags/\\\\draft" all 620162338').criteria == SearchModSeq(
        620162338, ("/flags/\\draft", "all")
    )
    assert parse("a SEARCH MODSEQ 0").criteria == SearchModSeq(0)


@pytest.mark.parametrize(
    "line",
    [
        "a SEARCH",
        "a SEARCH FOO",
        "a SEARCH FROM",
        "a SEARCH SINCE 31-Feb-1994",
        "a SEARCH SINCE 1-Foo-1994",
        "a SEARCH SINCE 1994-02-01",
        "a SEARCH LARGER x",
        "a SEARCH (ALL",
        "a SEARCH ()",
        "a SEARCH OR ALL",
        "a SEARCH 0",
        "a SEARCH 1,",
        "a SEARCH 4294967296",
        "a SEARCH $,1",
        "a SEARCH RETURN (FOO) ALL",
        "a SEARCH RETURN (MIN MIN) ALL",
        "a SEARCH RETURN (PARTIAL 0:5) ALL",
        "a SEARCH KEYWORD \\Seen",
        'a SEARCH MODSEQ "/foo" all 5',
        'a SEARCH MODSEQ "/flags/x" some 5',
        "a SEARCH  ALL",
        "a SEARCH ALL ",
    ],
)
def test_search_bad(line: str) -> None:
    assert bad(line).command == "SEARCH"


def test_search_unknown_charset_is_no_badcharset() -> None:
    event = bad("A284 SEARCH CHARSET KLINGON TEXT x")
    assert (event.tag, event.status) == ("A284", "NO")
    assert event.code is not None and event.code.startswith("BADCHARSET (US-ASCII UTF-8")


def test_fetch_rfc_examples() -> None:
    assert parse("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])") == c.Fetch(
        tag="A654",
        messages=seq("2:4"),
        attributes=(
            FetchItem.FLAGS,
            FetchBody(Section((), SectionText.HEADER_FIELDS, ("DATE", "FROM"))),
        ),
    )
    assert parse("A999 UID FETCH 4827313:4828442 FLAGS") == c.Fetch(
        tag="A999", messages=seq("4827313:4828442"), attributes=(FetchItem.FLAGS,), uid=True
    )
    assert parse("a FETCH 1 ALL").attributes == (
        FetchItem.FLAGS,
        FetchItem.INTERNALDATE,
        FetchItem.RFC822_SIZE,
        FetchItem.ENVELOPE,
    )
    assert parse("a FETCH 1 fast").attributes == (
        FetchItem.FLAGS,
        FetchItem.INTERNALDATE,
        FetchItem.RFC822_SIZE,
    )
    assert parse("a FETCH 1 FULL").attributes[-1] is FetchItem.BODY
    assert parse("A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)").messages is SAVED


def test_fetch_every_attribute() -> None:
    line = (
        "a FETCH 1:* (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE "
        "UID MODSEQ BODY[] BODY.PEEK[]<0.100> BODY[1.2.3] BODY[HEADER] BODY[1.TEXT] BODY[2.MIME] "
        "BODY[3.HEADER.FIELDS.NOT (X-A \"X B\")] BINARY[1.2] BINARY.PEEK[]<5.10> BINARY.SIZE[3] BINARY.SIZE[])"
    )
    assert parse(line).attributes == (
        FetchItem.ENVELOPE,
        FetchItem.FLAGS,
        FetchItem.INTERNALDATE,
        FetchItem.RFC822,
        FetchItem.RFC822_HEADER,
        FetchItem.RFC822_SIZE,
        FetchItem.RFC822_TEXT,
        FetchItem.BODY,
        FetchItem.BODYSTRUCTURE,
        FetchItem.UID,
        FetchItem.MODSEQ,
        FetchBody(Section()),
        FetchBody(Section(), Partial(0, 100), peek=True),
        FetchBody(Section((1, 2, 3))),
        FetchBody(Section((), SectionText.HEADER)),
        FetchBody(Section((1,), SectionText.TEXT)),
        FetchBody(Section((2,), SectionText.MIME)),
        FetchBody(Section((3,), SectionText.HEADER_FIELDS_NOT, ("X-A", "X B"))),
        FetchBinary((1, 2)),
        FetchBinary((), Partial(5, 10), peek=True),
        FetchBinarySize((3,)),
        FetchBinarySize(()),
    )


def test_fetch_modifiers() -> None:
    # RFC 7162 sections 3.1.4.2 and 3.2.6.
    assert parse("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)").modifiers == FetchModifiers(12345)
    assert parse("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)").modifiers == FetchModifiers(
        12345, True
    )
    assert bad("s100 FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)").tag == "s100"
    assert bad("s100 UID FETCH 300:500 (FLAGS) (VANISHED)")
    assert bad("s100 UID FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)")


@pytest.mark.parametrize(
    "line",
    [
        "a FETCH 1",
        "a FETCH 1 ()",
        "a FETCH 1 FOO",
        "a FETCH 1 (ALL)",
        "a FETCH 1 BODY.PEEK",
        "a FETCH 1 BODY[MIME]",  # MIME needs a part
        "a FETCH 1 BODY[0]",
        "a FETCH 1 BODY[1.]",
        "a FETCH 1 BODY[HEADER.FIELDS]",
        "a FETCH 1 BODY[HEADER.FIELDS ()]",
        "a FETCH 1 BODY[TEXT",
        "a FETCH 1 BODY[]<0>",
        "a FETCH 1 BODY[]<0.0>",
        "a FETCH 1 BINARY",
        "a FETCH 1 BINARY[TEXT]",
        "a FETCH 1 BINARY.SIZE",
        "a FETCH 1 (FLAGS  UID)",
        "a FETCH * :1 FLAGS",
        "a FETCH 1:2:3 FLAGS",
    ],
)
def test_fetch_bad(line: str) -> None:
    assert bad(line).command == "FETCH"


def test_store() -> None:
    assert parse("A003 STORE 2:4 +FLAGS (\\Deleted)") == c.Store(
        tag="A003", messages=seq("2:4"), mode=c.StoreMode.ADD, flags=("\\Deleted",)
    )
    # RFC 7162 section 3.1.3.
    assert parse("a103 UID STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)") == c.Store(
        tag="a103",
        messages=seq("7,5,9"),
        mode=c.StoreMode.ADD,
        flags=("\\Deleted",),
        silent=True,
        unchanged_since=320162338,
        uid=True,
    )
    assert parse("a STORE 1 FLAGS ()").flags == ()
    assert parse("a STORE 1 -flags \\seen $Forwarded").flags == ("\\Seen", "$Forwarded")
    assert parse("a STORE 1 +FLAGS (\\Seen $Forwarded $Label1)").flags == ("\\Seen", "$Forwarded", "$Label1")
    for line in ["a STORE 1 FLAGS", "a STORE 1 *FLAGS (x)", "a STORE 1 (FOO 1) FLAGS (x)", "a STORE 1 +FLAGS ((x))"]:
        assert bad(line).command == "STORE"


def test_copy_move_expunge() -> None:
    assert parse("A003 COPY 2:4 MEETING") == c.Copy(tag="A003", messages=seq("2:4"), mailbox="MEETING")
    assert parse('A283 UID COPY $ "Other Messages"') == c.Copy(
        tag="A283", messages=SAVED, mailbox="Other Messages", uid=True
    )
    # RFC 6851 section 4.1, RFC 4315 section 2.1.
    assert parse("a UID MOVE 42:69 foo") == c.Move(tag="a", messages=seq("42:69"), mailbox="foo", uid=True)
    assert parse("A003 UID EXPUNGE 3000:3002") == c.Expunge(tag="A003", uids=seq("3000:3002"))
    assert parse("A003 UID EXPUNGE 3000:3002").display_name == "UID EXPUNGE"
    assert bad("a UID EXPUNGE")
    assert bad("a UID NOOP").text.startswith("UID NOOP")
    assert bad("a COPY 1").command == "COPY"


def test_sort_thread() -> None:
    # RFC 5256 section 3.
    assert parse("A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994") == c.Sort(
        tag="A282",
        criteria=(SortCriterion(SortKey.SUBJECT),),
        charset="UTF-8",
        search=SearchDate("SINCE", datetime.date(1994, 2, 1)),
    )
    assert parse("A285 SORT (SUBJECT REVERSE DATE) UTF-8 ALL").criteria == (
        SortCriterion(SortKey.SUBJECT),
        SortCriterion(SortKey.DATE, reverse=True),
    )
    assert parse("A283 UID SORT (REVERSE ARRIVAL) US-ASCII ALL").uid
    # RFC 5957 and RFC 5267 section 3.
    assert parse("a SORT (DISPLAYFROM DISPLAYTO) UTF-8 ALL").criteria[0].key is SortKey.DISPLAYFROM
    command = parse("A301 SORT RETURN (ALL) (DATE) UTF-8 UNDELETED UNKEYWORD $Junk")
    assert command.returns == SearchReturn(frozenset({SearchReturnOption.ALL}))
    assert parse("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000") == c.Thread(
        tag="A283", algorithm="ORDEREDSUBJECT", charset="UTF-8", search=SearchDate("SINCE", datetime.date(2000, 3, 5))
    )
    assert parse('A284 THREAD REFERENCES US-ASCII TEXT "gewp"').search == SearchText("TEXT", "gewp")
    assert parse('a SORT (DATE) "utf-8" ALL').charset == "UTF-8"
    for line in ["a SORT () UTF-8 ALL", "a SORT (FOO) UTF-8 ALL", "a SORT (DATE) ALL", "a SORT (REVERSE) UTF-8 ALL"]:
        assert bad(line).command == "SORT"
    assert bad("a THREAD REFERENCES KLINGON ALL").status == "NO"


def test_cancelupdate() -> None:
    assert parse('C01 CANCELUPDATE "B01"') == c.CancelUpdate(tag="C01", tags=("B01",))
    assert parse('C01 CANCELUPDATE "B01" "B02"').tags == ("B01", "B02")
    assert bad("C01 CANCELUPDATE")
    assert bad("C01 CANCELUPDATE B01")


