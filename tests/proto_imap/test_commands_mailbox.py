"""Mailbox commands parsed from the examples of their RFCs (RFC 3501
section 6, RFC 9051 section 6, the extension RFCs), plus the grammar's edge cases."""

from __future__ import annotations

import datetime

import pytest

from mesyx.proto.imap import commands as c
from mesyx.proto.imap.parser import CommandReader
from tests.proto_imap.helpers import bad, parse, seq

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
    # Non-canonical modified UTF-7 (RFC 3501 section 5.1.3) cannot create a mailbox; looking
    # one up takes it literally, so it names a mailbox that does not exist (NO, not BAD).
    assert bad("a CREATE Entw&AGE-rfe").command == "CREATE"
    assert bad("a SUBSCRIBE &Jjo!").command == "SUBSCRIBE"
    assert bad("a RENAME x &Jjo!").command == "RENAME"
    assert parse("a SELECT Entw&AGE-rfe").mailbox == "Entw&AGE-rfe"
    assert parse("a STATUS &Jjo! (MESSAGES)").mailbox == "&Jjo!"
    assert parse("a LIST &Jjo! &Jjo!%").patterns == ("&Jjo!%",)
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


