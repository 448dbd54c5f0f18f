"""Each command parsed from the examples of its RFC (RFC 3501 section 6, RFC 9051 section 6,
and the extension RFCs), plus the grammar's edge cases."""

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
from mesyx.proto.imap.parser import CommandReader
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
from tests.proto_imap.helpers import bad, parse


def seq(text: str) -> SequenceSet:
    ranges = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        first = None if a == "*" else int(a)
        last = first if not b else None if b == "*" else int(b)
        ranges.append(SeqRange(first, last))
    return SequenceSet(tuple(ranges))


# -- any state, not authenticated -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "cls"),
    [
        ("a001 CAPABILITY", c.Capability),
        ("a002 NOOP", c.Noop),
        ("A023 LOGOUT", c.Logout),
        ("a001 STARTTLS", c.StartTls),
        ("A001 NAMESPACE", c.Namespace),
        ("a047 IDLE", c.Idle),
        ("FXXZ CHECK", c.Check),
        ("A341 CLOSE", c.Close),
        ("A343 UNSELECT", c.Unselect),
        ("A202 EXPUNGE", c.Expunge),
        ("a001 noop", c.Noop),
        ("a001 NoOp", c.Noop),
    ],
)
def test_commands_without_arguments(line: str, cls: type[c.Command]) -> None:
    command = parse(line)
    assert type(command) is cls
    assert command.tag == line.split()[0]


@pytest.mark.parametrize("line", ["a1 NOOP extra", "a1 NOOP ", "a1 CAPABILITY x", "a1 IDLE now"])
def test_no_arguments_allowed(line: str) -> None:
    assert bad(line).tag == "a1"


def test_login() -> None:
    assert parse("a001 LOGIN SMITH SESAME") == c.Login(tag="a001", username="SMITH", password="SESAME")
    assert parse('a1 LOGIN "fred smith" "p\\"w\\\\d"') == c.Login(tag="a1", username="fred smith", password='p"w\\d')
    # RFC 7888 section 3's example: non-synchronizing literals.
    assert parse(b"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n") == c.Login(
        tag="A001", username="FRED FOOBAR", password="fat man"
    )
    assert parse("a1 LOGIN user]x NIL").username == "user]x"  # ']' is an ASTRING-CHAR


def test_authenticate() -> None:
    assert parse("A001 AUTHENTICATE GSSAPI") == c.Authenticate(tag="A001", mechanism="GSSAPI")
    # RFC 4959 SASL-IR.
    assert parse("a AUTHENTICATE plain dGVzdAB0ZXN0AHRlc3Q=") == c.Authenticate(
        tag="a", mechanism="PLAIN", initial_response=b"test\x00test\x00test"
    )
    assert parse("a AUTHENTICATE EXTERNAL =").initial_response == b""
    assert bad("a AUTHENTICATE PLAIN dGVzd").command == "AUTHENTICATE"
    assert bad("a AUTHENTICATE PLAIN ***")


def test_id() -> None:
    # RFC 2971 section 3.3.
    assert parse('a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")') == c.Id(
        tag="a023", params=(("name", "sodr"), ("version", "19.34"), ("vendor", "Pink Floyd Music Limited"))
    )
    assert parse("a ID NIL") == c.Id(tag="a", params=None)
    assert parse('a ID ("os" NIL)') == c.Id(tag="a", params=(("os", None),))
    assert parse("a ID ()") == c.Id(tag="a", params=())
    assert bad('a ID ("name")')


def test_enable_and_compress() -> None:
    # RFC 5161 section 4.
    assert parse("t2 ENABLE CONDSTORE X-GOOD-IDEA") == c.Enable(tag="t2", capabilities=("CONDSTORE", "X-GOOD-IDEA"))
    assert parse("a ENABLE utf8=accept").capabilities == ("UTF8=ACCEPT",)
    assert bad("a ENABLE")
    # RFC 4978 section 3.
    assert parse("a COMPRESS DEFLATE") == c.Compress(tag="a", mechanism="DEFLATE")


# -- authenticated state ---------------------------------------------------------------


def test_select_examine() -> None:
    assert parse("A142 SELECT INBOX") == c.Select(tag="A142", mailbox="INBOX")
    assert parse("A142 SELECT inbox") == c.Select(tag="A142", mailbox="INBOX")  # RFC 3501 section 5.1
    assert parse("A932 EXAMINE blurdybloop") == c.Examine(tag="A932", mailbox="blurdybloop")
    # RFC 7162 section 3.1.8 and 3.2.5.1.
    assert parse("a SELECT INBOX (CONDSTORE)") == c.Select(tag="a", mailbox="INBOX", condstore=True)
    assert parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))") == c.Select(
        tag="A02",
        mailbox="INBOX",
        qresync=c.QResync(67890007, 20050715194045000, seq("41,43:211,214:541")),
    )
    line = (
        "B02 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
        "15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))"
    )
    q = parse(line).qresync
    assert q.known_uids == seq("1:29997")
    assert q.seq_match == (
        seq("5000,7500,9000,9990:9999"),
        seq("15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997"),
    )
    assert parse("a SELECT x (QRESYNC (1 2 (3 4)))").qresync == c.QResync(1, 2, None, (seq("3"), seq("4")))
    assert parse("a EXAMINE x (CONDSTORE QRESYNC (1 2))") == c.Examine(
        tag="a", mailbox="x", condstore=True, qresync=c.QResync(1, 2)
    )


@pytest.mark.parametrize(
    "line",
    [
        "a SELECT",
        "a SELECT INBOX ()",
        "a SELECT INBOX (FOO)",
        "a SELECT INBOX (CONDSTORE CONDSTORE)",
        "a SELECT INBOX (QRESYNC (0 1))",  # uidvalidity is nz-number
        "a SELECT INBOX (QRESYNC (1 2 1:*))",  # '*' is not allowed in known-uids
        "a SELECT INBOX (QRESYNC (1))",
        "a SELECT INBOX CONDSTORE",
    ],
)
def test_select_bad(line: str) -> None:
    assert bad(line).command in ("SELECT", None)


def test_create_delete_rename_subscribe() -> None:
    assert parse("A003 CREATE owatagusiam/") == c.Create(tag="A003", mailbox="owatagusiam/")
    # RFC 6154 section 5.2.
    assert parse('t1 CREATE "Important Messages" (USE (\\Important))') == c.Create(
        tag="t1", mailbox="Important Messages", special_use=("\\Important",)
    )
    assert parse("t1 CREATE MySpecial (USE (\\drafts \\Sent))").special_use == ("\\Drafts", "\\Sent")
    assert bad("t1 CREATE x (FOO (\\Drafts))")
    assert parse("A683 DELETE blurdybloop") == c.Delete(tag="A683", mailbox="blurdybloop")
    assert parse("A683 RENAME blurdybloop sarasoop") == c.Rename(tag="A683", mailbox="blurdybloop", new_name="sarasoop")
    assert parse("A002 SUBSCRIBE #news.comp.mail.mime") == c.Subscribe(tag="A002", mailbox="#news.comp.mail.mime")
    assert parse("A002 UNSUBSCRIBE #news.comp.mail.mime") == c.Unsubscribe(tag="A002", mailbox="#news.comp.mail.mime")


def test_mailbox_names_are_decoded() -> None:
    assert parse("a SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-").mailbox == "~peter/mail/台北/日本語"
    assert parse('a SELECT "Entw&APw-rfe"').mailbox == "Entwürfe"
    # Non-canonical modified UTF-7 is refused (RFC 3501 section 5.1.3).
    assert bad("a SELECT Entw&AGE-rfe").command == "SELECT"
    assert bad("a SELECT &Jjo!").command == "SELECT"
    # 8-bit without UTF8=ACCEPT: taken as UTF-8 when it is UTF-8 (a literal is 8-bit clean).
    assert parse("a SELECT {9}\r\nEntwürfe".encode() + b"\r\n").mailbox == "Entwürfe"
    assert bad(b"a SELECT {2}\r\n\xff\xfe\r\n")
    # With UTF8=ACCEPT (RFC 6855 section 3) names are UTF-8 and '&' is just '&'.
    reader = CommandReader(utf8_accept=True)
    assert parse('a SELECT "Entwürfe"', reader).mailbox == "Entwürfe"
    assert parse("a SELECT R&D", CommandReader(utf8_accept=True)).mailbox == "R&D"
    assert bad('a SELECT "Entwürfe"').text.startswith("8-bit")


def test_list() -> None:
    assert parse('A682 LIST "" *') == c.List(tag="A682", reference="", patterns=("*",))
    assert parse('A101 LIST "" ""') == c.List(tag="A101", reference="", patterns=("",))
    assert parse('A102 LIST #news.comp.mail.misc ""').reference == "#news.comp.mail.misc"
    assert parse("A202 LIST ~/Mail/ %").patterns == ("%",)
    assert parse("a LIST inbox %").reference == "inbox"
    assert parse("a LIST \"\" Lists/*]x").patterns == ("Lists/*]x",)
    # RFC 5258 section 5.
    assert parse('A01 LIST "" ("foo" "foo/*")') == c.List(
        tag="A01", reference="", patterns=("foo", "foo/*"), extended=True
    )
    assert parse('A02 LIST (SUBSCRIBED) "" "*"').selection == {c.ListSelect.SUBSCRIBED}
    assert parse('A03 LIST () "" "%" RETURN (CHILDREN)') == c.List(
        tag="A03", reference="", patterns=("%",), returns=c.ListReturn(children=True), extended=True
    )
    assert parse('A05 LIST (REMOTE SUBSCRIBED) "" "*"').selection == {
        c.ListSelect.REMOTE,
        c.ListSelect.SUBSCRIBED,
    }
    assert parse('C02 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)').extended
    # RFC 6154 section 5.1 and RFC 5819 section 5.
    assert parse('t1 LIST (SPECIAL-USE) "" "*"').selection == {c.ListSelect.SPECIAL_USE}
    assert parse('t1 LIST "" "%" RETURN (SPECIAL-USE)').returns == c.ListReturn(special_use=True)
    assert parse('A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))').returns == c.ListReturn(
        status=(c.StatusItem.MESSAGES, c.StatusItem.UNSEEN)
    )


@pytest.mark.parametrize(
    "line",
    [
        'a LIST (RECURSIVEMATCH) "" "%"',  # RFC 5258 section 3.1: needs a base option
        'a LIST (FOO) "" "%"',
        'a LIST "" "%" RETURN (FOO)',
        'a LIST "" "%" RETURN (STATUS ())',
        'a LIST "" "%" RETURN (STATUS (MESSAGES) STATUS (UNSEEN))',
        'a LIST "" "%" RETURN',
        'a LIST ""',
        'a LIST "" ()',
    ],
)
def test_list_bad(line: str) -> None:
    assert bad(line).command == "LIST"


def test_lsub_status() -> None:
    assert parse('A002 LSUB "#news." "comp.mail.*"') == c.Lsub(tag="A002", reference="#news.", pattern="comp.mail.*")
    assert parse("A042 STATUS blurdybloop (UIDNEXT MESSAGES)") == c.Status(
        tag="A042", mailbox="blurdybloop", items=(c.StatusItem.UIDNEXT, c.StatusItem.MESSAGES)
    )
    assert parse("a STATUS blurdybloop (MESSAGES HIGHESTMODSEQ SIZE DELETED)").items[1:] == (
        c.StatusItem.HIGHESTMODSEQ,
        c.StatusItem.SIZE,
        c.StatusItem.DELETED,
    )
    assert bad("a STATUS x ()")
    assert bad("a STATUS x (FOO)")
    assert bad("a STATUS x MESSAGES")


MESSAGE = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    b"Subject: afternoon meeting\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)


def test_append() -> None:
    wire = b"A003 APPEND saved-messages (\\Seen) {%d}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n"
    assert parse(wire) == c.Append(
        tag="A003", mailbox="saved-messages", messages=(c.AppendMessage(MESSAGE, ("\\Seen",)),)
    )
    wire = b'a APPEND INBOX " 7-Feb-1994 21:52:25 -0800" {%d+}\r\n' % len(MESSAGE) + MESSAGE + b"\r\n"
    message = parse(wire).messages[0]
    assert message.date == datetime.datetime(
        1994, 2, 7, 21, 52, 25, tzinfo=datetime.timezone(datetime.timedelta(hours=-8))
    )
    assert message.flags == ()
    # RFC 3502 MULTIAPPEND, with flags and dates per message.
    wire = (
        b"A003 APPEND saved-messages (\\Seen) {5}\r\nfirst (\\Seen $MDNSent) \" 1-Aug-2002 22:00:00 -0700\" {6}\r\n"
        b"second () ~{3}\r\na\x00b\r\n"
    )
    messages = parse(wire).messages
    assert [m.data for m in messages] == [b"first", b"second", b"a\x00b"]
    assert [m.flags for m in messages] == [("\\Seen",), ("\\Seen", "$MDNSent"), ()]
    assert [m.binary for m in messages] == [False, False, True]
    # A literal holds NUL only as literal8 (RFC 3516 section 4.4).
    assert bad(b"a APPEND x {3}\r\na\x00b\r\n").command == "APPEND"


def test_append_catenate() -> None:
    # RFC 4469 section 5's example, shortened.
    wire = (
        b'A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL "/Drafts;UIDVALIDITY=385759045/;UID=20/'
        b';section=HEADER" TEXT {9}\r\n\r\nHello\r\n URL "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME")\r\n'
    )
    message = parse(wire).messages[0]
    assert message.flags == ("\\Seen", "\\Draft", "$MDNSent")
    assert message.data == c.Catenate(
        (
            c.CatenateUrl("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER"),
            c.CatenateText(b"\r\nHello\r\n"),
            c.CatenateUrl("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME"),
        )
    )


@pytest.mark.parametrize(
    "wire",
    [
        b"a APPEND x\r\n",
        b"a APPEND x (\\Seen)\r\n",
        # Non-synchronizing: the data follows even though the command is refused.
        b'a APPEND x "31-Feb-2020 00:00:00 +0000" {1+}\r\nx\r\n',  # no such date
        b'a APPEND x "1-Feb-2020 00:00:00 +0099" {1+}\r\nx\r\n',  # zone minutes
        b'a APPEND x "1-Foo-2020 00:00:00 +0000" {1+}\r\nx\r\n',
        b"a APPEND x hello\r\n",
        b"a APPEND x CATENATE ()\r\n",
        b"a APPEND x CATENATE (FOO x)\r\n",
        b"a APPEND x {1}\r\nxy\r\n",
    ],
)
def test_append_bad(wire: bytes) -> None:
    assert bad(wire).command == "APPEND"


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


# -- tags and command words ------------------------------------------------------------


@pytest.mark.parametrize("tag", ["a", "A001", "0", "tag]", "a.b-c", "~!#$&'"])
def test_tags(tag: str) -> None:
    assert parse(f"{tag} NOOP").tag == tag


@pytest.mark.parametrize(
    ("line", "tag"),
    [
        ("+a NOOP", None),
        ("*a NOOP", None),
        ("a%b NOOP", None),
        ("a+b NOOP", None),
        ("(a NOOP", None),
        ("NOOP", None),
        ("a", None),
        ("* OK", None),
    ],
)
def test_bad_tags(line: str, tag: str | None) -> None:
    assert bad(line).tag == tag


def test_unknown_command_keeps_tag() -> None:
    event = bad("a9 XYZZY foo")
    assert (event.tag, event.status, event.command) == ("a9", "BAD", None)
